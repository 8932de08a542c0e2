# Finds the TensorRT headers, a TensorRT runtime library and the CUDA runtime
# for the adapter. Sets ETTRT_WITH_TENSORRT and, when ON, the ETTRT_* paths.
#
#   TensorRT_ROOT          TensorRT SDK (or just its headers). Cache var or
#                          env; unset, the headers next to the checkout
#                          (../shared/third_party/tensorrt, as here and in CI).
#   ETTRT_REQUIRE_TENSORRT ON: fail the configure instead of building the
#                          "built without TensorRT" variant.
#
# The runtime library is the full libnvinfer where the SDK has one, else the
# lean runtime from the `tensorrt-lean-cu13-libs` wheel (a build requirement).

get_filename_component(_ettrt_source_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(_ettrt_default_root "$ENV{TensorRT_ROOT}")
if(NOT _ettrt_default_root)
  set(_ettrt_default_root "../shared/third_party/tensorrt")
endif()
set(TensorRT_ROOT "${_ettrt_default_root}" CACHE PATH "TensorRT SDK root (include/NvInfer.h)")
option(ETTRT_REQUIRE_TENSORRT "Fail unless the TensorRT adapter can be built" OFF)
if(TensorRT_ROOT AND NOT IS_ABSOLUTE "${TensorRT_ROOT}")
  # A relative path means relative to the source tree, where `pip install .` runs.
  get_filename_component(TensorRT_ROOT "${TensorRT_ROOT}" ABSOLUTE BASE_DIR "${_ettrt_source_root}")
endif()

set(ETTRT_WITH_TENSORRT OFF)
set(_ettrt_why "")

find_path(ETTRT_TENSORRT_INCLUDE_DIR NvInferRuntime.h
  HINTS "${TensorRT_ROOT}/include" /usr/include/x86_64-linux-gnu /usr/include
  NO_CACHE)
if(NOT ETTRT_TENSORRT_INCLUDE_DIR)
  set(_ettrt_why "no TensorRT headers (NvInferRuntime.h) under TensorRT_ROOT='${TensorRT_ROOT}' or /usr/include")
endif()

if(NOT _ettrt_why)
  find_library(ETTRT_TENSORRT_LIBRARY NAMES nvinfer
    HINTS "${TensorRT_ROOT}/lib" "${TensorRT_ROOT}/lib64" NO_CACHE)
  if(ETTRT_TENSORRT_LIBRARY)
    set(ETTRT_TENSORRT_LIBRARY_NAME "libnvinfer")
  else()
    execute_process(
      COMMAND "${Python_EXECUTABLE}" -c
              "import importlib.util as u; print(u.find_spec('tensorrt_lean_libs').submodule_search_locations[0])"
      OUTPUT_VARIABLE _ettrt_lean_dir OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _ettrt_lean_rc ERROR_QUIET)
    file(GLOB _ettrt_lean_libs "${_ettrt_lean_dir}/libnvinfer_lean.so.*")
    if(_ettrt_lean_rc EQUAL 0 AND _ettrt_lean_libs)
      list(GET _ettrt_lean_libs 0 ETTRT_TENSORRT_LIBRARY)
      set(ETTRT_TENSORRT_LIBRARY_NAME "libnvinfer_lean")
    else()
      set(_ettrt_why "no TensorRT runtime library: neither libnvinfer under TensorRT_ROOT nor the `tensorrt-lean-cu13-libs` wheel")
    endif()
  endif()
endif()

if(NOT _ettrt_why)
  get_filename_component(_ettrt_trt_dir "${ETTRT_TENSORRT_LIBRARY}" DIRECTORY)
  # Relative entry for the wheel next to ours, absolute one for an SDK.
  set(ETTRT_TENSORRT_RPATH "$ORIGIN/../../tensorrt_lean_libs;${_ettrt_trt_dir}")
  # The toolkit, or the `nvidia-cuda-runtime` wheel (site-packages/nvidia/cu13).
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
            "import importlib.util as u, os; print(';'.join(os.path.join(p, 'cu13') for p in u.find_spec('nvidia').submodule_search_locations))"
    OUTPUT_VARIABLE _ettrt_cuda_wheel_dirs OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  set(_ettrt_cuda_hints "$ENV{CUDA_HOME}" "$ENV{CUDA_PATH}" /usr/local/cuda ${_ettrt_cuda_wheel_dirs})
  find_path(ETTRT_CUDA_INCLUDE_DIR cuda_runtime_api.h
    HINTS ${_ettrt_cuda_hints} PATH_SUFFIXES include NO_CACHE)
  find_library(ETTRT_CUDART_LIBRARY NAMES cudart libcudart.so.13
    HINTS ${_ettrt_cuda_hints} PATH_SUFFIXES lib64 lib NO_CACHE)
  if(NOT ETTRT_CUDA_INCLUDE_DIR OR NOT ETTRT_CUDART_LIBRARY)
    set(_ettrt_why "no CUDA runtime (cuda_runtime_api.h and libcudart) under CUDA_HOME, /usr/local/cuda or the nvidia-cuda-runtime wheel")
  else()
    get_filename_component(_ettrt_cudart_dir "${ETTRT_CUDART_LIBRARY}" DIRECTORY)
    set(ETTRT_CUDART_RPATH "$ORIGIN/../../nvidia/cu13/lib;${_ettrt_cudart_dir}")
  endif()
endif()

if(_ettrt_why)
  if(ETTRT_REQUIRE_TENSORRT)
    message(FATAL_ERROR "TensorRT adapter required but ${_ettrt_why}")
  endif()
  message(WARNING "Building executorch-tensorrt WITHOUT TensorRT: ${_ettrt_why}. "
                  "The delegate will register but fail init() with 'built without TensorRT'.")
else()
  set(ETTRT_WITH_TENSORRT ON)
  file(STRINGS "${ETTRT_TENSORRT_INCLUDE_DIR}/NvInferVersion.h" _ettrt_ver_lines
       REGEX "define TRT_(MAJOR|MINOR|PATCH)_ENTERPRISE")
  string(REGEX MATCHALL "[0-9]+" ETTRT_TENSORRT_HEADER_VERSION "${_ettrt_ver_lines}")
  list(JOIN ETTRT_TENSORRT_HEADER_VERSION "." ETTRT_TENSORRT_HEADER_VERSION)
  message(STATUS "TensorRT headers ${ETTRT_TENSORRT_HEADER_VERSION}: ${ETTRT_TENSORRT_INCLUDE_DIR}")
  message(STATUS "TensorRT runtime: ${ETTRT_TENSORRT_LIBRARY}")
  message(STATUS "CUDA runtime: ${ETTRT_CUDART_LIBRARY}")
endif()
if(ETTRT_WITH_TENSORRT)
  set(ETTRT_WITH_TENSORRT_PY True)
else()
  set(ETTRT_WITH_TENSORRT_PY False)
endif()
set(ETTRT_WITHOUT_TENSORRT_REASON "${_ettrt_why}")
