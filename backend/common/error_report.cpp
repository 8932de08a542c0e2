#include "common/error_report.h"

#include <cstdarg>
#include <cstdio>
#include <string>

#include <executorch/runtime/platform/log.h>

namespace executorch_tensorrt {
namespace {
thread_local std::string g_last_error;
} // namespace

Error report_error(Error code, const char* format, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  g_last_error = buffer;
  ET_LOG(Error, "ExecutorchTensorRTBackend: %s", buffer);
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
