#include "delegate_registry.h"

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

DelegateReport report_delegate(LoadedDelegate& delegate) {
  std::lock_guard<std::mutex> lock(delegate.mutex);
  const EngineStatus status = delegate.engine.status();
  const DelegateOptions options = delegate.options();
  DelegateReport report;
  report.program_tag = delegate.program_tag;
  report.state = engine_state_name(status.state);
  report.device_bytes = status.device_bytes;
  report.host_bytes = status.host_bytes;
  report.init_policy = init_policy_name(delegate.init_policy());
  report.output_buffers = output_buffer_policy_name(options.output_buffers.value_or(OutputBufferPolicy::kReuse));
  report.budget_resolved = status.budget_resolved;
  report.budget_bytes = status.budget.apply ? status.budget.bytes : 0;
  report.budget_source = status.budget_resolved ? budget_source_name(status.budget.source) : "unresolved";
  report.last_init_ms = status.last_init_ms;
  report.initializations = status.initializations;
  report.counters = delegate.executor.counters();
  return report;
}

std::vector<DelegateReport> delegate_reports(std::optional<int64_t> tag) {
  std::vector<DelegateReport> reports;
  for_each_live_delegate(tag, [&](LoadedDelegate& delegate) { reports.push_back(report_delegate(delegate)); });
  return reports;
}

} // namespace executorch_tensorrt
