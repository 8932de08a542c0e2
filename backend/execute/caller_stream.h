#pragma once

// The caller's CUDA stream for delegate calls on this thread.
//
//   executorch_tensorrt::CallerStreamGuard guard(stream); // a cudaStream_t
//   module.forward(inputs);
//
// While a guard is alive, every ExecutorchTensorRTBackend call on this
// thread runs on `stream` (a stream of the engine's device, owned by the
// caller; the legacy default stream 0 counts as a stream). A call whose
// inputs and outputs are all device tensors then only enqueues its work and
// returns without waiting for the GPU: its outputs are ready in `stream`'s
// order, so work the caller enqueues on `stream` afterwards may read them,
// and the caller must not change its inputs or reuse its outputs from
// another stream, or the host, before `stream` has passed the call (an event
// or a synchronize). A call with host tensors still returns finished outputs.
// Without a guard, calls run on each engine's own stream and return finished.
//
// The handle is opaque here (no CUDA header): a cudaStream_t converts to it.
// ExecuTorch 1.5.1, which this package builds against, has no
// executorch/extension/cuda/caller_stream.h; the guard is this delegate's.

namespace executorch_tensorrt {

// A stream chosen by the caller; `given` is false when none is.
struct CallerStream {
  bool given = false;
  void* handle = nullptr; // a cudaStream_t
};

// The stream the innermost guard alive on this thread chose.
CallerStream current_caller_stream();

class CallerStreamGuard {
 public:
  explicit CallerStreamGuard(void* stream);
  ~CallerStreamGuard();
  CallerStreamGuard(const CallerStreamGuard&) = delete;
  CallerStreamGuard& operator=(const CallerStreamGuard&) = delete;

 private:
  CallerStream previous_;
};

} // namespace executorch_tensorrt
