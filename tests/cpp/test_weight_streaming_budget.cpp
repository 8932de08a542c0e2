// Tables for the pure decisions: parsing a budget, resolving it from its
// three sources, and reading compile specs and backend options.

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <options/delegate_options.h>
#include <common/error_report.h>
#include <options/weight_streaming_budget.h>

using namespace executorch_tensorrt;
using executorch::runtime::BackendOption;
using executorch::runtime::CompileSpec;

namespace {

struct ParseCase {
  std::string text;
  bool ok;
  uint64_t bytes;
  const char* problem; // substring of the message when !ok
};

TEST(WeightStreamingBudgetParser, Table) {
  const std::vector<ParseCase> cases = {
      {"0", true, 0, ""},
      {"1", true, 1, ""},
      {"2147483648", true, 2147483648ull, ""},
      {"0000123", false, 0, "leading zero"},
      {"00", false, 0, "leading zero"},
      {"9223372036854775807", true, 9223372036854775807ull, ""},
      {"9223372036854775808", false, 0, "larger than the largest"},
      {"18446744073709551616", false, 0, "larger than the largest"},
      {"99999999999999999999999", false, 0, "larger than the largest"},
      {"", false, 0, "empty"},
      {"-0", false, 0, "sign"},
      {"-1", false, 0, "sign"},
      {"+1", false, 0, "sign"},
      {" 1", false, 0, "whitespace"},
      {"1 ", false, 0, "whitespace"},
      {"1\n", false, 0, "whitespace"},
      {std::string("12\0" "3", 4), false, 0, "embedded NUL"},
      {"1e9", false, 0, "'e' at position 1"},
      {"0x10", false, 0, "'x'"},
      {"1.5", false, 0, "'.'"},
      {"1_000", false, 0, "'_'"},
      {"\xff", false, 0, "0xff"},
  };
  for (const ParseCase& c : cases) {
    const BudgetParse parsed = parse_weight_streaming_budget(c.text.data(), c.text.size());
    EXPECT_EQ(parsed.bytes.has_value(), c.ok) << "'" << c.text << "': " << parsed.problem;
    if (c.ok && parsed.bytes.has_value()) {
      EXPECT_EQ(*parsed.bytes, c.bytes) << c.text;
    } else {
      EXPECT_NE(parsed.problem.find(c.problem), std::string::npos) << "'" << c.text << "': " << parsed.problem;
    }
  }
  EXPECT_FALSE(parse_weight_streaming_budget(nullptr, 0).bytes.has_value());
}

struct ResolveCase {
  const char* name;
  std::optional<uint64_t> load_option;
  std::optional<uint64_t> compile_spec;
  int64_t streamable;
  int64_t automatic;
  bool apply;
  int64_t bytes;
  BudgetSource source;
  bool clamped;
  bool noted;
};

TEST(WeightStreamingBudgetResolution, PrecedenceTable) {
  const std::vector<ResolveCase> cases = {
      {"automatic when nothing is given", {}, {}, 1000, 400, true, 400, BudgetSource::kAutomatic, false, false},
      {"compile spec over automatic", {}, 300, 1000, 400, true, 300, BudgetSource::kCompileSpec, false, false},
      {"load option over compile spec", 200, 300, 1000, 400, true, 200, BudgetSource::kLoadOption, false, false},
      {"load option over automatic", 200, {}, 1000, 400, true, 200, BudgetSource::kLoadOption, false, false},
      {"zero is a valid budget", 0, 300, 1000, 400, true, 0, BudgetSource::kLoadOption, false, false},
      {"above streamable is clamped", 5000, {}, 1000, 400, true, 1000, BudgetSource::kLoadOption, true, true},
      {"baked above streamable is clamped", {}, 1001, 1000, 400, true, 1000, BudgetSource::kCompileSpec, true, true},
      {"exactly streamable is kept", 1000, {}, 1000, 400, true, 1000, BudgetSource::kLoadOption, false, false},
      {"not streamable: nothing applied", {}, {}, 0, 0, false, 0, BudgetSource::kNotStreamable, false, false},
      {"not streamable: load option ignored", 200, {}, 0, 0, false, 0, BudgetSource::kNotStreamable, false, true},
      {"not streamable: compile spec ignored", {}, 300, 0, 0, false, 0, BudgetSource::kNotStreamable, false, true},
      {"negative streamable means none", 200, {}, -1, 0, false, 0, BudgetSource::kNotStreamable, false, true},
      {"negative automatic becomes 0", {}, {}, 1000, -5, true, 0, BudgetSource::kAutomatic, false, false},
  };
  for (const ResolveCase& c : cases) {
    BudgetInputs inputs;
    DelegateOptions load, baked;
    load.weight_streaming_budget = c.load_option;
    baked.weight_streaming_budget = c.compile_spec;
    inputs.requested = resolve_policies(load, baked).budget; // the precedence lives there
    inputs.streamable_bytes = c.streamable;
    inputs.automatic_bytes = c.automatic;
    const BudgetDecision d = resolve_weight_streaming_budget(inputs);
    EXPECT_EQ(d.apply, c.apply) << c.name;
    EXPECT_EQ(d.bytes, c.bytes) << c.name;
    EXPECT_EQ(d.source, c.source) << c.name;
    EXPECT_EQ(d.clamped, c.clamped) << c.name;
    EXPECT_EQ(!d.note.empty(), c.noted) << c.name << ": " << d.note;
  }
}

// The policies in force: load-time/set_option > compile spec > the table's defaults.
TEST(PoliciesInForce, PrecedenceTable) {
  DelegateOptions none, baked, load;
  baked.init_policy = InitPolicy::kDeferred;
  baked.execution_memory = ExecutionMemoryScope::kPrivate;
  baked.weight_streaming_budget = 300;
  load.init_policy = InitPolicy::kDeferredContext;
  load.output_buffers = OutputBufferPolicy::kFresh;

  const PoliciesInForce defaults = resolve_policies(none, none);
  EXPECT_EQ(defaults.init_policy, InitPolicy::kEager);
  EXPECT_EQ(defaults.output_buffers, OutputBufferPolicy::kReuse);
  EXPECT_EQ(defaults.execution_memory, ExecutionMemoryScope::kProgram);
  EXPECT_FALSE(defaults.budget.bytes.has_value());
  EXPECT_EQ(defaults.budget.source, BudgetSource::kAutomatic);

  const PoliciesInForce mixed = resolve_policies(load, baked);
  EXPECT_EQ(mixed.init_policy, InitPolicy::kDeferredContext); // load over compile spec
  EXPECT_EQ(mixed.output_buffers, OutputBufferPolicy::kFresh); // load over default
  EXPECT_EQ(mixed.execution_memory, ExecutionMemoryScope::kPrivate); // compile spec over default
  EXPECT_EQ(mixed.budget.bytes, 300u);
  EXPECT_EQ(mixed.budget.source, BudgetSource::kCompileSpec);

  load.weight_streaming_budget = 0;
  const PoliciesInForce loaded = resolve_policies(load, baked);
  EXPECT_EQ(loaded.budget.bytes, 0u); // zero is a budget, not "unset"
  EXPECT_EQ(loaded.budget.source, BudgetSource::kLoadOption);
}

CompileSpec spec(const char* key, const std::string& value) {
  CompileSpec s;
  s.key = key;
  s.value.buffer = const_cast<char*>(value.data());
  s.value.nbytes = value.size();
  return s;
}

TEST(CompileSpecParser, ReadsPoliciesAndRefusesBadOnes) {
  const std::string budget = "4096", policy = "deferred", buffers = "fresh", builder = "tensorrt_rtx";
  std::vector<CompileSpec> specs = {
      spec("weight_streaming_budget", budget), spec("init_policy", policy), spec("output_buffers", buffers),
      spec("engine_builder", builder)};
  auto parsed = parse_compile_specs({specs.data(), specs.size()});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->weight_streaming_budget, 4096u);
  EXPECT_EQ(parsed->init_policy, InitPolicy::kDeferred);
  EXPECT_EQ(parsed->output_buffers, OutputBufferPolicy::kFresh);

