#pragma once

#include <memory>
#include <mutex>

#include "delegate_executor.h"
#include "engine_runtime.h"

namespace executorch_tensorrt {

// What init() hands ExecuTorch as the DelegateHandle: one engine with the
// metadata it was exported with.
struct LoadedDelegate {
  LoadedDelegate(EngineMetadata meta, std::unique_ptr<Engine> eng)
      : metadata(std::move(meta)),
        engine(std::move(eng)),
        executor(metadata) {}

  // The executor's staging buffers came from the engine: free them first.
  ~LoadedDelegate() {
    executor.release_device_buffers();
  }

  LoadedDelegate(const LoadedDelegate&) = delete;
  LoadedDelegate& operator=(const LoadedDelegate&) = delete;

  const EngineMetadata metadata;
  const std::unique_ptr<Engine> engine;
  DelegateExecutor executor;
  // An engine's execution state is not re-entrant: one execute at a time.
  std::mutex execute_mutex;
};

} // namespace executorch_tensorrt
