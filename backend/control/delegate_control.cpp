#include "control/delegate_control.h"

#include <cstring>
#include <string>
#include <variant>

#include <executorch/runtime/platform/log.h>

#include "control/delegate_registry.h"
#include "control/report_fields.h"
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
      std::optional<std::string> value = report_text(option.key, reports[i]);
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
