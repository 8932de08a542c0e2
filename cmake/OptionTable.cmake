# The option table (python/executorch_tensorrt/option_table.py) is the one
# place option keys, values and defaults are written. The delegate's C++
# keys, enums and value lists are generated from it into the build tree, so
# the Python and C++ readers cannot drift apart.
set(ETTRT_OPTION_TABLE "${CMAKE_CURRENT_SOURCE_DIR}/python/executorch_tensorrt/option_table.py")
set(ETTRT_GENERATED_DIR "${CMAKE_CURRENT_BINARY_DIR}/generated")
set(ETTRT_OPTION_HEADER "${ETTRT_GENERATED_DIR}/option_table.h")
add_custom_command(
  OUTPUT "${ETTRT_OPTION_HEADER}"
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${ETTRT_GENERATED_DIR}"
  COMMAND "${Python_EXECUTABLE}" "${ETTRT_OPTION_TABLE}" --cpp-header "${ETTRT_OPTION_HEADER}"
  DEPENDS "${ETTRT_OPTION_TABLE}"
  COMMENT "Generating option_table.h from the option table"
  VERBATIM)
target_sources(executorch_tensorrt_delegate PRIVATE "${ETTRT_OPTION_HEADER}")
target_include_directories(executorch_tensorrt_delegate PUBLIC $<BUILD_INTERFACE:${ETTRT_GENERATED_DIR}>)
# delegate_options.h, a seam header, includes it.
install(FILES "${ETTRT_OPTION_HEADER}" DESTINATION ${ETTRT_INCLUDE_DIR})
