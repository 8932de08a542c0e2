#pragma once

#include <cstdint>
#include <mutex>

#include "deferred_engine.h"
#include "delegate_executor.h"
#include "delegate_options.h"

namespace executorch_tensorrt {

// What init() hands ExecuTorch as the DelegateHandle: one engine (perhaps not
// created yet), the metadata it was exported with, and its policies.
struct LoadedDelegate {
  LoadedDelegate(EngineMetadata meta, DelegateOptions baked, DelegateOptions load, HostEngineBytes bytes, int64_t tag)
      : metadata(std::move(meta)),
        baked_options(baked),
        option_overrides(load),
        engine(metadata, std::move(bytes), baked_options, option_overrides),
        executor(metadata),
        program_tag(tag) {
    apply_output_buffer_policy();
  }

  // The executor's staging buffers came from the engine: free them first.
  ~LoadedDelegate() {
    executor.release_device_buffers();
  }

  LoadedDelegate(const LoadedDelegate&) = delete;
  LoadedDelegate& operator=(const LoadedDelegate&) = delete;

  // Policies in force: set_option / load-time options over the compile specs.
  DelegateOptions options() const {
    return merge_options(option_overrides, baked_options);
  }
  InitPolicy init_policy() const {
    return options().init_policy.value_or(InitPolicy::kEager);
  }
  // Hands the `output_buffers` policy in force to the executor.
  void apply_output_buffer_policy() {
    executor.set_output_buffer_policy(options().output_buffers.value_or(OutputBufferPolicy::kReuse));
  }

  const EngineMetadata metadata;
  const DelegateOptions baked_options;
  DelegateOptions option_overrides; // load-time options, then set_option()
  DeferredEngine engine;
  DelegateExecutor executor;
  const int64_t program_tag;
  // One execute at a time (an engine's execution state is not re-entrant);
  // set_option and offload take it too, so they wait for work in flight.
  std::mutex mutex;
};

} // namespace executorch_tensorrt
