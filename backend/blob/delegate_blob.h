#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <executorch/runtime/core/result.h>

#include "blob/engine_metadata.h"

namespace executorch_tensorrt {

using executorch::runtime::Result;

// docs/blob_format.md: version 1 stores one engine; version 2 is a container
// of version-1 blobs (several engines covering different batch ranges).
inline constexpr uint16_t kEngineBlobFormatVersion = 1;
inline constexpr uint16_t kContainerFormatVersion = 2;
inline constexpr size_t kBlobHeaderSize = 40; // version 1
inline constexpr size_t kContainerHeaderSize = 16; // version 2, before the engine table
inline constexpr size_t kContainerEntrySize = 32;
inline constexpr uint32_t kMaxEnginesPerDelegate = 16;
// Every blob (and every engine entry of a container) starts with this.
inline constexpr char kBlobMagic[4] = {'E', 'T', 'R', 'T'};
// Engines, and container entries, start on this boundary so the engine
// bytes can be handed out zero-copy.
inline constexpr uint64_t kBlobAlignment = 64;

// One engine: its metadata (copied out) and its bytes, which point into the
// parsed buffer and must not outlive it.
struct EngineBlob {
  EngineMetadata metadata;
  const uint8_t* engine = nullptr;
  size_t engine_size = 0;
  // The builder's measure of the engine's execution-context memory need; -1
  // when not known at export (always for version 1).
  int64_t execution_memory_hint = -1;
};

// A delegate's engines, in blob order. They share one I/O signature (checked).
struct DelegateBlob {
  std::vector<EngineBlob> engines;
};

// Parses and validates a version-1 blob (one engine). Every offset and
// length is bounds-checked without overflow; an unknown format version,
// flavour or dtype is refused. On failure returns InvalidProgram
// (DelegateInvalidCompatibility for a newer format version) and records the
// reason with report_error().
Result<EngineBlob> parse_engine_blob(const void* data, size_t size);

// Parses a delegate blob of either version (delegate_blob_container.cpp):
// version 1 gives one engine; version 2 gives every entry's engine, checked
// to agree on flavour, builder version, device and the I/O signature.
Result<DelegateBlob> parse_delegate_blob(const void* data, size_t size);

} // namespace executorch_tensorrt
