#pragma once

#include "engine_runtime.h"

namespace executorch_tensorrt {

// An EngineSource over an engine that already exists (tests, benchmarks,
// harnesses that construct a DelegateExecutor directly).
class FixedEngineSource final : public EngineSource {
 public:
  explicit FixedEngineSource(Engine& engine) : engine_(engine) {}
  Result<Engine*> acquire() override {
    return &engine_;
  }

 private:
  Engine& engine_;
};

} // namespace executorch_tensorrt