  const std::string bad_budget = "-0", bad_policy = "lazy", other = "1";
  const std::vector<std::vector<CompileSpec>> refused = {
      {spec("weight_streaming_budget", bad_budget)},
      {spec("init_policy", bad_policy)},
      {spec("output_buffers", bad_policy)},
      {spec("mystery_key", other)},
      {spec("init_policy", policy), spec("init_policy", policy)},
  };
  for (const auto& specs_case : refused) {
    EXPECT_FALSE(parse_compile_specs({specs_case.data(), specs_case.size()}).ok()) << specs_case[0].key;
  }
  EXPECT_TRUE(parse_compile_specs({}).ok());
}

TEST(CompileSpecParser, ExecutionMemoryScopes) {
  for (const auto& [text, scope] : std::vector<std::pair<std::string, ExecutionMemoryScope>>{
           {"private", ExecutionMemoryScope::kPrivate},
           {"program", ExecutionMemoryScope::kProgram},
           {"process", ExecutionMemoryScope::kProcess}}) {
    std::vector<CompileSpec> specs = {spec("execution_memory", text)};
    auto parsed = parse_compile_specs({specs.data(), specs.size()});
    ASSERT_TRUE(parsed.ok()) << text;
    EXPECT_EQ(parsed->execution_memory, scope);
  }
  const std::string shared = "shared", recorded = "per_range";
  std::vector<CompileSpec> bad = {spec("execution_memory", shared)};
  clear_last_error();
  EXPECT_FALSE(parse_compile_specs({bad.data(), bad.size()}).ok());
  EXPECT_NE(std::string(last_error_message()).find("execution_memory=\"shared\" is not one of private, program, process"),
            std::string::npos)
      << last_error_message();
  // batch_engines is the exporter's record: accepted and ignored.
  std::vector<CompileSpec> record = {spec("batch_engines", recorded)};
  EXPECT_TRUE(parse_compile_specs({record.data(), record.size()}).ok());
}

