#pragma once

#include <NvInferRuntime.h>

#include <string>

namespace executorch_tensorrt {
namespace tensorrt_adapter {

// Routes TensorRT's log to ExecuTorch's and keeps the last error of each
// thread (TensorRT logs on the calling thread), so a failed deserialization or
// enqueue can say why without picking up another thread's message.
class TensorRTLogger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* msg) noexcept override;

  // Forgets this thread's last error; call before the TensorRT call whose
  // failure take_last_error() will explain.
  void clear_last_error();

  // Whether TensorRT logged an error on this thread since clear_last_error():
  // how calls that return nothing (setDeviceMemoryV2) report a refusal.
  bool has_last_error() const;

  // This thread's last error since clear_last_error(), or a placeholder.
  std::string take_last_error();
};

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
