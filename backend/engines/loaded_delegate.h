#pragma once

#include <cstdint>
#include <mutex>

#include "execute/delegate_executor.h"
#include "engines/delegate_metadata.h"
#include "options/delegate_options.h"
#include "engines/engine_set.h"

namespace executorch_tensorrt {

// What init() hands ExecuTorch as the DelegateHandle: the delegate's engines
// (perhaps not created yet; several when they cover different batch ranges),
// the metadata they were exported with, and its policies.
struct LoadedDelegate {
  // `pool_owner` identifies the program for shared execution memory.
  LoadedDelegate(
      DelegateMetadata meta,
      DelegateOptions baked,
      DelegateOptions load,
      std::vector<HostEngineBytes> bytes,
      int64_t tag,
      uint64_t pool_owner)
      : metadata(std::move(meta)),
        baked_options(baked),
        option_overrides(load),
        engines(metadata, std::move(bytes), baked_options, option_overrides, pool_owner),
        executor(metadata.io, metadata.slots),
        program_tag(tag) {
    apply_output_buffer_policy();
  }

  // The executor's staging buffers came from the engines: free them first.
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

  const DelegateMetadata metadata;
  const DelegateOptions baked_options;
  DelegateOptions option_overrides; // load-time options, then set_option()
  EngineSet engines;
  DelegateExecutor executor;
  const int64_t program_tag;
  // One execute at a time (an engine's execution state is not re-entrant);
  // set_option and offload take it too, so they wait for work in flight.
  std::mutex mutex;
};

} // namespace executorch_tensorrt
