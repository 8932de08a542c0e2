#pragma once

// Weight-streaming budget: parsing and resolution as pure functions, so a
// table of cases can test every rule without an engine or a GPU.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace executorch_tensorrt {

// Largest budget TensorRT accepts (its API takes int64 bytes).
inline constexpr uint64_t kMaxWeightStreamingBudget = static_cast<uint64_t>(INT64_MAX);

// Outcome of parsing a budget written as text.
struct BudgetParse {
  std::optional<uint64_t> bytes; // set on success
  std::string problem; // set on failure: what is wrong, for the user
};

// Parses decimal bytes in the option table's grammar: ASCII digits only, at
// least one, no leading zero; no sign (not even "-0" or "+1"), no
// whitespace, no embedded NUL, no value above
// kMaxWeightStreamingBudget. `size` counts every byte handed over, so an
// embedded NUL is seen and refused rather than silently ending the number.
BudgetParse parse_weight_streaming_budget(const char* text, size_t size);

// Where the budget in force came from.
enum class BudgetSource : uint8_t {
  kNotStreamable, // engine built without weight streaming: no budget applied
  kLoadOption, // backend option at load time, or set_option() after load
  kCompileSpec, // baked into the .pte at export
  kAutomatic, // TensorRT's automatic budget
};

const char* budget_source_name(BudgetSource source);

// The budget a delegate asks for: from the highest of its explicit sources
// (kLoadOption, kCompileSpec), or none (kAutomatic).
struct BudgetRequest {
  std::optional<uint64_t> bytes;
  BudgetSource source = BudgetSource::kAutomatic;
};

struct BudgetInputs {
  BudgetRequest requested;
  int64_t streamable_bytes = 0; // engine's streamable weights; <= 0: cannot stream
  int64_t automatic_bytes = 0; // TensorRT's automatic budget
};

struct BudgetDecision {
  bool apply = false; // false: make no budget call at all
  int64_t bytes = 0; // budget to apply when `apply`
  BudgetSource source = BudgetSource::kNotStreamable;
  bool clamped = false; // requested value exceeded the streamable size
  uint64_t requested = 0; // the explicit value before clamping
  std::string note; // something worth logging (ignored or clamped value), or ""
};

// The requested budget, else the automatic one. An explicit budget on an engine that cannot stream is ignored with a note; an explicit
// budget above the streamable size is clamped to it.
BudgetDecision resolve_weight_streaming_budget(const BudgetInputs& inputs);

} // namespace executorch_tensorrt
