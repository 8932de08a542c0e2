// libFuzzer target: parse_weight_streaming_budget on arbitrary text, and
// resolve_weight_streaming_budget on arbitrary inputs. Checks the parser
// against its contract (digits only, <= INT64_MAX, value equals the digits)
// and the resolver against its rules (never above the streamable size, no
// call for an engine that cannot stream).

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <options/weight_streaming_budget.h>

using namespace executorch_tensorrt;

namespace {

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

// Reference: what the text should parse to, computed the slow obvious way.
bool reference_parse(const std::vector<char>& text, uint64_t* value) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) { // the option grammar: no leading zero
    return false;
  }
  unsigned __int128 v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > kMaxWeightStreamingBudget) {
      return false;
    }
  }
  *value = static_cast<uint64_t>(v);
  return true;
}

template <typename T>
T take(const uint8_t*& data, size_t& size) {
  T value{};
  const size_t n = size < sizeof(T) ? size : sizeof(T);
  if (n > 0) {
    std::memcpy(&value, data, n);
  }
  data += n;
  size -= n;
  return value;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<char> text(data, data + size);
  const BudgetParse parsed = parse_weight_streaming_budget(text.data(), text.size());
  uint64_t expected = 0;
  const bool valid = reference_parse(text, &expected);
  require(parsed.bytes.has_value() == valid);
  if (valid) {
    require(*parsed.bytes == expected);
  } else {
    require(!parsed.problem.empty());
  }

  // The same bytes as resolver inputs.
  BudgetInputs inputs;
  const uint8_t flags = take<uint8_t>(data, size);
  const uint64_t load = take<uint64_t>(data, size);
  const uint64_t spec = take<uint64_t>(data, size);
  if (flags & 1) {
    inputs.requested = {load, BudgetSource::kLoadOption};
  } else if (flags & 2) {
    inputs.requested = {spec, BudgetSource::kCompileSpec};
  }
  inputs.streamable_bytes = take<int64_t>(data, size);
  inputs.automatic_bytes = take<int64_t>(data, size);
  const BudgetDecision decision = resolve_weight_streaming_budget(inputs);
  require(budget_source_name(decision.source) != nullptr);
  if (inputs.streamable_bytes <= 0) {
    require(!decision.apply);
  }
  if (decision.apply && decision.source != BudgetSource::kAutomatic) {
    require(decision.bytes >= 0 && decision.bytes <= inputs.streamable_bytes);
    require(decision.clamped == (decision.requested > static_cast<uint64_t>(inputs.streamable_bytes)));
  }
  return 0;
}
