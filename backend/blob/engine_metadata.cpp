#include "blob/engine_metadata.h"

#include "common/dtypes.h"

#include <executorch/runtime/core/exec_aten/util/scalar_type_util.h>

namespace executorch_tensorrt {

const char* flavour_name(Flavour flavour) {
  switch (flavour) {
    case Flavour::kTensorRT:
      return "tensorrt";
    case Flavour::kTensorRTRtx:
      return "tensorrt_rtx";
    case Flavour::kTest:
      return "test";
  }
  return "unknown";
}

bool is_known_flavour(uint8_t code) {
  return code == static_cast<uint8_t>(Flavour::kTensorRT) ||
      code == static_cast<uint8_t>(Flavour::kTensorRTRtx) ||
      code == static_cast<uint8_t>(Flavour::kTest);
}

const char* dtype_name(uint8_t scalar_type) {
  return scalar_type_name(scalar_type);
}

bool checked_shape_bytes(const Shape& shape, uint8_t dtype, uint64_t* elements, uint64_t* bytes) {
  constexpr uint64_t kLimit = uint64_t{1} << 63;
  bool empty = false;
  for (uint8_t d = 0; d < shape.rank; ++d) {
    if (shape.dims[d] < 0) {
      return false;
    }
    empty = empty || shape.dims[d] == 0;
  }
  uint64_t count = empty ? 0 : 1;
  for (uint8_t d = 0; d < shape.rank && !empty; ++d) {
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(shape.dims[d]), &count)) {
      return false;
    }
  }
  const auto element = static_cast<uint64_t>(
      executorch::runtime::elementSize(static_cast<executorch::aten::ScalarType>(dtype)));
  uint64_t total = 0;
  if (__builtin_mul_overflow(count, element, &total) || total >= kLimit) {
    return false;
  }
  *elements = count;
  *bytes = total;
  return true;
}

bool Shape::operator==(const Shape& other) const {
  if (rank != other.rank) {
    return false;
  }
  for (uint8_t i = 0; i < rank; ++i) {
    if (dims[i] != other.dims[i]) {
      return false;
    }
  }
  return true;
}

std::string Shape::to_string() const {
  std::string out = "[";
  for (uint8_t i = 0; i < rank; ++i) {
    if (i > 0) {
      out += ", ";
    }
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

bool ShapeRange::contains(const Shape& shape) const {
  if (shape.rank != min.rank) {
    return false;
  }
  for (uint8_t i = 0; i < shape.rank; ++i) {
    if (shape.dims[i] < min.dims[i] || shape.dims[i] > max.dims[i]) {
      return false;
    }
  }
  return true;
}

std::string ShapeRange::to_string() const {
  if (min == max) {
    return min.to_string();
  }
  return min.to_string() + ".." + max.to_string();
}

} // namespace executorch_tensorrt
