#pragma once

#include <NvInferRuntime.h>

#include <mutex>
#include <string>

namespace executorch_tensorrt {
namespace tensorrt_adapter {

// Routes TensorRT's log to ExecuTorch's and keeps the last error, so a failed
// deserialization or enqueue can say why.
class TensorRTLogger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* msg) noexcept override;

  // The last error TensorRT logged since the previous call, or a placeholder.
  std::string take_last_error();

 private:
  std::mutex mutex_;
  std::string last_error_;
};

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
