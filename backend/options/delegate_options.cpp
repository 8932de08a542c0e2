#include "options/delegate_options.h"

#include <cstring>
#include <set>
#include <string>
#include <variant>

#include "common/error_report.h"
#include "common/printable_text.h"
#include "options/weight_streaming_budget.h"

namespace executorch_tensorrt {

using executorch::runtime::ArrayRef;
using executorch::runtime::BackendOption;
using executorch::runtime::CompileSpec;
using executorch::runtime::kMaxOptionValueLength;
using executorch::runtime::Span;

namespace {

// Keys the exporter records for inspection; the delegate has no use for them
// at run time (the blob metadata carries what it needs).
const char* const kExporterRecordKeys[] = {
    "engine_builder", "device_index", "workspace_bytes", "version_compatible",
    "enable_weight_streaming", "precision", "optimization_level", "timing_cache",
    "compute_capabilities", "optimization_profiles", "batch_engines",
    "target_device"}; // ExecuTorch's device memory planning (exporter/device_planning.py)

bool is_exporter_record_key(const char* key) {
  for (const char* known : kExporterRecordKeys) {
    if (std::strcmp(key, known) == 0) {
      return true;
    }
  }
  return false;
}

bool equals(const char* text, size_t size, const char* word) {
  return std::strlen(word) == size && std::memcmp(text, word, size) == 0;
}

} // namespace

const char* init_policy_name(InitPolicy policy) {
  switch (policy) {
    case InitPolicy::kEager:
      return "eager";
    case InitPolicy::kDeferred:
      return "deferred";
    case InitPolicy::kDeferredContext:
      return "deferred_context";
  }
  return "unknown";
}

std::optional<InitPolicy> parse_init_policy(const char* text, size_t size) {
  for (InitPolicy policy : {InitPolicy::kEager, InitPolicy::kDeferred, InitPolicy::kDeferredContext}) {
    if (equals(text, size, init_policy_name(policy))) {
      return policy;
    }
  }
  return std::nullopt;
}

const char* output_buffer_policy_name(OutputBufferPolicy policy) {
  switch (policy) {
    case OutputBufferPolicy::kReuse:
      return "reuse";
    case OutputBufferPolicy::kFresh:
      return "fresh";
    case OutputBufferPolicy::kReuseProfileMax:
      return "reuse_profile_max";
  }
  return "unknown";
}

std::optional<OutputBufferPolicy> parse_output_buffer_policy(const char* text, size_t size) {
  for (OutputBufferPolicy policy :
       {OutputBufferPolicy::kReuse, OutputBufferPolicy::kFresh, OutputBufferPolicy::kReuseProfileMax}) {
    if (equals(text, size, output_buffer_policy_name(policy))) {
      return policy;
    }
  }
  return std::nullopt;
}

const char* execution_memory_scope_name(ExecutionMemoryScope scope) {
  switch (scope) {
    case ExecutionMemoryScope::kPrivate:
      return "private";
    case ExecutionMemoryScope::kProgram:
      return "program";
    case ExecutionMemoryScope::kProcess:
      return "process";
  }
  return "unknown";
}

std::optional<ExecutionMemoryScope> parse_execution_memory_scope(const char* text, size_t size) {
  for (ExecutionMemoryScope scope :
       {ExecutionMemoryScope::kPrivate, ExecutionMemoryScope::kProgram, ExecutionMemoryScope::kProcess}) {
    if (equals(text, size, execution_memory_scope_name(scope))) {
      return scope;
    }
  }
  return std::nullopt;
}

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
  return merged;
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
    if (key == kOptionWeightStreamingBudget) {
      const BudgetParse parsed = parse_weight_streaming_budget(text, size);
      if (!parsed.bytes.has_value()) {
        return report_error(
            Error::InvalidProgram,
            "compile spec weight_streaming_budget=%s is invalid: %s; re-export the program",
            printable_quoted(text, size).c_str(),
            parsed.problem.c_str());
      }
      options.weight_streaming_budget = parsed.bytes;
    } else if (key == kOptionInitPolicy) {
      options.init_policy = parse_init_policy(text, size);
      if (!options.init_policy.has_value()) {
        return report_error(
            Error::InvalidProgram,
            "compile spec init_policy=%s is not one of eager, deferred, deferred_context; re-export the program",
            printable_quoted(text, size).c_str());
      }
    } else if (key == kOptionOutputBuffers) {
      options.output_buffers = parse_output_buffer_policy(text, size);
      if (!options.output_buffers.has_value()) {
        return report_error(
            Error::InvalidProgram,
            "compile spec output_buffers=%s is not one of reuse, fresh, reuse_profile_max; re-export the program",
            printable_quoted(text, size).c_str());
      }
    } else if (key == kOptionExecutionMemory) {
      options.execution_memory = parse_execution_memory_scope(text, size);
      if (!options.execution_memory.has_value()) {
        return report_error(
            Error::InvalidProgram,
            "compile spec execution_memory=%s is not one of private, program, process; re-export the program",
            printable_quoted(text, size).c_str());
      }
    } else if (!is_exporter_record_key(key.c_str())) {
      return report_error(
          Error::InvalidProgram,
          "unknown compile spec %s; this program was exported by a newer or different exporter, "
          "re-export it with this version of executorch-tensorrt",
          printable_quoted(key.data(), key.size()).c_str());
    }
  }
  return options;
}

