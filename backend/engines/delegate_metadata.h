#pragma once

// A delegate's engines seen as one. A delegate may hold several engines
// covering different batch ranges (batch-aware engine reuse); each engine
// may have several optimization profiles. Every (engine, profile) pair is a
// "slot"; the executor picks one per call.

#include <cstdint>
#include <optional>
#include <vector>

#include <executorch/runtime/core/span.h>

#include "blob/delegate_blob.h"
#include "blob/engine_metadata.h"

namespace executorch_tensorrt {

struct ProfileSlot {
  uint32_t engine = 0;
  uint32_t profile = 0; // within the engine
};

struct DelegateMetadata {
  // The shared signature. Each tensor's `ranges` lists every slot's range in
  // slot order (engine 0's profiles, then engine 1's, ...), and
  // `num_profiles` is the number of slots, so argument checks and messages
  // see every shape the delegate accepts.
  EngineMetadata io;
  std::vector<EngineMetadata> engines; // each engine's own metadata, for its runtime
  std::vector<ProfileSlot> slots;
  std::vector<int64_t> execution_memory_hints; // per engine, from the blob (-1: unknown)
};

// Combines the parsed engines (which share their signature, checked by the
// parser) into one view.
DelegateMetadata combine_engines(const DelegateBlob& blob);

// A delegate of one engine (tests, harnesses and benchmarks that drive an
// executor directly).
DelegateMetadata single_engine(const EngineMetadata& metadata);

// The product of the `max` dims of every input in slot `slot`, summed over
// the inputs: how large a request the slot is built for.
uint64_t slot_capacity(const EngineMetadata& io, uint32_t slot);

// The slot to run `input_shapes` with: among the slots whose ranges hold
// every input at once, the one built for the smallest requests
// (slot_capacity), the first in slot order on a tie; nullopt when none holds
// them all. Pure, for tables of cases.
std::optional<uint32_t> choose_slot(const EngineMetadata& io, executorch::runtime::Span<const Shape> input_shapes);

} // namespace executorch_tensorrt
