# The delegate library and its TensorRT adapter, defined once for the package
# build (CMakeLists.txt) and the C++ tests (tests/CMakeLists.txt), which
# compile them from these sources instead of relying on installed internal
# headers. Needs Python_EXECUTABLE and ExecuTorch (cmake/executorch.cmake).
include(${CMAKE_CURRENT_LIST_DIR}/TensorRT.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/OptionTable.cmake)

set(ETTRT_BACKEND_DIR "${CMAKE_CURRENT_LIST_DIR}/../backend")
cmake_path(NORMAL_PATH ETTRT_BACKEND_DIR)

# The seam headers: all an engine runtime built out of tree (tests/engine)
# needs, and the only headers the package installs.
set(ETTRT_SEAM_HEADERS
  engines/engine_runtime.h engines/engine_runtime_registry.h
  blob/engine_metadata.h common/error_report.h execute/caller_stream.h)

# Adds the SHARED delegate library `target` (registration, blob reader,
# options, engines, execute path) and, when TensorRT was found, the SHARED
# adapter `adapter_target`, which the delegate loads from its own directory.
function(ettrt_add_delegate_library target adapter_target)
  add_library(${target} SHARED)
  target_sources(${target} PRIVATE
    ${ETTRT_BACKEND_DIR}/backend_registration.cpp
    ${ETTRT_BACKEND_DIR}/blob/delegate_blob.cpp
    ${ETTRT_BACKEND_DIR}/blob/engine_metadata.cpp
    ${ETTRT_BACKEND_DIR}/blob/state_section.cpp
    ${ETTRT_BACKEND_DIR}/state/delegate_state.cpp
    ${ETTRT_BACKEND_DIR}/common/error_report.cpp
    ${ETTRT_BACKEND_DIR}/common/printable_text.cpp
    ${ETTRT_BACKEND_DIR}/control/delegate_control.cpp
    ${ETTRT_BACKEND_DIR}/control/delegate_registry.cpp
    ${ETTRT_BACKEND_DIR}/control/program_tag.cpp
    ${ETTRT_BACKEND_DIR}/control/report_fields.cpp
    ${ETTRT_BACKEND_DIR}/engines/deferred_engine.cpp
    ${ETTRT_BACKEND_DIR}/engines/delegate_init.cpp
    ${ETTRT_BACKEND_DIR}/engines/delegate_metadata.cpp
    ${ETTRT_BACKEND_DIR}/engines/delegate_sharing.cpp
    ${ETTRT_BACKEND_DIR}/engines/engine_compatibility.cpp
    ${ETTRT_BACKEND_DIR}/engines/engine_loader.cpp
    ${ETTRT_BACKEND_DIR}/engines/engine_runtime_registry.cpp
    ${ETTRT_BACKEND_DIR}/engines/engine_set.cpp
    ${ETTRT_BACKEND_DIR}/engines/external_weights.cpp
    ${ETTRT_BACKEND_DIR}/engines/named_data.cpp
    ${ETTRT_BACKEND_DIR}/engines/shared_engines.cpp
    ${ETTRT_BACKEND_DIR}/execute/caller_stream.cpp
    ${ETTRT_BACKEND_DIR}/execute/cuda_graph_cache.cpp
    ${ETTRT_BACKEND_DIR}/engines/loaded_delegate.cpp
    ${ETTRT_BACKEND_DIR}/execute/delegate_executor.cpp
    ${ETTRT_BACKEND_DIR}/memory/execution_memory_pool.cpp
    ${ETTRT_BACKEND_DIR}/memory/staging_buffers.cpp
    ${ETTRT_BACKEND_DIR}/options/delegate_options.cpp
    ${ETTRT_BACKEND_DIR}/options/weight_streaming_budget.cpp
    ${ETTRT_BACKEND_DIR}/tensorrt_backend.cpp)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${ETTRT_BACKEND_DIR}>)
  target_link_libraries(${target} PUBLIC executorch::runtime PRIVATE ${CMAKE_DL_LIBS})
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  ettrt_add_option_table(${target})
  target_compile_definitions(${target} PRIVATE
    EXECUTORCH_TENSORRT_WITH_TENSORRT=$<BOOL:${ETTRT_WITH_TENSORRT}>)
  if(NOT ETTRT_WITH_TENSORRT)
    return()
  endif()
  get_filename_component(_trt_file "${ETTRT_TENSORRT_LIBRARY}" NAME)
  get_filename_component(_cudart_file "${ETTRT_CUDART_LIBRARY}" NAME)
  target_compile_definitions(${target} PRIVATE
    EXECUTORCH_TENSORRT_RUNTIME_LIBRARY_FILE="${_trt_file}"
    EXECUTORCH_TENSORRT_CUDART_FILE="${_cudart_file}")

  add_library(${adapter_target} SHARED
    ${ETTRT_BACKEND_DIR}/tensorrt/cuda_device_allocator.cpp
    ${ETTRT_BACKEND_DIR}/tensorrt/tensorrt_engine.cpp
    ${ETTRT_BACKEND_DIR}/tensorrt/tensorrt_engine_graphs.cpp
    ${ETTRT_BACKEND_DIR}/tensorrt/tensorrt_engine_lifecycle.cpp
    ${ETTRT_BACKEND_DIR}/tensorrt/tensorrt_engine_runtime.cpp
    ${ETTRT_BACKEND_DIR}/tensorrt/tensorrt_refit.cpp
    ${ETTRT_BACKEND_DIR}/tensorrt/tensorrt_logger.cpp
    ${ETTRT_BACKEND_DIR}/tensorrt/tensorrt_output_allocator.cpp)
  # The file name the delegate looks for (kAdapterLibraryName).
  set_target_properties(${adapter_target} PROPERTIES OUTPUT_NAME executorch_tensorrt_adapter)
  target_include_directories(${adapter_target} SYSTEM PRIVATE
    ${ETTRT_TENSORRT_INCLUDE_DIR} ${ETTRT_CUDA_INCLUDE_DIR})
  target_link_libraries(${adapter_target} PRIVATE
    ${target} ${ETTRT_TENSORRT_LIBRARY} ${ETTRT_CUDART_LIBRARY})
  target_compile_definitions(${adapter_target} PRIVATE
    EXECUTORCH_TENSORRT_RUNTIME_LIBRARY="${ETTRT_TENSORRT_LIBRARY_NAME}")
  # TensorRT headers trip -Wextra in places we do not own.
  target_compile_options(${adapter_target} PRIVATE -Wall)
  # Fail the build, not the user's process, on a symbol the library lacks.
  target_link_options(${adapter_target} PRIVATE -Wl,--no-undefined)
endfunction()
