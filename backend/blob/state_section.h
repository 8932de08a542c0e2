#pragma once

// The blob's `state` section (docs/blob_format.md, "Sections"): the mutable
// buffers the delegate owns. Written by exporter/state_section.py.

#include "blob/delegate_blob.h"

namespace executorch_tensorrt {

using executorch::runtime::Error;

inline constexpr uint32_t kMaxStatesPerDelegate = 64;

// Parses `blob`'s state section, if any, into blob.states and each engine's
// EngineMetadata::state_inputs/state_outputs (the buffer's static shape in
// every profile of the engine). Refuses (InvalidProgram, reported) a
// truncated or oversized payload, a count outside 1..64, unknown dtypes or
// initial-value kinds, a shape whose bytes cannot be counted in 63 bits, and
// names that repeat or collide with the delegate's own tensors.
Error read_state_section(DelegateBlob& blob);

} // namespace executorch_tensorrt
