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
        policies(resolve_policies(option_overrides, baked_options)),
        engines(metadata, std::move(bytes), policies, pool_owner),
        executor(metadata.io, metadata.slots),
        program_tag(tag) {
    executor.set_output_buffer_policy(policies.output_buffers);
    executor.set_host_staging(policies.host_staging);
    executor.set_cuda_graphs(policies.cuda_graphs);
  }

  // The executor's staging buffers came from the engines: free them first.
  ~LoadedDelegate() {
    executor.release_device_buffers();
  }

  LoadedDelegate(const LoadedDelegate&) = delete;
  LoadedDelegate& operator=(const LoadedDelegate&) = delete;

  // A set_option() request over the load-time options; the caller hands
  // the new `policies` to whatever the request changed.
  void update_policies(const DelegateOptions& request) {
    option_overrides = merge_options(request, option_overrides);
    policies = resolve_policies(option_overrides, baked_options);
  }

  const DelegateMetadata metadata;
  const DelegateOptions baked_options;
  DelegateOptions option_overrides; // load-time options, then set_option()
  PoliciesInForce policies; // the one value the executor and engines were given
  EngineSet engines;
  DelegateExecutor executor;
  const int64_t program_tag;
  // One execute at a time (an engine's execution state is not re-entrant);
  // set_option and offload take it too, so they wait for work in flight.
  std::mutex mutex;
};

} // namespace executorch_tensorrt
