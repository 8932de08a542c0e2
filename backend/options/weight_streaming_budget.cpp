#include "options/weight_streaming_budget.h"

#include <cstdio>

#include "option_table.h"

namespace executorch_tensorrt {

namespace {

BudgetParse failure(std::string problem) {
  BudgetParse result;
  result.problem = std::move(problem);
  return result;
}

std::string describe_byte(char c) {
  char buffer[48];
  if (c == '\0') {
    return "an embedded NUL byte";
  }
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
    return "whitespace";
  }
  if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
    std::snprintf(buffer, sizeof(buffer), "the byte 0x%02x", static_cast<unsigned char>(c));
    return buffer;
  }
  std::snprintf(buffer, sizeof(buffer), "'%c'", c);
  return buffer;
}

} // namespace

BudgetParse parse_weight_streaming_budget(const char* text, size_t size) {
  if (text == nullptr || size == 0) {
    return failure("the budget is empty; give the number of bytes as decimal digits, e.g. \"2147483648\"");
  }
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') {
      if (c == '-' || c == '+') {
        return failure("the budget has a sign; give a non-negative number of bytes as decimal digits only");
      }
      return failure(
          "the budget contains " + describe_byte(c) + " at position " + std::to_string(i) +
          "; give the number of bytes as decimal digits only");
    }
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (kMaxWeightStreamingBudget - digit) / 10) {
      return failure("the budget is larger than the largest TensorRT accepts (9223372036854775807 bytes)");
    }
    value = value * 10 + digit;
  }
  if (size > 1 && text[0] == '0') {
    return failure("the budget has a leading zero; write the number of bytes without one, e.g. \"123\"");
  }
  BudgetParse result;
  result.bytes = value;
  return result;
}

const char* budget_source_name(BudgetSource source) {
  switch (source) {
    case BudgetSource::kNotStreamable:
      return "not_streamable";
    case BudgetSource::kLoadOption:
      return "load_option";
    case BudgetSource::kCompileSpec:
      return "compile_spec";
    case BudgetSource::kAutomatic:
      return "automatic";
  }
  return "unknown";
}

BudgetDecision resolve_weight_streaming_budget(const BudgetInputs& inputs) {
  BudgetDecision decision;
  const std::optional<uint64_t>& explicit_value = inputs.requested.bytes;
  const BudgetSource explicit_source = inputs.requested.source;

  if (inputs.streamable_bytes <= 0) {
    // TensorRT rejects budget calls on engines built without
    // kWEIGHT_STREAMING, so none is made; a value the user asked for is
    // reported rather than dropped silently.
    decision.source = BudgetSource::kNotStreamable;
    if (explicit_value.has_value()) {
      decision.requested = *explicit_value;
      decision.note = std::string(kOptionWeightStreamingBudget) + "=" + std::to_string(*explicit_value) + " (from " +
          budget_source_name(explicit_source) +
          ") ignored: the engine was built without weight streaming; export with "
          "enable_weight_streaming=True to use a budget";
    }
    return decision;
  }

  decision.apply = true;
  if (!explicit_value.has_value()) {
    decision.source = BudgetSource::kAutomatic;
    decision.bytes = inputs.automatic_bytes < 0 ? 0 : inputs.automatic_bytes;
    return decision;
  }
  decision.source = explicit_source;
  decision.requested = *explicit_value;
  const uint64_t streamable = static_cast<uint64_t>(inputs.streamable_bytes);
  if (*explicit_value > streamable) {
    // A budget above the streamable size just means "keep every weight on the
    // device"; TensorRT wants it clamped, not refused.
    decision.clamped = true;
    decision.bytes = inputs.streamable_bytes;
    decision.note = std::string(kOptionWeightStreamingBudget) + "=" + std::to_string(*explicit_value) +
        " exceeds the engine's streamable weights (" + std::to_string(streamable) +
        " bytes); clamped to " + std::to_string(streamable);
  } else {
    decision.bytes = static_cast<int64_t>(*explicit_value);
  }
  return decision;
}

} // namespace executorch_tensorrt
