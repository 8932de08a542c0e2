#include "control/delegate_control.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <variant>

#include <executorch/runtime/platform/log.h>

#include "control/delegate_registry.h"
#include "state/delegate_state.h"
#include "common/error_report.h"

namespace executorch_tensorrt {

using executorch::runtime::BackendOption;
using executorch::runtime::kMaxOptionValueLength;
using executorch::runtime::Span;

Error apply_option_request(LoadedDelegate& delegate, const OptionRequest& request) {
  const DelegateOptions& wanted = request.options;
  if (wanted.execution_contexts.has_value()) {
    return report_error(
        Error::InvalidArgument,
        "set_option: %s is fixed when the program is loaded; load it again with the new value",
        kOptionExecutionContexts);
  }
  AllLanesLock lock(delegate.lanes);
  if (request.reset_state.has_value() && delegate.states != nullptr) {
    delegate.states->reset(*request.reset_state); // no call of the delegate is running
  }
  delegate.update_policies(wanted);
  const PoliciesInForce& now = delegate.policies;
  if (wanted.output_buffers.has_value() || wanted.host_staging.has_value() || wanted.cuda_graphs.has_value()) {
    delegate.apply_executor_policies();
  }
  if (wanted.weight_streaming_budget.has_value()) {
    Error err = delegate.engines.reapply_budget(now.budget);
    if (err != Error::Ok) {
      return err;
    }
  }
  if (wanted.execution_memory.has_value()) {
    // Contexts that exist are recreated drawing on the new scope's pool (or
    // on their own memory under `private`); the set_option waited for the
    // execute in flight, and each pool for its members' runs.
    Error err = delegate.engines.reapply_execution_memory(now.execution_memory);
    if (err != Error::Ok) {
      return err;
    }
  }
  // A new init_policy takes effect at the next initialization (after an
  // offload); asking for `eager` on an engine still on the host initializes
  // it now.
  if (wanted.init_policy.has_value() && now.init_policy == InitPolicy::kEager && !request.offload) {
    Error err = delegate.engines.acquire_all();
    if (err != Error::Ok) {
      return err;
    }
  }
  if (request.offload) {
    // The staging buffers came from the engines about to be destroyed.
    delegate.release_device_buffers();
    return delegate.engines.offload();
  }
  return Error::Ok;
}

Error apply_option_request_to_live_delegates(const OptionRequest& request) {
  if (!request.notes.empty()) {
    ET_LOG(Info, "ExecutorchTensorRTBackend: %s", request.notes.c_str());
  }
  if (request.reset_state.has_value()) {
    std::optional<uint64_t> owner;
    if (request.program.has_value()) {
      owner = static_cast<uint64_t>(*request.program);
    }
    Error err = check_state_name(owner, *request.reset_state);
    if (err != Error::Ok) {
      return err;
    }
  }
  Error first_error = Error::Ok;
  const size_t visited = for_each_live_delegate(request.program, [&](LoadedDelegate& delegate) {
    const Error err = apply_option_request(delegate, request);
    if (first_error == Error::Ok) {
      first_error = err;
    }
  });
  if (visited == 0) {
    if (request.program.has_value()) {
      return report_error(
          Error::NotFound,
          "set_option: program %lld has no loaded ExecutorchTensorRTBackend delegate (it may not be loaded yet, "
          "or was destroyed)",
          static_cast<long long>(*request.program));
    }
    return report_error(
        Error::NotFound, "set_option: no program with an ExecutorchTensorRTBackend delegate is loaded");
  }
  return first_error;
}

namespace {

// The value of `key` for one delegate as text, or nullopt for an unknown key.
std::optional<std::string> query_value(const char* key, const DelegateReport& report) {
  if (std::strcmp(key, kOptionWeightStreamingBudget) == 0) {
    return report.has_budget() ? std::to_string(report.budget_bytes) : std::string("none");
  }
  if (std::strcmp(key, kOptionWeightStreamingBudgetSource) == 0) {
    return report.budget_source;
  }
  if (std::strcmp(key, kOptionInitPolicy) == 0) {
    return report.init_policy;
  }
  if (std::strcmp(key, kOptionOutputBuffers) == 0) {
    return report.output_buffers;
  }
  if (std::strcmp(key, kOptionState) == 0) {
    return report.state;
  }
  if (std::strcmp(key, kOptionDeviceBytes) == 0) {
    return std::to_string(report.device_bytes);
  }
  if (std::strcmp(key, kOptionExecutionMemory) == 0) {
    return report.execution_memory;
  }
  if (std::strcmp(key, kOptionExecutionMemoryBytes) == 0) {
    return std::to_string(report.execution_memory_bytes);
  }
  if (std::strcmp(key, kOptionExecutionMemoryPoolBytes) == 0) {
    return report.pool.has_value() ? std::to_string(report.pool->capacity_bytes) : std::string("none");
  }
  if (std::strcmp(key, kOptionEngines) == 0) {
    return std::to_string(report.engines.size());
  }
  if (std::strcmp(key, kOptionBatchesServed) == 0) {
    // "4:e0;9:e1": batch size, then the engine that served it.
    std::string text;
    for (const DelegateExecutor::BatchServed& served : report.batches_served) {
      text += (text.empty() ? "" : ";") + std::to_string(served.batch) + ":e" + std::to_string(served.engine);
    }
    return text.empty() ? std::string("none") : text;
  }
  if (std::strcmp(key, kOptionHostStaging) == 0) {
    return report.host_staging;
  }
  if (std::strcmp(key, kOptionCudaGraphs) == 0) {
    return std::string(report.cuda_graphs ? "1" : "0");
  }
  if (std::strcmp(key, kOptionHostWaits) == 0) {
    return std::to_string(report.counters.host_waits);
  }
  if (std::strcmp(key, kOptionCudaGraphCaptures) == 0) {
    return std::to_string(report.counters.graph_captures);
  }
  if (std::strcmp(key, kOptionCudaGraphReplays) == 0) {
    return std::to_string(report.counters.graph_replays);
  }
  if (std::strcmp(key, kOptionCudaGraphStatus) == 0) {
    return report.cuda_graph_status;
  }
  if (std::strcmp(key, kOptionPinnedBytes) == 0) {
    return std::to_string(report.counters.pinned_bytes);
  }
  if (std::strcmp(key, kOptionExecutionContexts) == 0) {
    return std::to_string(report.execution_contexts);
  }
  if (std::strcmp(key, kOptionContextsInUse) == 0) {
    return std::to_string(report.contexts_in_use);
  }
  if (std::strcmp(key, kOptionContextsInUsePeak) == 0) {
    return std::to_string(report.contexts_in_use_peak);
  }
  if (std::strcmp(key, kOptionContextsCreated) == 0) {
    return std::to_string(report.contexts_created);
  }
  if (std::strcmp(key, kOptionStateHostCopies) == 0) {
    return std::to_string(report.counters.state_host_copies);
  }
  if (std::strcmp(key, kOptionStateDeviceUpdates) == 0) {
    return std::to_string(report.counters.state_device_updates);
  }
  if (std::strcmp(key, kOptionStateBytes) == 0) {
    return std::to_string(report.state_bytes);
  }
  if (std::strcmp(key, kOptionRefittedWeights) == 0) {
    return std::to_string(report.refitted_weights);
  }
  if (std::strcmp(key, kOptionRefittedWeightBytes) == 0) {
    return std::to_string(report.refitted_weight_bytes);
  }
  if (std::strcmp(key, kOptionEnginesShared) == 0) {
    return std::to_string(report.engines_shared);
  }
  if (std::strcmp(key, kOptionInitMs) == 0) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.3f", report.last_init_ms);
    return std::string(buffer);
  }
  return std::nullopt;
}

} // namespace

