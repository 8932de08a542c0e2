#include "options/delegate_options.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <variant>

#include "common/error_report.h"
#include "common/printable_text.h"

namespace executorch_tensorrt {

using executorch::runtime::ArrayRef;
using executorch::runtime::BackendOption;
using executorch::runtime::CompileSpec;
using executorch::runtime::kMaxOptionValueLength;
using executorch::runtime::Span;

namespace {

bool is_recorded_compile_spec(const std::string& key) {
  for (const char* known : kRecordedCompileSpecs) {
    if (key == known) {
      return true;
    }
  }
  return false;
}

template <typename Enum, size_t N>
Error read_choice(
    Error kind,
    const char* where,
    const char* key,
    const char* const (&names)[N],
    const char* choices,
    const char* text,
    size_t size,
    const char* fix,
    std::optional<Enum>& out) {
  out = parse_choice<Enum>(names, text, size);
  if (out.has_value()) {
    return Error::Ok;
  }
  return report_error(
      kind, "%s %s=%s is not one of %s%s", where, key, printable_quoted(text, size).c_str(), choices, fix);
}

// The options a delegate runs under (DelegateOptions), and what a text
// value of each must be.
const char* policy_value_text(const std::string& key) {
  if (key == kOptionWeightStreamingBudget) {
    return "decimal bytes as a string, or an int";
  }
  if (key == kOptionInitPolicy) {
    return kInitPolicyChoices;
  }
  if (key == kOptionOutputBuffers) {
    return kOutputBufferPolicyChoices;
  }
  if (key == kOptionHostStaging) {
    return kHostStagingChoices;
  }
  if (key == kOptionCudaGraphs) {
    return "0 or 1 (a bool as a backend option)";
  }
  if (key == kOptionExecutionContexts) {
    return "an int or decimal text, 1..16";
  }
  return key == kOptionExecutionMemory ? kExecutionMemoryScopeChoices : nullptr;
}

// A flag as text: exactly "0" or "1", the exporter's encoding.
Error read_flag_text(
    Error kind, const char* where, const char* key, const char* text, size_t size, const char* fix,
    std::optional<bool>& out) {
  if (size == 1 && (text[0] == '0' || text[0] == '1')) {
    out = text[0] == '1';
    return Error::Ok;
  }
  return report_error(kind, "%s %s=%s is not 0 or 1%s", where, key, printable_quoted(text, size).c_str(), fix);
}

// execution_contexts as a number: in the table's range.
Error read_execution_contexts(Error kind, const char* where, long long value, const std::string& shown, const char* fix,
                              DelegateOptions& options) {
  if (value < kOptionExecutionContextsMinimum || value > kOptionExecutionContextsMaximum) {
    return report_error(
        kind,
        "%s %s=%s is out of range: give %lld..%lld execution contexts per engine%s",
        where,
        kOptionExecutionContexts,
        shown.c_str(),
        static_cast<long long>(kOptionExecutionContextsMinimum),
        static_cast<long long>(kOptionExecutionContextsMaximum),
        fix);
  }
  options.execution_contexts = static_cast<uint32_t>(value);
  return Error::Ok;
}

// A policy given as text: one grammar for compile specs and backend options.
Error read_policy_text(
    Error kind,
    const char* where,
    const std::string& key,
    const char* text,
    size_t size,
    const char* fix,
    DelegateOptions& options) {
  if (key == kOptionWeightStreamingBudget) {
    const BudgetParse parsed = parse_weight_streaming_budget(text, size);
    if (!parsed.bytes.has_value()) {
      return report_error(
          kind,
          "%s %s=%s is invalid: %s%s",
          where,
          kOptionWeightStreamingBudget,
          printable_quoted(text, size).c_str(),
          parsed.problem.c_str(),
          fix);
    }
    options.weight_streaming_budget = parsed.bytes;
    return Error::Ok;
  }
  if (key == kOptionExecutionContexts) {
    // The table's decimal grammar: 0 or [1-9][0-9]*, at most two digits here.
    const bool decimal = size >= 1 && size <= 2 && (size == 1 || text[0] != '0') &&
        std::all_of(text, text + size, [](char c) { return c >= '0' && c <= '9'; });
    const std::string shown = printable_quoted(text, size);
    if (!decimal) {
      return report_error(kind, "%s %s=%s is not a decimal count 1..16%s", where, kOptionExecutionContexts, shown.c_str(), fix);
    }
    return read_execution_contexts(kind, where, std::stoll(std::string(text, size)), shown, fix, options);
  }
  auto choice = [&](const char* name, const auto& names, const char* choices, auto& field) {
    return read_choice(kind, where, name, names, choices, text, size, fix, field);
  };
  if (key == kOptionInitPolicy) {
    return choice(kOptionInitPolicy, kInitPolicyNames, kInitPolicyChoices, options.init_policy);
  }
  if (key == kOptionOutputBuffers) {
    return choice(kOptionOutputBuffers, kOutputBufferPolicyNames, kOutputBufferPolicyChoices, options.output_buffers);
  }
  if (key == kOptionHostStaging) {
    return choice(kOptionHostStaging, kHostStagingNames, kHostStagingChoices, options.host_staging);
  }
  if (key == kOptionCudaGraphs) {
    return read_flag_text(kind, where, kOptionCudaGraphs, text, size, fix, options.cuda_graphs);
  }
  return choice(
      kOptionExecutionMemory, kExecutionMemoryScopeNames, kExecutionMemoryScopeChoices, options.execution_memory);
}

Error wrong_type(const char* where, const char* key, const char* expected) {
  return report_error(Error::InvalidArgument, "%s '%s' must be %s", where, key, expected);
}

} // namespace

DelegateOptions merge_options(const DelegateOptions& higher, const DelegateOptions& lower) {
  DelegateOptions merged = lower;
  if (higher.weight_streaming_budget.has_value()) {
    merged.weight_streaming_budget = higher.weight_streaming_budget;
  }
  if (higher.init_policy.has_value()) {
    merged.init_policy = higher.init_policy;
  }
  if (higher.output_buffers.has_value()) {
    merged.output_buffers = higher.output_buffers;
  }
  if (higher.execution_memory.has_value()) {
    merged.execution_memory = higher.execution_memory;
  }
  if (higher.host_staging.has_value()) {
    merged.host_staging = higher.host_staging;
  }
  if (higher.cuda_graphs.has_value()) {
    merged.cuda_graphs = higher.cuda_graphs;
  }
  if (higher.execution_contexts.has_value()) {
    merged.execution_contexts = higher.execution_contexts;
  }
  return merged;
}

PoliciesInForce resolve_policies(const DelegateOptions& overrides, const DelegateOptions& baked) {
  const DelegateOptions merged = merge_options(overrides, baked);
  PoliciesInForce policies;
  policies.init_policy = merged.init_policy.value_or(kDefaultInitPolicy);
  policies.output_buffers = merged.output_buffers.value_or(kDefaultOutputBufferPolicy);
  policies.execution_memory = merged.execution_memory.value_or(kDefaultExecutionMemoryScope);
  policies.host_staging = merged.host_staging.value_or(kDefaultHostStaging);
  policies.cuda_graphs = merged.cuda_graphs.value_or(false);
  policies.execution_contexts =
      merged.execution_contexts.value_or(static_cast<uint32_t>(kOptionExecutionContextsDefault));
  if (overrides.weight_streaming_budget.has_value()) {
    policies.budget = {overrides.weight_streaming_budget, BudgetSource::kLoadOption};
  } else if (baked.weight_streaming_budget.has_value()) {
    policies.budget = {baked.weight_streaming_budget, BudgetSource::kCompileSpec};
  }
  return policies;
}

Result<DelegateOptions> parse_compile_specs(ArrayRef<CompileSpec> specs) {
  DelegateOptions options;
  std::set<std::string> seen;
  for (const CompileSpec& spec : specs) {
    if (spec.key == nullptr) {
      return report_error(Error::InvalidProgram, "compile spec without a key; re-export the program");
    }
    const std::string key = spec.key;
    const char* text = static_cast<const char*>(spec.value.buffer);
    const size_t size = text == nullptr ? 0 : spec.value.nbytes;
    if (!seen.insert(key).second) {
      return report_error(
          Error::InvalidProgram,
          "compile spec %s appears more than once; re-export the program",
          printable_quoted(key.data(), key.size()).c_str());
    }
    if (policy_value_text(key) != nullptr) {
      const Error err =
          read_policy_text(Error::InvalidProgram, "compile spec", key, text, size, "; re-export the program", options);
      if (err != Error::Ok) {
        return err;
      }
    } else if (!is_recorded_compile_spec(key)) {
      return report_error(
          Error::InvalidProgram,
          "unknown compile spec %s; this program was exported by a newer or different exporter, "
          "re-export it with this version of executorch-tensorrt",
          printable_quoted(key.data(), key.size()).c_str());
    }
  }
  return options;
}

Result<OptionRequest> parse_backend_options(Span<const BackendOption> options, const char* where) {
  OptionRequest request;
  std::set<std::string> seen;
  for (const BackendOption& option : options) {
    const size_t key_size = strnlen(option.key, sizeof(option.key));
    const std::string key(option.key, key_size);
    if (!seen.insert(key).second) {
      return report_error(Error::InvalidArgument, "%s '%s' given more than once", where, key.c_str());
    }
    const auto* text_value = std::get_if<std::array<char, kMaxOptionValueLength>>(&option.value);
    const char* text = text_value == nullptr ? nullptr : text_value->data();
    const size_t text_size = text == nullptr ? 0 : strnlen(text, kMaxOptionValueLength);
    const int* int_value = std::get_if<int>(&option.value);
    const bool* bool_value = std::get_if<bool>(&option.value);

    if (key == kOptionWeightStreamingBudget && int_value != nullptr) {
      if (*int_value < 0) {
        return report_error(
            Error::InvalidArgument,
            "%s %s=%d is negative; give a non-negative number of bytes",
            where,
            kOptionWeightStreamingBudget,
            *int_value);
      }
      request.options.weight_streaming_budget = static_cast<uint64_t>(*int_value);
    } else if (key == kOptionWeightStreamingBudget && text != nullptr && text_size == 0) {
      // An empty value is what a templated deployment config produces
      // when the budget is unset; treat it as "not given".
      request.notes += std::string(where) + " " + kOptionWeightStreamingBudget + " is empty and was ignored. ";
    } else if (key == kOptionCudaGraphs) {
      if (bool_value == nullptr) {
        return wrong_type(where, option.key, "a bool");
      }
      request.options.cuda_graphs = *bool_value;
    } else if (key == kOptionExecutionContexts && int_value != nullptr) {
      const Error err = read_execution_contexts(
          Error::InvalidArgument, where, *int_value, std::to_string(*int_value), "", request.options);
      if (err != Error::Ok) {
        return err;
      }
    } else if (key == kOptionOffload) {
      if (bool_value == nullptr) {
        return wrong_type(where, option.key, "a bool");
      }
      request.offload = *bool_value;
    } else if (key == kOptionResetState) {
      if (text == nullptr || text_size == 0) {
        return wrong_type(where, option.key, "a string: a state buffer's name or \"all\"");
      }
      request.reset_state = std::string(text, text_size);
    } else if (key == kOptionProgram) {
      if (int_value == nullptr) {
        return wrong_type(where, option.key, "an int (a program tag)");
      }
      request.program = *int_value;
    } else if (const char* expected = policy_value_text(key)) {
      if (text == nullptr) {
        const bool choice = key != kOptionWeightStreamingBudget && key != kOptionExecutionContexts;
        return wrong_type(where, option.key, ((choice ? "a string: " : "") + std::string(expected)).c_str());
      }
      const Error err = read_policy_text(Error::InvalidArgument, where, key, text, text_size, "", request.options);
      if (err != Error::Ok) {
        return err;
      }
    } else {
      return report_error(
          Error::InvalidArgument, "unknown %s '%s'; known options: %s", where, key.c_str(), kBackendOptionKeys);
    }
  }
  return request;
}

} // namespace executorch_tensorrt
