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

// The names of the state buffers the program's delegates own
// (backend/state/delegate_state.h), and one buffer's bytes now as
// (bytes, ScalarType code, shape); an unknown name raises, naming the known.
pybind11::list program_state_buffers(int64_t tag);
pybind11::tuple read_program_state_bytes(int64_t tag, const std::string& name);

} // namespace executorch_tensorrt
