# The option table (python/executorch_tensorrt/option_table.py) is the one
# place option keys, values and defaults are written. The delegate's C++
# keys, enums and value lists are generated from it into the build tree, so
# the Python and C++ readers cannot drift apart.
set(ETTRT_OPTION_TABLE "${CMAKE_CURRENT_LIST_DIR}/../python/executorch_tensorrt/option_table.py")
cmake_path(NORMAL_PATH ETTRT_OPTION_TABLE)
set(ETTRT_GENERATED_DIR "${CMAKE_BINARY_DIR}/generated")

# Makes `target` see option_table.h (delegate_options.h includes it),
# generated once per build tree.
function(ettrt_add_option_table target)
  if(NOT TARGET ettrt_option_table)
    add_custom_command(
      OUTPUT "${ETTRT_GENERATED_DIR}/option_table.h"
      COMMAND "${CMAKE_COMMAND}" -E make_directory "${ETTRT_GENERATED_DIR}"
      COMMAND "${Python_EXECUTABLE}" "${ETTRT_OPTION_TABLE}" --cpp-header "${ETTRT_GENERATED_DIR}/option_table.h"
      DEPENDS "${ETTRT_OPTION_TABLE}"
      COMMENT "Generating option_table.h from the option table"
      VERBATIM)
    add_custom_target(ettrt_option_table DEPENDS "${ETTRT_GENERATED_DIR}/option_table.h")
  endif()
  add_dependencies(${target} ettrt_option_table)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${ETTRT_GENERATED_DIR}>)
endfunction()
