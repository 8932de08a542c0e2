#include "engines/delegate_metadata.h"

#include <limits>

namespace executorch_tensorrt {

DelegateMetadata combine_engines(const DelegateBlob& blob) {
  DelegateMetadata combined;
  combined.io = blob.engines.at(0).metadata;
  combined.io.num_profiles = 0;
  for (TensorSpec& spec : combined.io.inputs) {
    spec.ranges.clear();
  }
  for (TensorSpec& spec : combined.io.outputs) {
    spec.ranges.clear();
  }
  for (uint32_t e = 0; e < blob.engines.size(); ++e) {
    const EngineMetadata& engine = blob.engines[e].metadata;
    combined.engines.push_back(engine);
    combined.execution_memory_hints.push_back(blob.engines[e].execution_memory_hint);
    for (uint32_t p = 0; p < engine.num_profiles; ++p) {
      combined.slots.push_back(ProfileSlot{e, p});
      for (size_t i = 0; i < engine.inputs.size(); ++i) {
        combined.io.inputs[i].ranges.push_back(engine.inputs[i].ranges[p]);
      }
      for (size_t i = 0; i < engine.outputs.size(); ++i) {
        combined.io.outputs[i].ranges.push_back(engine.outputs[i].ranges[p]);
      }
    }
    combined.io.num_profiles += engine.num_profiles;
  }
  return combined;
}

DelegateMetadata single_engine(const EngineMetadata& metadata) {
  DelegateBlob blob;
  blob.engines.push_back(EngineBlob{metadata, nullptr, 0, -1});
  return combine_engines(blob);
}

uint64_t slot_capacity(const EngineMetadata& io, uint32_t slot) {
  constexpr uint64_t kSaturated = std::numeric_limits<uint64_t>::max();
  uint64_t total = 0;
  for (const TensorSpec& spec : io.inputs) {
    const Shape& max = spec.ranges[slot].max;
    uint64_t elements = 1;
    for (uint8_t d = 0; d < max.rank; ++d) {
      const uint64_t dim = max.dims[d] < 0 ? 0 : static_cast<uint64_t>(max.dims[d]);
      // Saturate: a blob may claim huge ranges; the order still holds.
      elements = (dim != 0 && elements > kSaturated / dim) ? kSaturated : elements * dim;
    }
    total = total > kSaturated - elements ? kSaturated : total + elements;
  }
  return total;
}

std::optional<uint32_t> choose_slot(const EngineMetadata& io, executorch::runtime::Span<const Shape> input_shapes) {
  std::optional<uint32_t> best;
  uint64_t best_capacity = 0;
  for (uint32_t slot = 0; slot < io.num_profiles; ++slot) {
    bool fits = true;
    for (size_t i = 0; i < io.inputs.size() && fits; ++i) {
      fits = io.inputs[i].ranges[slot].contains(input_shapes[i]);
    }
    if (!fits) {
      continue;
    }
    const uint64_t capacity = slot_capacity(io, slot);
    if (!best.has_value() || capacity < best_capacity) {
      best = slot;
      best_capacity = capacity;
    }
  }
  return best;
}

} // namespace executorch_tensorrt
