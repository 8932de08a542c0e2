#include "control/delegate_registry.h"

#include <algorithm>
#include <mutex>

namespace executorch_tensorrt {
namespace {

struct LiveDelegates {
  std::mutex mutex;
  std::vector<LoadedDelegate*> delegates; // load order
};

LiveDelegates& live() {
  // Never destroyed: delegates may be destroyed from static destructors.
  static LiveDelegates* instance = new LiveDelegates();
  return *instance;
}

} // namespace

void register_live_delegate(LoadedDelegate* delegate) {
  std::lock_guard<std::mutex> lock(live().mutex);
  live().delegates.push_back(delegate);
}

void unregister_live_delegate(LoadedDelegate* delegate) {
  std::lock_guard<std::mutex> lock(live().mutex);
  auto& all = live().delegates;
  all.erase(std::remove(all.begin(), all.end(), delegate), all.end());
}

size_t for_each_live_delegate(std::optional<int64_t> tag, const std::function<void(LoadedDelegate&)>& visit) {
  std::lock_guard<std::mutex> lock(live().mutex);
  size_t visited = 0;
  for (LoadedDelegate* delegate : live().delegates) {
    if (!tag.has_value() || delegate->program_tag == *tag) {
      visit(*delegate);
      ++visited;
    }
  }
  return visited;
}

namespace {

std::string ranges_text(const EngineMetadata& metadata) {
  std::string text;
  for (size_t i = 0; i < metadata.inputs.size(); ++i) {
    const TensorSpec& spec = metadata.inputs[i];
    text += (i ? "; " : "") + spec.name + " ";
    for (size_t p = 0; p < spec.ranges.size(); ++p) {
      text += (p ? " or " : "") + spec.ranges[p].min.to_string() + ".." + spec.ranges[p].max.to_string();
    }
  }
  return text;
}

} // namespace

DelegateReport report_delegate(LoadedDelegate& delegate) {
  DelegateReport report;
  // Read before waiting for the calls in flight, which the lock below does.
  report.contexts_in_use = delegate.calls_in_flight.load();
  AllLanesLock lock(delegate.lanes);
  report.contexts_in_use_peak = delegate.calls_in_flight_peak.load();
  const PoliciesInForce& policies = delegate.policies;
  report.program_tag = delegate.program_tag;
  EngineState most_advanced = EngineState::kHost;
  bool budget_taken = false;
  for (size_t e = 0; e < delegate.engines.size(); ++e) {
    const EngineStatus status = delegate.engines.status(e);
    most_advanced = std::max(most_advanced, status.state);
    report.device_bytes += status.device_bytes;
    report.host_bytes += status.host_bytes;
    // Every engine resolves the budget from the same sources; show the first
    // one resolved.
    if (status.budget_resolved && !budget_taken) {
      budget_taken = true;
      report.budget_bytes = status.budget.apply ? status.budget.bytes : 0;
      report.budget_source = budget_source_name(status.budget.source);
    }
    report.last_init_ms = std::max(report.last_init_ms, status.last_init_ms);
    report.initializations += status.initializations;
    report.contexts_created += status.contexts;
    report.refitted_weights = std::max(report.refitted_weights, status.refitted_weights);
    report.refitted_weight_bytes = std::max(report.refitted_weight_bytes, status.refitted_weight_bytes);
    report.engines_shared += status.shared ? 1 : 0;
    EngineReport engine;
    engine.state = engine_state_name(status.state);
    engine.device_bytes = status.device_bytes;
    engine.execution_memory_bytes =
        status.execution_memory_bytes >= 0 ? status.execution_memory_bytes : delegate.metadata.execution_memory_hints[e];
    engine.input_ranges = ranges_text(delegate.metadata.engines[e]);
    report.execution_memory_bytes = std::max(report.execution_memory_bytes, engine.execution_memory_bytes);
    report.engines.push_back(std::move(engine));
  }
  if (!budget_taken) {
    report.budget_source = "unresolved";
  }
  report.state = engine_state_name(most_advanced);
  report.init_policy = init_policy_name(policies.init_policy);
  report.output_buffers = output_buffer_policy_name(policies.output_buffers);
  report.counters = delegate.counters();
  report.state_bytes = delegate.states != nullptr ? delegate.states->device_bytes() : 0;
  report.host_staging = host_staging_name(policies.host_staging);
  report.cuda_graphs = policies.cuda_graphs;
  report.cuda_graph_status = delegate.cuda_graph_status();
  report.execution_contexts = delegate.engines.lanes();
  report.lane_pools = delegate.engines.lane_pool_reports();
  report.execution_memory = execution_memory_scope_name(policies.execution_memory);
  report.pool = delegate.engines.pool_report();
  report.batches_served = delegate.batches_served();
  return report;
}

std::vector<DelegateReport> delegate_reports(std::optional<int64_t> tag) {
  std::vector<DelegateReport> reports;
  for_each_live_delegate(tag, [&](LoadedDelegate& delegate) { reports.push_back(report_delegate(delegate)); });
  return reports;
}

} // namespace executorch_tensorrt
