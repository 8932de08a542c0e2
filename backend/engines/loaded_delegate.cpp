#include "engines/loaded_delegate.h"

#include <algorithm>

#include "control/program_tag.h"

namespace executorch_tensorrt {

LoadedDelegate::LoadedDelegate(
    DelegateMetadata meta,
    DelegateOptions baked,
    DelegateOptions load,
    std::vector<HostEngineBytes> bytes,
    int64_t tag,
    uint64_t pool_owner,
    std::shared_ptr<const ExternalWeights> weights)
    : metadata(std::move(meta)),
      baked_options(baked),
      option_overrides(load),
      policies(resolve_policies(option_overrides, baked_options)),
      engines(metadata, std::move(bytes), policies, pool_owner, std::move(weights)),
      program_tag(tag) {
  for (uint32_t lane = 0; lane < engines.lanes(); ++lane) {
    lanes.push_back(std::make_unique<ExecutionLane>(metadata));
  }
  apply_executor_policies();
}

LoadedDelegate::~LoadedDelegate() {
  release_device_buffers();
}

uint32_t LoadedDelegate::take_lane(std::unique_lock<std::mutex>& lock) {
  // The method instance's own lane, when the host says which it runs.
  const int32_t instance = current_method_instance();
  if (instance >= 0) {
    const uint32_t lane = static_cast<uint32_t>(instance) % static_cast<uint32_t>(lanes.size());
    lock = std::unique_lock<std::mutex>(lanes[lane]->mutex);
    return lane;
  }
  for (uint32_t lane = 0; lane < lanes.size(); ++lane) {
    std::unique_lock<std::mutex> attempt(lanes[lane]->mutex, std::try_to_lock);
    if (attempt.owns_lock()) {
      lock = std::move(attempt);
      return lane;
    }
  }
  // Every lane is busy: queue on one, in turn, so waiting calls spread.
  const uint32_t lane = next_wait_.fetch_add(1, std::memory_order_relaxed) % static_cast<uint32_t>(lanes.size());
  lock = std::unique_lock<std::mutex>(lanes[lane]->mutex);
  return lane;
}

Error LoadedDelegate::execute(Span<executorch::runtime::EValue*> args, executorch::runtime::EventTracer* tracer) {
  std::unique_lock<std::mutex> lock;
  const uint32_t lane = take_lane(lock);
  const uint32_t now = calls_in_flight.fetch_add(1) + 1;
  uint32_t peak = calls_in_flight_peak.load();
  while (now > peak && !calls_in_flight_peak.compare_exchange_weak(peak, now)) {
  }
  const Error err = lanes[lane]->executor.execute(engines.lane_source(lane), args, tracer);
  calls_in_flight.fetch_sub(1);
  return err;
}

void LoadedDelegate::apply_executor_policies() {
  for (auto& lane : lanes) {
    lane->executor.set_output_buffer_policy(policies.output_buffers);
    lane->executor.set_host_staging(policies.host_staging);
    lane->executor.set_cuda_graphs(policies.cuda_graphs);
  }
}

std::string LoadedDelegate::cuda_graph_status() const {
  // The first lane with a reason says it; else all agree ("ok" or "off").
  for (const auto& lane : lanes) {
    const std::string status = lane->executor.cuda_graph_status();
    if (status != "ok" && status != "off") {
      return status;
    }
  }
  return lanes.front()->executor.cuda_graph_status();
}

void LoadedDelegate::release_device_buffers() {
  for (auto& lane : lanes) {
    lane->executor.release_device_buffers();
  }
}

ExecuteCounters LoadedDelegate::counters() const {
  ExecuteCounters sum;
  for (const auto& lane : lanes) {
    sum += lane->executor.counters();
  }
  return sum;
}

std::vector<DelegateExecutor::BatchServed> LoadedDelegate::batches_served() const {
  std::vector<DelegateExecutor::BatchServed> merged = lanes.front()->executor.batches_served();
  for (size_t l = 1; l < lanes.size(); ++l) {
    for (const DelegateExecutor::BatchServed& served : lanes[l]->executor.batches_served()) {
      auto same = std::find_if(merged.begin(), merged.end(), [&](const auto& m) { return m.batch == served.batch; });
      if (same != merged.end()) {
        same->calls += served.calls;
      } else if (merged.size() < DelegateExecutor::kMaxBatchesRecorded) {
        merged.push_back(served);
      }
    }
  }
  return merged;
}

} // namespace executorch_tensorrt
