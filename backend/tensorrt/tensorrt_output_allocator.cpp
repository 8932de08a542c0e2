#include "tensorrt/tensorrt_output_allocator.h"

#include "common/error_report.h"

namespace executorch_tensorrt {
namespace tensorrt_adapter {
namespace {

// The shape `bytes` stand for when exactly one dim of `dims` is unknown
// (-1) and the bytes divide evenly; false otherwise.
bool shape_from_bytes(const Shape& dims, uint8_t dtype, uint64_t bytes, Shape* out) {
  Shape probe = dims;
  int unknown = -1;
  for (uint8_t d = 0; d < dims.rank; ++d) {
    if (dims.dims[d] < 0) {
      if (unknown >= 0) {
        return false;
      }
      unknown = d;
      probe.dims[d] = 1;
    }
  }
  uint64_t elements = 0, row_bytes = 0;
  if (unknown < 0 || !checked_shape_bytes(probe, dtype, &elements, &row_bytes) || row_bytes == 0 ||
      bytes % row_bytes != 0) {
    return false;
  }
  probe.dims[unknown] = static_cast<int64_t>(bytes / row_bytes);
  *out = probe;
  return true;
}

} // namespace

void BoundedOutputAllocator::bind(void* memory, uint64_t capacity) {
  memory_ = memory;
  capacity_ = capacity;
  produced_ = ProducedOutput{};
}

void* BoundedOutputAllocator::reallocateOutputAsync(
    char const* tensor_name, void* /*current_memory*/, uint64_t size, uint64_t alignment,
    cudaStream_t /*stream*/) noexcept {
  produced_.reported = true;
  produced_.bytes = size;
  const bool aligned = alignment == 0 || reinterpret_cast<uintptr_t>(memory_) % alignment == 0;
  if (memory_ != nullptr && size <= capacity_ && aligned) {
    return memory_;
  }
  // Refused: enqueueV3 fails and nothing is written. Say what it needed.
  if (!produced_.shape_known) {
    produced_.shape_known = shape_from_bytes(dims_, dtype_, size, &produced_.shape);
  }
  if (size <= capacity_) {
    report_error(
        Error::InvalidArgument, "output '%s': its memory is not %llu-byte aligned, as TensorRT needs",
        tensor_name != nullptr ? tensor_name : "", static_cast<unsigned long long>(alignment));
  }
  return nullptr;
}

void BoundedOutputAllocator::notifyShape(char const* /*tensor_name*/, nvinfer1::Dims const& dims) noexcept {
  if (dims.nbDims < 0 || dims.nbDims > static_cast<int32_t>(kMaxRank)) {
    return;
  }
  produced_.reported = true;
  produced_.shape_known = true;
  produced_.shape.rank = static_cast<uint8_t>(dims.nbDims);
  for (int32_t d = 0; d < dims.nbDims; ++d) {
    produced_.shape.dims[d] = dims.d[d];
  }
  uint64_t elements = 0, bytes = 0;
  if (checked_shape_bytes(produced_.shape, dtype_, &elements, &bytes) && bytes > produced_.bytes) {
    produced_.bytes = bytes;
  }
}

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
