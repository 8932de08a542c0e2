#pragma once

#include <executorch/runtime/core/error.h>

namespace executorch_tensorrt {

using executorch::runtime::Error;

// Formats `format`, logs it with ET_LOG(Error), keeps it as this thread's last
// delegate error and returns `code`. ExecuTorch carries only an error code
// across its API; keeping the text lets the Python runtime and the C++ runner
// show the user *why* a load or an execute failed, not just the code.
Error report_error(Error code, const char* format, ...)
    __attribute__((format(printf, 2, 3)));

// The message of the last report_error() on this thread ("" if none).
const char* last_error_message();
void clear_last_error();

} // namespace executorch_tensorrt

// C entry point for hosts that load the delegate library without its headers.
extern "C" const char* executorch_tensorrt_last_error();
