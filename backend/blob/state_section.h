#pragma once

// The blob's `state` section (docs/blob_format.md, "Sections"): the mutable
// buffers the delegate owns. Written by exporter/state_section.py.

#include "blob/delegate_blob.h"

namespace executorch_tensorrt {

using executorch::runtime::Error;

// Buffers and weights of one delegate (a model's weights can number thousands).
inline constexpr uint32_t kMaxStatesPerDelegate = 1u << 16;

// Parses `blob`'s state section, if any, into blob.states and each engine's
// EngineMetadata::state_inputs/state_outputs (the buffer's static shape in
// every profile of the engine). Refuses (InvalidProgram, reported) a
// truncated or oversized payload, a count outside 1..65536 (or more entries
// than the payload can hold), unknown dtypes or
// initial-value kinds, a shape whose bytes cannot be counted in 63 bits,
// names that repeat or collide with the delegate's own tensors, and a
// read-only entry (empty output) whose value is not in named data.
Error read_state_section(DelegateBlob& blob);

} // namespace executorch_tensorrt
