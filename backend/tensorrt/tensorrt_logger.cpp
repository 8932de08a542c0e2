#include "tensorrt/tensorrt_logger.h"

#include <executorch/runtime/platform/log.h>

namespace executorch_tensorrt {
namespace tensorrt_adapter {
namespace {
thread_local std::string t_last_error;
} // namespace

void TensorRTLogger::log(Severity severity, const char* msg) noexcept {
  switch (severity) {
    case Severity::kINTERNAL_ERROR:
    case Severity::kERROR:
      t_last_error = msg;
      ET_LOG(Error, "TensorRT: %s", msg);
      break;
    case Severity::kWARNING:
      ET_LOG(Info, "TensorRT warning: %s", msg);
      break;
    default:
      ET_LOG(Debug, "TensorRT: %s", msg);
      break;
  }
}

void TensorRTLogger::clear_last_error() {
  t_last_error.clear();
}

bool TensorRTLogger::has_last_error() const {
  return !t_last_error.empty();
}

std::string TensorRTLogger::take_last_error() {
  std::string out = t_last_error.empty() ? "TensorRT logged no detail" : t_last_error;
  t_last_error.clear();
  return out;
}

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
