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
    uint64_t pool_owner)
    : metadata(std::move(meta)),
      baked_options(baked),
      option_overrides(load),
      policies(resolve_policies(option_overrides, baked_options)),
      engines(metadata, std::move(bytes), policies, pool_owner),
      program_tag(tag) {
  for (uint32_t lane = 0; lane < engines.lanes(); ++lane) {
    lanes.push_back(std::make_unique<ExecutionLane>(metadata));
    lanes.back()->executor.set_output_buffer_policy(policies.output_buffers);
  }
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

void LoadedDelegate::set_output_buffer_policy(OutputBufferPolicy policy) {
  for (auto& lane : lanes) {
    lane->executor.set_output_buffer_policy(policy);
  }
}

void LoadedDelegate::release_device_buffers() {
  for (auto& lane : lanes) {
    lane->executor.release_device_buffers();
  }
}

ExecuteCounters LoadedDelegate::counters() const {
  ExecuteCounters sum;
  for (const auto& lane : lanes) {
    const ExecuteCounters& c = lane->executor.counters();
    sum.executes += c.executes;
    sum.allocations += c.allocations;
    sum.bytes_allocated += c.bytes_allocated;
    sum.frees += c.frees;
    sum.h2d_copies += c.h2d_copies;
    sum.h2d_bytes += c.h2d_bytes;
    sum.d2h_copies += c.d2h_copies;
    sum.d2h_bytes += c.d2h_bytes;
    sum.device_inputs += c.device_inputs;
    sum.device_outputs += c.device_outputs;
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