Error answer_option_queries(Span<BackendOption> options) {
  std::optional<int64_t> program;
  for (const BackendOption& option : options) {
    if (std::strcmp(option.key, kOptionProgram) == 0) {
      const int* tag = std::get_if<int>(&option.value);
      if (tag == nullptr) {
        return report_error(Error::InvalidArgument, "get_option '%s' must be an int (a program tag)", kOptionProgram);
      }
      program = *tag;
    }
  }
  const std::vector<DelegateReport> reports = delegate_reports(program);
  if (reports.empty()) {
    return report_error(
        Error::NotFound, "get_option: no loaded ExecutorchTensorRTBackend delegate matches the query");
  }
  for (BackendOption& option : options) {
    if (std::strcmp(option.key, kOptionProgram) == 0) {
      continue;
    }
    std::string joined;
    for (size_t i = 0; i < reports.size(); ++i) {
      std::optional<std::string> value = query_value(option.key, reports[i]);
      if (!value.has_value()) {
        return report_error(
            Error::InvalidArgument,
            "get_option: unknown key '%s'; known keys: %s",
            option.key,
            kQueryKeysText);
      }
      joined += (i ? "," : "") + *value;
    }
    if (joined.size() >= kMaxOptionValueLength) {
      return report_error(
          Error::InvalidArgument,
          "get_option: the answer for '%s' (%zu delegates) exceeds ExecuTorch's %zu-character option value; "
          "restrict the query with '%s'",
          option.key,
          reports.size(),
          kMaxOptionValueLength - 1,
          kOptionProgram);
    }
    std::array<char, kMaxOptionValueLength> text{};
    std::memcpy(text.data(), joined.data(), joined.size());
    option.value = text;
  }
  return Error::Ok;
}

} // namespace executorch_tensorrt
