#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "execute/delegate_executor.h"
#include "engines/delegate_metadata.h"
#include "options/delegate_options.h"
#include "engines/engine_set.h"

namespace executorch_tensorrt {

// One lane of a delegate's execution contexts (option `execution_contexts`):
// a call runs on one lane, holding its mutex, with the lane's executor
// (binding state, staging buffers) and the lane's execution context of each
// engine. An engine's execution state is not re-entrant, so one call per
// lane; lanes run at once.
struct ExecutionLane {
  explicit ExecutionLane(const DelegateMetadata& metadata) : executor(metadata.io, metadata.slots) {}
  std::mutex mutex;
  DelegateExecutor executor;
};

// Every lane of a delegate held at once (set_option, offload, reports): they
// wait for the calls in flight. Lanes are locked in index order; a call
// holds only one, so this cannot deadlock with calls.
class AllLanesLock {
 public:
  explicit AllLanesLock(std::vector<std::unique_ptr<ExecutionLane>>& lanes) {
    locks_.reserve(lanes.size());
    for (auto& lane : lanes) {
      locks_.emplace_back(lane->mutex);
    }
  }

 private:
  std::vector<std::unique_lock<std::mutex>> locks_;
};

// What init() hands ExecuTorch as the DelegateHandle: the delegate's engines
// (perhaps not created yet; several when they cover different batch ranges),
// the metadata they were exported with, its policies and its lanes.
struct LoadedDelegate {
  // `pool_owner` identifies the program for shared execution memory;
  // `weights` are the engines' external weights (null: none).
  LoadedDelegate(
      DelegateMetadata meta,
      DelegateOptions baked,
      DelegateOptions load,
      std::vector<HostEngineBytes> bytes,
      int64_t tag,
      uint64_t pool_owner,
      std::shared_ptr<const ExternalWeights> weights = nullptr);

  // The executors' staging buffers came from the engines: free them first.
  ~LoadedDelegate();

  LoadedDelegate(const LoadedDelegate&) = delete;
  LoadedDelegate& operator=(const LoadedDelegate&) = delete;

  // A set_option() request over the load-time options; the caller hands
  // the new `policies` to whatever the request changed.
  void update_policies(const DelegateOptions& request) {
    option_overrides = merge_options(request, option_overrides);
    policies = resolve_policies(option_overrides, baked_options);
  }

  // Runs one call on the lane of the calling method instance
  // (MethodInstanceScope), else on the first free lane (so a program called
  // from one thread only ever uses lane 0), waiting for one when all are
  // busy.
  Error execute(Span<executorch::runtime::EValue*> args, executorch::runtime::EventTracer* tracer);

  // Caller holds every lane (AllLanesLock). Hands the executors their
  // policies in force (output_buffers, host_staging, cuda_graphs).
  void apply_executor_policies();
  std::string cuda_graph_status() const; // off | ok | the first lane's reason
  void release_device_buffers();
  ExecuteCounters counters() const; // summed over the lanes
  std::vector<DelegateExecutor::BatchServed> batches_served() const; // merged over the lanes

  const DelegateMetadata metadata;
  const DelegateOptions baked_options;
  DelegateOptions option_overrides; // load-time options, then set_option()
  PoliciesInForce policies; // the one value the executors and engines were given
  EngineSet engines;
  // The mutable buffers it owns (blob section `state`), shared with the
  // program's other delegates owning them; set at init, before any call.
  std::unique_ptr<DelegateStates> states;
  std::vector<std::unique_ptr<ExecutionLane>> lanes; // policies.execution_contexts of them, fixed at load
  const int64_t program_tag;
  // Calls running now and the most at once (contexts_in_use, _peak); read
  // without holding any lane.
  std::atomic<uint32_t> calls_in_flight{0};
  std::atomic<uint32_t> calls_in_flight_peak{0};

 private:
  // Locks a lane into `lock` and returns its index.
  uint32_t take_lane(std::unique_lock<std::mutex>& lock);
  std::atomic<uint32_t> next_wait_{0}; // spreads waiting calls over the lanes
};

} // namespace executorch_tensorrt
