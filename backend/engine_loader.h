#pragma once

#include <memory>

#include "engine_runtime.h"

namespace executorch_tensorrt {

// Finds the runtime for the blob's flavour, checks the device and the
// builder/runtime compatibility, deserializes `engine`, and checks that the
// engine has what the blob promises (check_engine_matches_blob). The device
// check comes first: on a machine without a GPU that is the problem to
// report, whatever built the engine.
Result<std::unique_ptr<Engine>> load_engine(
    const EngineMetadata& metadata,
    const uint8_t* engine,
    size_t engine_size);

// Ok when `engine` has exactly the blob's tensors (names, input or output,
// dtypes, ranks, static dims) and optimization profiles (count, and each
// input's min and max per profile); else DelegateInvalidCompatibility with
// a message naming the tensor and both sides. What the engine leaves unsaid
// (nullopt dims or profiles) is not compared. Pure, for tables of cases.
Error check_engine_matches_blob(const EngineDescription& engine, const EngineMetadata& blob);

} // namespace executorch_tensorrt
