#include "engines/engine_compatibility.h"

#include <cstdlib>

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

} // namespace executorch_tensorrt
