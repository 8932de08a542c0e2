#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "../support/backend_option_list.h"

namespace executorch_tensorrt {

// {"key": str | int | bool} as ExecuTorch backend options for `backend_id`
// (named in messages). Raises TypeError/ValueError naming the key.
BackendOptionList to_option_list(const std::string& backend_id, const pybind11::dict& options);

} // namespace executorch_tensorrt
