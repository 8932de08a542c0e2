#pragma once

#include <cstddef>
#include <cstdint>

#include <executorch/runtime/core/result.h>

#include "engine_metadata.h"

namespace executorch_tensorrt {

using executorch::runtime::Result;

inline constexpr uint16_t kBlobFormatVersion = 1;
inline constexpr size_t kBlobHeaderSize = 40;

// A parsed delegate blob (docs/blob_format.md). The metadata is copied out;
// `engine` points into the parsed buffer, which must outlive its use.
struct DelegateBlob {
  EngineMetadata metadata;
  const uint8_t* engine = nullptr;
  size_t engine_size = 0;
};

// Parses and validates a blob. Every offset and length is bounds-checked
// without overflow; an unknown format version, flavour or dtype is refused.
// On failure returns InvalidProgram (DelegateInvalidCompatibility for a newer
// format version) and records the reason with report_error().
Result<DelegateBlob> parse_delegate_blob(const void* data, size_t size);

} // namespace executorch_tensorrt
