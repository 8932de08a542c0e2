#pragma once

// The dtypes the delegate handles, once: ExecuTorch ScalarType codes (the
// numbers the delegate blob records) and their names. The Python twin is
// python/executorch_tensorrt/dtypes.py (same rows, same order).

#include <cstdint>

namespace executorch_tensorrt {

struct ScalarTypeName {
  uint8_t code;
  const char* name;
};

inline constexpr ScalarTypeName kScalarTypes[] = {
    {6, "float32"}, {5, "float16"}, {15, "bfloat16"}, {3, "int32"}, {4, "int64"},
    {11, "bool"}, {0, "uint8"}, {1, "int8"}, {2, "int16"}, {7, "float64"},
};

// The name of ScalarType `code`, or nullptr for a dtype the delegate does not handle.
inline const char* scalar_type_name(uint8_t code) {
  for (const ScalarTypeName& type : kScalarTypes) {
    if (type.code == code) {
      return type.name;
    }
  }
  return nullptr;
}

} // namespace executorch_tensorrt
