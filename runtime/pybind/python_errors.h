#pragma once

#include <stdexcept>
#include <string>

#include "../support/runtime_reporting.h"

namespace executorch_tensorrt {

// Throws the failure as RuntimeError (pybind11 translates it); the Python
// layer re-raises it as DelegateError with the delegate's reason.
[[noreturn]] inline void raise_error(const std::string& what, executorch::runtime::Error error) {
  throw std::runtime_error(describe_failure(what, error));
}

} // namespace executorch_tensorrt
