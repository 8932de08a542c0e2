// Silences ExecuTorch's log for the fuzzers: every rejected input logs a line
// through report_error(), and writing millions of them to stderr would cost
// most of the run. This strong definition takes the place of the runtime's
// weak one; sanitizer reports do not go through it.

#include <cstddef>

#include <executorch/runtime/platform/platform.h>

extern "C" void et_pal_emit_log_message(
    et_timestamp_t /*timestamp*/,
    et_pal_log_level_t /*level*/,
    const char* /*filename*/,
    const char* /*function*/,
    size_t /*line*/,
    const char* /*message*/,
    size_t /*length*/) {}
