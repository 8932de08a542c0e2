#pragma once

#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "../support/runtime_reporting.h"

namespace executorch_tensorrt {

// Throws the failure as RuntimeError (pybind11 translates it); the Python
// layer re-raises it as DelegateError with the delegate's reason.
[[noreturn]] inline void raise_error(const std::string& what, executorch::runtime::Error error) {
  throw std::runtime_error(describe_failure(what, error));
}

// Bytes that came from a file as str: invalid UTF-8 becomes replacement
// characters instead of a UnicodeDecodeError in the caller.
inline pybind11::str text(const std::string& bytes) {
  PyObject* decoded = PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), "replace");
  if (decoded == nullptr) {
    throw pybind11::error_already_set();
  }
  return pybind11::reinterpret_steal<pybind11::str>(decoded);
}

} // namespace executorch_tensorrt
