#pragma once

// Engines shared by the delegates of one program (any method) whose engine
// bytes are identical: the first to deserialize offers its engine, later
// ones run on a sharer of it (Engine::share_engine: the weights on the
// device once, each its own execution contexts and stream). Keyed by the
// program and the digest the blob records, so no engine byte is read to
// decide; two programs never share. Engines that stream weights are not
// shared (the budget is the engine's, and each delegate has its own).

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engines/engine_runtime.h"

namespace executorch_tensorrt {

struct EngineShareKey {
  uint64_t program = 0; // the program's identity (pool owner: its tag, else its named data map)
  uint8_t flavour = 0;
  int32_t device_index = 0;
  uint64_t digest = 0; // EngineBlob::digest
  size_t size = 0; // the engine's bytes
  bool operator<(const EngineShareKey& other) const;
};

// Offers `engine` (deserialized, kept by its delegate) to later delegates
// with the same key; held weakly, so it goes when its holders let go.
void offer_engine(const EngineShareKey& key, const std::shared_ptr<Engine>& engine);
// A sharer of the live engine offered for `key`; null when there is none,
// it streams weights, or its runtime cannot share.
std::unique_ptr<Engine> share_offered_engine(const EngineShareKey& key);

} // namespace executorch_tensorrt
