#pragma once

#include <NvInferRuntime.h>

#include <cstdint>

#include "engines/engine_runtime.h"

namespace executorch_tensorrt {
namespace tensorrt_adapter {

// The IOutputAllocator of one output whose shape TensorRT knows only during
// enqueueV3 (a data-dependent shape: getTensorShape reports -1). It never
// grows: TensorRT gets the memory the delegate bound for the output (its
// planned upper bound) when the size it asks for fits, else nullptr, which
// fails enqueueV3 before any kernel writes the output. What TensorRT asked
// for and the shape it notified are the engine's produced_output(). One per
// output per execution context, destroyed after the context (which holds
// its address).
class BoundedOutputAllocator final : public nvinfer1::IOutputAllocator {
 public:
  // `dims`: the output's shape for this call, -1 where data-dependent;
  // `dtype`: its ExecuTorch ScalarType code (to derive the shape from the
  // bytes when TensorRT is refused before it notifies the shape).
  BoundedOutputAllocator(const Shape& dims, uint8_t dtype) : dims_(dims), dtype_(dtype) {}
  BoundedOutputAllocator(const BoundedOutputAllocator&) = delete;
  BoundedOutputAllocator& operator=(const BoundedOutputAllocator&) = delete;

  // Before each enqueue: the memory bound for the output, `capacity` bytes.
  void bind(void* memory, uint64_t capacity);
  // The call's shape with -1 in the data-dependent dims.
  void set_dims(const Shape& dims) {
    dims_ = dims;
  }

  void* reallocateOutputAsync(
      char const* tensor_name, void* current_memory, uint64_t size, uint64_t alignment, cudaStream_t stream) noexcept
      override;
  void notifyShape(char const* tensor_name, nvinfer1::Dims const& dims) noexcept override;

  const ProducedOutput& produced() const {
    return produced_;
  }

 private:
  Shape dims_;
  uint8_t dtype_;
  void* memory_ = nullptr;
  uint64_t capacity_ = 0;
  ProducedOutput produced_;
};

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
