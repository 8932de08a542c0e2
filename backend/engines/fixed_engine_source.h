#pragma once

#include "engines/engine_source.h"
#include "common/error_report.h"

namespace executorch_tensorrt {

// An EngineSource over one engine that already exists, with private
// execution memory (tests, benchmarks, harnesses that construct a
// DelegateExecutor directly).
class FixedEngineSource final : public EngineSource {
 public:
  explicit FixedEngineSource(Engine& engine) : engine_(engine) {}
  Result<EngineLease> acquire(uint32_t index) override {
    if (index != 0) {
      return report_error(Error::InvalidArgument, "internal: a single-engine source was asked for engine %u", index);
    }
    EngineLease lease;
    lease.engine = &engine_;
    return lease;
  }

 private:
  Engine& engine_;
};

} // namespace executorch_tensorrt
