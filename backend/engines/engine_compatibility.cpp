#include "engines/engine_compatibility.h"

#include <cstdlib>

#include "common/error_report.h"
#include "common/printable_text.h"

namespace executorch_tensorrt {

bool parse_version(const std::string& text, int parts[3]) {
  const char* p = text.c_str();
  for (int i = 0; i < 3; ++i) {
    if (*p < '0' || *p > '9') {
      return false;
    }
    char* end = nullptr;
    const long value = std::strtol(p, &end, 10);
    if (value > 1000000) {
      return false;
    }
    parts[i] = static_cast<int>(value);
    p = end;
    if (i < 2) {
      if (*p != '.') {
        return false;
      }
      ++p;
    }
  }
  return *p == '\0' || *p == '.';
}

namespace {

std::string describe(const EngineIdentity& id) {
  return std::string(flavour_name(id.flavour)) + " " + id.version;
}

std::string rebuild_hint(const EngineIdentity& runtime) {
  return "re-export the model with the " + std::string(flavour_name(runtime.flavour)) +
      " " + runtime.version +
      " builder (for the lean runtime, with version_compatible=True)";
}

} // namespace

CompatibilityVerdict check_compatibility(
    const EngineIdentity& engine,
    bool engine_version_compatible,
    const EngineIdentity& runtime) {
  CompatibilityVerdict verdict;
  const std::string both = "engine built by " + describe(engine) +
      ", this delegate runs " + describe(runtime);
  if (engine.flavour != runtime.flavour) {
    verdict.reason = "builder flavour mismatch: " + both + "; " + rebuild_hint(runtime);
    return verdict;
  }
  int built[3];
  int running[3];
  if (!parse_version(engine.version, built)) {
    verdict.reason = "unreadable builder version '" + engine.version + "' in the delegate blob";
    return verdict;
  }
  if (!parse_version(runtime.version, running)) {
    verdict.reason = "unreadable runtime version '" + runtime.version + "'";
    return verdict;
  }
  if (engine_version_compatible) {
    const bool same_major = built[0] == running[0];
    const bool runtime_not_older = running[1] > built[1] ||
        (running[1] == built[1] && running[2] >= built[2]);
    if (!same_major || !runtime_not_older) {
      verdict.reason = "version mismatch: " + both +
          "; a version-compatible engine needs a runtime of the same major version, at least as new as its builder; " +
          rebuild_hint(runtime);
      return verdict;
    }
  } else if (built[0] != running[0] || built[1] != running[1] || built[2] != running[2]) {
    verdict.reason = "version mismatch: " + both +
        "; an engine built without version compatibility runs only on the exact version that built it; " +
        rebuild_hint(runtime);
    return verdict;
  }
  verdict.compatible = true;
  return verdict;
}

namespace {

std::string quoted(const std::string& name) {
  return printable_quoted(name.data(), name.size());
}

const char* dtype_text(uint8_t code) {
  const char* name = dtype_name(code);
  return name != nullptr ? name : "a dtype ExecuTorch has no ScalarType for";
}

Error mismatch(const std::string& what) {
  return report_error(
      Error::DelegateInvalidCompatibility,
      "the engine does not match its delegate blob: %s; re-export the model",
      what.c_str());
}

std::string range_text(const ShapeRange& range) {
  return range.min.to_string() + ".." + range.max.to_string();
}

// A dim the engine fixes must be that size in every profile of the blob.
Error check_dims(const TensorDescription& engine, const TensorSpec& blob) {
  const Shape& dims = *engine.dims;
  const uint8_t rank = blob.ranges.empty() ? 0 : blob.ranges[0].min.rank;
  if (dims.rank != rank) {
    return mismatch(
        "tensor " + quoted(blob.name) + " has rank " + std::to_string(rank) + " in the blob, the engine has " +
        dims.to_string() + " (rank " + std::to_string(dims.rank) + ")");
  }
  for (size_t p = 0; p < blob.ranges.size(); ++p) {
    for (uint8_t d = 0; d < rank; ++d) {
      const ShapeRange& range = blob.ranges[p];
      if (dims.dims[d] >= 0 && (range.min.dims[d] != dims.dims[d] || range.max.dims[d] != dims.dims[d])) {
        return mismatch(
            "tensor " + quoted(blob.name) + " dim " + std::to_string(d) + " is " + std::to_string(dims.dims[d]) +
            " in the engine (shape " + dims.to_string() + "), the blob allows " + range_text(range) +
            " in profile " + std::to_string(p));
      }
    }
  }
  return Error::Ok;
}

Error check_profiles(const TensorDescription& engine, const TensorSpec& blob) {
  if (engine.profiles.size() != blob.ranges.size()) {
    return mismatch(
        "input " + quoted(blob.name) + " has " + std::to_string(engine.profiles.size()) +
        " profile ranges in the engine, " + std::to_string(blob.ranges.size()) + " in the blob");
  }
  // opt only tunes the engine; min and max decide which calls it accepts.
  for (size_t p = 0; p < blob.ranges.size(); ++p) {
    const ShapeRange& mine = engine.profiles[p];
    const ShapeRange& theirs = blob.ranges[p];
    if (!(mine.min == theirs.min) || !(mine.max == theirs.max)) {
      return mismatch(
          "input " + quoted(blob.name) + " profile " + std::to_string(p) + " accepts " + range_text(mine) +
          " in the engine, " + range_text(theirs) + " in the blob");
    }
  }
  return Error::Ok;
}

Error check_tensor(const EngineDescription& engine, const TensorSpec& blob, bool is_input) {
  const char* role = is_input ? "input" : "output";
  const TensorDescription* found = nullptr;
  std::string names;
  for (const TensorDescription& tensor : engine.tensors) {
    names += (names.empty() ? "" : ", ") + quoted(tensor.name);
    found = tensor.name == blob.name ? &tensor : found;
  }
  if (found == nullptr) {
    return mismatch(
        std::string("the blob's ") + role + " " + quoted(blob.name) + " is not a tensor of the engine (it has " +
        names + ")");
  }
  if (found->is_input != is_input) {
    return mismatch(
        "tensor " + quoted(blob.name) + " is an " + role + " in the blob, an " +
        (found->is_input ? "input" : "output") + " of the engine");
  }
  if (found->dtype != blob.dtype) {
    return mismatch(
        std::string(role) + " " + quoted(blob.name) + " is " + dtype_text(blob.dtype) + " in the blob, " +
        dtype_text(found->dtype) + " in the engine");
  }
  Error err = found->dims.has_value() ? check_dims(*found, blob) : Error::Ok;
  if (err == Error::Ok && is_input && !found->profiles.empty()) {
    err = check_profiles(*found, blob);
  }
  return err;
}

} // namespace

Error check_engine_matches_blob(const EngineDescription& engine, const EngineMetadata& blob) {
  if (engine.num_profiles.has_value() && *engine.num_profiles != blob.num_profiles) {
    return mismatch(
        "the engine has " + std::to_string(*engine.num_profiles) + " optimization profiles, the blob records " +
        std::to_string(blob.num_profiles));
  }
  const size_t states = blob.state_inputs.size() + blob.state_outputs.size();
  const size_t expected = blob.inputs.size() + blob.outputs.size() + states;
  if (engine.tensors.size() != expected) {
    return mismatch(
        "the engine has " + std::to_string(engine.tensors.size()) + " I/O tensors, the blob records " +
        std::to_string(expected) + " (" + std::to_string(blob.inputs.size()) + " inputs, " +
        std::to_string(blob.outputs.size()) + " outputs, " + std::to_string(states) + " for owned state)");
  }
  // A state tensor's dtype and shape are the buffer's (section `state`).
  for (const auto* list : {&blob.inputs, &blob.outputs, &blob.state_inputs, &blob.state_outputs}) {
    for (const TensorSpec& spec : *list) {
      Error err = check_tensor(engine, spec, list == &blob.inputs || list == &blob.state_inputs);
      if (err != Error::Ok) {
        return err;
      }
    }
  }
  return Error::Ok;
}

} // namespace executorch_tensorrt