namespace {

Error wrong_type(const char* where, const char* key, const char* expected) {
  return report_error(Error::InvalidArgument, "%s '%s' must be %s", where, key, expected);
}

} // namespace

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

    if (key == kOptionWeightStreamingBudget) {
      if (int_value != nullptr) {
        if (*int_value < 0) {
          return report_error(
              Error::InvalidArgument,
              "%s weight_streaming_budget=%d is negative; give a non-negative number of bytes",
              where,
              *int_value);
        }
        request.options.weight_streaming_budget = static_cast<uint64_t>(*int_value);
      } else if (text != nullptr) {
        if (text_size == 0) {
          // An empty value is what a templated deployment config produces
          // when the budget is unset; treat it as "not given".
          request.notes += std::string(where) + " weight_streaming_budget is empty and was ignored. ";
          continue;
        }
        const BudgetParse parsed = parse_weight_streaming_budget(text, text_size);
        if (!parsed.bytes.has_value()) {
          return report_error(
              Error::InvalidArgument,
              "%s weight_streaming_budget=%s is invalid: %s",
              where,
              printable_quoted(text, text_size).c_str(),
              parsed.problem.c_str());
        }
        request.options.weight_streaming_budget = parsed.bytes;
      } else {
        return wrong_type(where, option.key, "decimal bytes as a string, or an int");
      }
    } else if (key == kOptionInitPolicy) {
      if (text == nullptr) {
        return wrong_type(where, option.key, "a string: eager, deferred or deferred_context");
      }
      request.options.init_policy = parse_init_policy(text, text_size);
      if (!request.options.init_policy.has_value()) {
        return report_error(
            Error::InvalidArgument,
            "%s init_policy=%s is not one of eager, deferred, deferred_context",
            where,
            printable_quoted(text, text_size).c_str());
      }
    } else if (key == kOptionOutputBuffers) {
      if (text == nullptr) {
        return wrong_type(where, option.key, "a string: reuse, fresh or reuse_profile_max");
      }
      request.options.output_buffers = parse_output_buffer_policy(text, text_size);
      if (!request.options.output_buffers.has_value()) {
        return report_error(
            Error::InvalidArgument,
            "%s output_buffers=%s is not one of reuse, fresh, reuse_profile_max",
            where,
            printable_quoted(text, text_size).c_str());
      }
    } else if (key == kOptionExecutionMemory) {
      if (text == nullptr) {
        return wrong_type(where, option.key, "a string: private, program or process");
      }
      request.options.execution_memory = parse_execution_memory_scope(text, text_size);
      if (!request.options.execution_memory.has_value()) {
        return report_error(
            Error::InvalidArgument,
            "%s execution_memory=%s is not one of private, program, process",
            where,
            printable_quoted(text, text_size).c_str());
      }
    } else if (key == kOptionOffload) {
      if (bool_value == nullptr) {
        return wrong_type(where, option.key, "a bool");
      }
      request.offload = *bool_value;
    } else if (key == kOptionProgram) {
      if (int_value == nullptr) {
        return wrong_type(where, option.key, "an int (a program tag)");
      }
      request.program = *int_value;
    } else {
      return report_error(
          Error::InvalidArgument,
          "unknown %s '%s'; known options: weight_streaming_budget, init_policy, output_buffers, "
          "execution_memory, offload, program",
          where,
          key.c_str());
    }
  }
  return request;
}

} // namespace executorch_tensorrt
