#include "tensorrt_logger.h"

#include <executorch/runtime/platform/log.h>

namespace executorch_tensorrt {
namespace tensorrt_adapter {

void TensorRTLogger::log(Severity severity, const char* msg) noexcept {
  switch (severity) {
    case Severity::kINTERNAL_ERROR:
    case Severity::kERROR: {
      std::lock_guard<std::mutex> lock(mutex_);
      last_error_ = msg;
      ET_LOG(Error, "TensorRT: %s", msg);
      break;
    }
    case Severity::kWARNING:
      ET_LOG(Info, "TensorRT warning: %s", msg);
      break;
    default:
      ET_LOG(Debug, "TensorRT: %s", msg);
      break;
  }
}

std::string TensorRTLogger::take_last_error() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = last_error_.empty() ? "TensorRT logged no detail" : last_error_;
  last_error_.clear();
  return out;
}

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
