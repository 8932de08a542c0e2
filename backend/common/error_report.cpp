#include "common/error_report.h"

#include <cstdarg>
#include <cstdio>
#include <string>

#include <executorch/runtime/platform/log.h>

#include "common/printable_text.h"

namespace executorch_tensorrt {
namespace {
thread_local std::string g_last_error;
} // namespace

Error report_error(Error code, const char* format, ...) {
  // Sized to the message, so a long name never pushes the end of a message
  // ("expected ..., got ...") out of it.
  va_list args;
  va_start(args, format);
  va_list measure;
  va_copy(measure, args);
  const int length = std::vsnprintf(nullptr, 0, format, measure);
  va_end(measure);
  std::string message(length > 0 ? static_cast<size_t>(length) : 0, '\0');
  if (length > 0) {
    std::vsnprintf(message.data(), message.size() + 1, format, args);
  }
  va_end(args);
  // Parts of the message may come from a file: keep it displayable anywhere.
  g_last_error = printable_message(message);
  ET_LOG(Error, "ExecutorchTensorRTBackend: %s", g_last_error.c_str());
  return code;
}

const char* last_error_message() {
  return g_last_error.c_str();
}

void clear_last_error() {
  g_last_error.clear();
}

} // namespace executorch_tensorrt

extern "C" const char* executorch_tensorrt_last_error() {
  return executorch_tensorrt::last_error_message();
}