BackendOption text_option(const char* key, const char* value) {
  BackendOption option;
  std::strncpy(option.key, key, sizeof(option.key) - 1);
  std::array<char, executorch::runtime::kMaxOptionValueLength> text{};
  std::strncpy(text.data(), value, text.size() - 1);
  option.value = text;
  return option;
}

BackendOption int_option(const char* key, int value) {
  BackendOption option;
  std::strncpy(option.key, key, sizeof(option.key) - 1);
  option.value = value;
  return option;
}

TEST(BackendOptionParser, BudgetAsStringOrIntAndPolicies) {
  std::vector<BackendOption> options = {
      text_option("weight_streaming_budget", "8589934592"), text_option("init_policy", "eager")};
  auto parsed = parse_backend_options({options.data(), options.size()}, "load-time option");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->options.weight_streaming_budget, 8589934592ull);
  EXPECT_EQ(parsed->options.init_policy, InitPolicy::kEager);

  options = {text_option("execution_memory", "process")};
  auto scope = parse_backend_options({options.data(), options.size()}, "set_option");
  ASSERT_TRUE(scope.ok());
  EXPECT_EQ(scope->options.execution_memory, ExecutionMemoryScope::kProcess);

  options = {int_option("weight_streaming_budget", 1234)};
  auto from_int = parse_backend_options({options.data(), options.size()}, "load-time option");
  ASSERT_TRUE(from_int.ok());
  EXPECT_EQ(from_int->options.weight_streaming_budget, 1234u);

  // An empty string is reported and ignored.
  options = {text_option("weight_streaming_budget", "")};
  auto empty = parse_backend_options({options.data(), options.size()}, "load-time option");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->options.weight_streaming_budget.has_value());
  EXPECT_NE(empty->notes.find("empty"), std::string::npos);

  const std::vector<BackendOption> refused = {
      text_option("weight_streaming_budget", "12abc"), int_option("weight_streaming_budget", -1),
      text_option("init_policy", "later"), int_option("init_policy", 1), text_option("no_such_option", "1"),
      text_option("output_buffers", "sometimes"), text_option("execution_memory", "shared"),
      int_option("execution_memory", 1)};
  for (const BackendOption& option : refused) {
    EXPECT_FALSE(parse_backend_options({&option, 1}, "load-time option").ok()) << option.key;
  }
}

} // namespace
