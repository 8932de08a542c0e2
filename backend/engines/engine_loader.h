#pragma once

#include <memory>

#include "engines/engine_runtime.h"

namespace executorch_tensorrt {

// Finds the runtime for the blob's flavour, checks the device and the
// builder/runtime compatibility, deserializes `engine`, and checks that the
// engine has what the blob promises (check_engine_matches_blob,
// engine_compatibility.h). The device check comes first: on a machine
// without a GPU that is the problem to report, whatever built the engine.
Result<std::unique_ptr<Engine>> load_engine(
    const EngineMetadata& metadata,
    const uint8_t* engine,
    size_t engine_size);

} // namespace executorch_tensorrt
