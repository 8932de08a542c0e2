#pragma once

// The Python face of set_option()/get_option() for one loaded program: each
// call goes through ExecuTorch's own backend-option API, restricted to the
// program by its tag (backend/control/program_tag.h).

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace executorch_tensorrt {

// Applies {key: str | int | bool} to every delegate of program `tag`.
void set_program_options(int64_t tag, const pybind11::dict& options);

// {key: str} answers for the delegates of program `tag` (comma-separated per
// delegate, in load order).
pybind11::dict get_program_options(int64_t tag, const std::vector<std::string>& keys);

// One dict per delegate of program `tag`: state, device bytes, budget and its
// source, policies, init time.
pybind11::list program_delegate_reports(int64_t tag);

} // namespace executorch_tensorrt
