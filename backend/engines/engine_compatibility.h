#pragma once

#include <string>

#include "engines/engine_runtime.h"

namespace executorch_tensorrt {

struct CompatibilityVerdict {
  bool compatible = false;
  std::string reason; // empty when compatible
};

// Decides whether a runtime can execute an engine, from their identities
// alone (pure, table-tested). Rules:
//  - the flavours must match (a TensorRT-RTX engine never runs on TensorRT);
//  - a version-compatible engine runs on a runtime of the same major version
//    that is at least as new as the builder;
//  - any other engine needs the same major.minor.patch.
CompatibilityVerdict check_compatibility(
    const EngineIdentity& engine,
    bool engine_version_compatible,
    const EngineIdentity& runtime);

// Ok when `engine` has exactly the blob's tensors (names, input or output,
// dtypes, ranks, static dims) and optimization profiles (count, and each
// input's min and max per profile); else DelegateInvalidCompatibility with
// a message naming the tensor and both sides. What the engine leaves unsaid
// (nullopt dims or profiles) is not compared. Pure, for tables of cases.
Error check_engine_matches_blob(const EngineDescription& engine, const EngineMetadata& blob);

// Parses "1.2.3[.4]" into its first three numbers; false if malformed.
bool parse_version(const std::string& text, int parts[3]);

} // namespace executorch_tensorrt
