#pragma once

// The delegate blob (docs/blob_format.md, format version 4): one header, one
// signature shared by every engine, an engine table (per engine: its
// profiles' shape ranges, where its bytes lie, what the builder measured) and
// tagged sections (what a delegate needs beyond its engines).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <executorch/runtime/core/result.h>

#include "blob/engine_metadata.h"

namespace executorch_tensorrt {

using executorch::runtime::Result;

inline constexpr uint16_t kBlobFormatVersion = 4;
inline constexpr size_t kBlobHeaderSize = 16;
inline constexpr size_t kBlobEngineEntrySize = 48; // before the entry's shape ranges
inline constexpr uint32_t kMaxEnginesPerDelegate = 16;
inline constexpr uint32_t kMaxBlobSections = 16;
inline constexpr char kBlobMagic[4] = {'E', 'T', 'R', 'T'};
// Engine bytes start on this boundary so they can be handed out zero-copy.
inline constexpr uint64_t kBlobAlignment = 64;

inline constexpr uint32_t kMaxNamedEngineKeyBytes = 256;

// One engine: its metadata (the shared signature with this engine's ranges,
// copied out) and its bytes, which point into the parsed buffer and must not
// outlive it; or, for an engine kept in the program's named data
// (`named_engines` section), its key there (`engine` is null and
// `engine_size` the size the named data must have).
struct EngineBlob {
  EngineMetadata metadata;
  const uint8_t* engine = nullptr;
  size_t engine_size = 0;
  // What the builder measured: the execution-context memory need and the
  // weight bytes; -1 when not known at export.
  int64_t execution_memory_hint = -1;
  int64_t weight_bytes = -1;
  std::string named_key; // empty: the bytes are in the blob
  // The first 8 bytes of the engine's SHA-256 as the exporter recorded them;
  // 0: not recorded. Identifies the engine without reading it (sharing).
  uint64_t digest = 0;
};

// What a section holds (docs/blob_format.md, "Sections"); the same codes as
// exporter/blob.py's SectionKind. A reader refuses a kind it does not know.
enum class BlobSectionKind : uint32_t {
  kState = 1, // mutable buffers the delegate owns
  kNamedEngines = 2, // engine bytes kept in the program's named data
  kExternalWeights = 3, // engine weights kept in named data, refitted at init
};
inline constexpr uint32_t kLastBlobSectionKind = 3;

// A section's payload points into the parsed buffer and must not outlive it.
struct BlobSection {
  BlobSectionKind kind = BlobSectionKind::kState;
  const uint8_t* payload = nullptr;
  size_t size = 0;
};

// Where a state buffer's initial value is (docs/blob_format.md, "state").
enum class StateInitialValue : uint8_t {
  kZeros = 0, // every byte 0
  kNamedData = 1, // the bytes under `initial_key` in the program's named data
};

// One mutable buffer the delegate owns (section `state`): `name` is the
// buffer's fully qualified name in the model; every engine reads it as
// EngineMetadata::state_inputs[k] and writes it as the next of
// state_outputs. A `read_only` one (no output in the section) is a weight the
// engine takes as an input (external_weights without a refit): read from
// the named data once, never written.
struct StateSpec {
  std::string name;
  uint8_t dtype = 0;
  Shape shape;
  uint64_t nbytes = 0; // counted without overflow (< 2^63)
  bool read_only = false;
  StateInitialValue initial = StateInitialValue::kZeros;
  std::string initial_key;
};

// One weight the delegate's engines were built without (section
// external_weights): the engine's name for it (TensorRT's refit name), the
// program's named-data key holding it (a .ptd), and what those bytes must be.
inline constexpr uint32_t kMaxExternalWeights = 1u << 20;
inline constexpr uint32_t kMaxExternalWeightKeyBytes = 2048;
struct ExternalWeightSpec {
  std::string name;
  std::string key;
  uint8_t dtype = 0; // ExecuTorch ScalarType code
  Shape shape;
  uint64_t nbytes = 0; // elements of `shape` times the dtype's size, < 2^63
};

// A delegate's engines, in blob order; they share one signature by
// construction (the blob stores it once). Each section kind at most once.
struct DelegateBlob {
  std::vector<EngineBlob> engines;
  std::vector<BlobSection> sections;
  std::vector<StateSpec> states; // from section `state` (blob/state_section.h), in its order
  // The external_weights section's entries (empty without one), checked.
  std::vector<ExternalWeightSpec> external_weights;
  size_t metadata_end = 0; // header + metadata bytes: everything but inline engine bytes

  // The section of `kind`, or null when the blob has none.
  const BlobSection* section(BlobSectionKind kind) const;
};

// Parses and validates a delegate blob. Every offset, length, count and size
// is bounds- or overflow-checked; another format version, an unknown flavour
// or dtype, or a tensor whose largest shape holds 2^63 bytes or more is
// refused. On failure returns InvalidProgram (DelegateInvalidCompatibility for
// a newer format version) and records the reason with report_error().
Result<DelegateBlob> parse_delegate_blob(const void* data, size_t size);

} // namespace executorch_tensorrt
