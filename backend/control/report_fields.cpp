#include "control/report_fields.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>

namespace executorch_tensorrt {
namespace {

using R = DelegateReport;
using C = ExecuteCounters;

template <auto Field>
ReportValue field(const R& report) {
  return report.*Field;
}

template <auto Counter>
ReportValue counter(const R& report) {
  return report.counters.*Counter;
}

// "4:e0;9:e1": batch size, then the engine that served it.
ReportValue batches_served(const R& report) {
  std::string text;
  for (const DelegateExecutor::BatchServed& served : report.batches_served) {
    text += (text.empty() ? "" : ";") + std::to_string(served.batch) + ":e" + std::to_string(served.engine);
  }
  return text.empty() ? std::string("none") : text;
}

// In the order of Python's dict.
constexpr ReportField kFields[] = {
    {kOptionState, kReportEntry, field<&R::state>},
    {kOptionDeviceBytes, kReportEntry, field<&R::device_bytes>},
    {"host_bytes", kReportEntry, field<&R::host_bytes>},
    {kOptionInitPolicy, kReportEntry, field<&R::init_policy>},
    {kOptionOutputBuffers, kReportEntry, field<&R::output_buffers>},
    {kOptionHostStaging, kReportEntry, field<&R::host_staging>},
    {kOptionCudaGraphs, kReportEntry, field<&R::cuda_graphs>},
    {kOptionCudaGraphStatus, kReportEntry, field<&R::cuda_graph_status>},
    // No budget before a deferred engine resolved it, nor for engines that cannot stream.
    {kOptionWeightStreamingBudget, kReportEntry,
     [](const R& r) {
       const bool none = r.budget_source == "not_streamable" || r.budget_source == "unresolved";
       return none ? ReportValue() : ReportValue(r.budget_bytes);
     }},
    {kOptionWeightStreamingBudgetSource, kReportEntry, field<&R::budget_source>},
    {kOptionInitMs, kReportEntry, field<&R::last_init_ms>},
    {"initializations", kReportEntry, field<&R::initializations>},
    {"executes", kReportCounter, counter<&C::executes>},
    {"allocations", kReportCounter, counter<&C::allocations>},
    {"bytes_allocated", kReportCounter, counter<&C::bytes_allocated>},
    {"frees", kReportCounter, counter<&C::frees>},
    {"h2d_copies", kReportCounter, counter<&C::h2d_copies>},
    {"h2d_bytes", kReportCounter, counter<&C::h2d_bytes>},
    {"d2h_copies", kReportCounter, counter<&C::d2h_copies>},
    {"d2h_bytes", kReportCounter, counter<&C::d2h_bytes>},
    {"device_inputs", kReportCounter, counter<&C::device_inputs>},
    {"device_outputs", kReportCounter, counter<&C::device_outputs>},
    {kOptionHostWaits, kReportCounter, counter<&C::host_waits>},
    {kOptionCudaGraphCaptures, kReportCounter, counter<&C::graph_captures>},
    {kOptionCudaGraphReplays, kReportCounter, counter<&C::graph_replays>},
    {"pinned_allocations", kReportCounter, counter<&C::pinned_allocations>},
    {kOptionPinnedBytes, kReportCounter, counter<&C::pinned_bytes>},
    {kOptionStateHostCopies, kReportCounter, counter<&C::state_host_copies>},
    {kOptionStateDeviceUpdates, kReportCounter, counter<&C::state_device_updates>},
    {kOptionStateBytes, kReportEntry, field<&R::state_bytes>},
    {kOptionExecutionMemory, kReportEntry, field<&R::execution_memory>},
    {kOptionExecutionMemoryBytes, kReportEntry, field<&R::execution_memory_bytes>},
    {kOptionExecutionMemoryPoolBytes, kReportStructured, // Python: "pool"
     [](const R& r) { return r.pool.has_value() ? ReportValue(r.pool->capacity_bytes) : ReportValue(); }},
    {kOptionEngines, kReportStructured, [](const R& r) { return ReportValue(uint64_t{r.engines.size()}); }},
    {kOptionBatchesServed, kReportStructured, batches_served},
    {kOptionExecutionContexts, kReportEntry, field<&R::execution_contexts>},
    {kOptionContextsInUse, kReportEntry, field<&R::contexts_in_use>},
    {kOptionContextsInUsePeak, kReportEntry, field<&R::contexts_in_use_peak>},
    {kOptionContextsCreated, kReportEntry, field<&R::contexts_created>},
    {kOptionRefittedWeights, kReportEntry, field<&R::refitted_weights>},
    {kOptionRefittedWeightBytes, kReportEntry, field<&R::refitted_weight_bytes>},
    {kOptionEnginesShared, kReportEntry, field<&R::engines_shared>},
};

struct Text {
  std::string operator()(std::monostate) const { return "none"; }
  std::string operator()(bool value) const { return value ? "1" : "0"; }
  std::string operator()(const std::string& value) const { return value; }
  std::string operator()(double value) const {
    char text[32];
    std::snprintf(text, sizeof(text), "%.3f", value);
    return text;
  }
  template <typename Integer>
  std::string operator()(Integer value) const { return std::to_string(value); }
};

} // namespace

executorch::runtime::Span<const ReportField> report_fields() {
  return {kFields, sizeof(kFields) / sizeof(kFields[0])};
}

std::optional<std::string> report_text(const char* key, const DelegateReport& report) {
  const auto is_key = [key](const char* other) { return std::strcmp(key, other) == 0; };
  const auto row = std::find_if(std::begin(kFields), std::end(kFields), [&](const auto& f) { return is_key(f.key); });
  if (row == std::end(kFields) || std::none_of(std::begin(kQueryKeys), std::end(kQueryKeys), is_key)) {
    return std::nullopt; // no such field, or one only Python's dict shows
  }
  return std::visit(Text{}, row->value(report));
}

} // namespace executorch_tensorrt
