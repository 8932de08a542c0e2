# Finds ExecuTorch's CMake package inside the installed `executorch` wheel
# (no source build). find_spec locates the package directory without running
# it: importing executorch would import torch, which a build environment need
# not have. Needs Python_EXECUTABLE (find_package(Python) first).
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c
          "import importlib.util as u; s = u.find_spec('executorch'); print(s.submodule_search_locations[0] if s else '')"
  OUTPUT_VARIABLE ETTRT_EXECUTORCH_ROOT OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT ETTRT_EXECUTORCH_ROOT)
  message(FATAL_ERROR "No `executorch` package for ${Python_EXECUTABLE}: "
                      "`pip install executorch==1.5.1` (pyproject.toml's build requirements have it).")
endif()
list(APPEND CMAKE_PREFIX_PATH "${ETTRT_EXECUTORCH_ROOT}")
find_package(executorch CONFIG REQUIRED)
message(STATUS "ExecuTorch: ${ETTRT_EXECUTORCH_ROOT} (${EXECUTORCH_BUILD_VERSION})")
