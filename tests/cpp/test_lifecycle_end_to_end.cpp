// Weight-streaming budget and init policy through ExecuTorch's real runtime:
// C++ Module::load with load-time backend options, set_option()/get_option()
// through ExecuTorch's backend-option API, programs exported by pytest with
// the test engine's simulated device memory (tests/memory_programs.py).

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <executorch/extension/module/module.h>
#include <memory/staging_buffers.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>
#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/backend/options.h>

#include <backend_id.h>
#include <control/delegate_registry.h>
#include <common/error_report.h>
#include <control/program_tag.h>
#include <support/backend_option_list.h>

extern "C" int etrt_test_engine_budget_calls();
extern "C" int64_t etrt_test_engine_last_budget();
extern "C" int etrt_test_engine_deserialize_count();
extern "C" int64_t etrt_test_device_bytes_in_use();

using executorch::extension::make_tensor_ptr;
using executorch::extension::module::Module;
using executorch::runtime::BackendOption;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using executorch::runtime::LoadBackendOptionsMap;
using namespace executorch_tensorrt;

namespace {

std::string program_path(const std::string& name) {
  const char* dir = std::getenv("ETTRT_TEST_PROGRAMS");
  EXPECT_NE(dir, nullptr) << "run through pytest (tests/test_cpp.py)";
  return std::string(dir == nullptr ? "." : dir) + "/" + name + ".pte";
}

// A Module whose delegates carry their own program tag, so get_option and
// set_option reach this program only, as the Python loader does it.
class TaggedProgram {
 public:
  explicit TaggedProgram(const std::string& name) : module_(program_path(name)) {}

  Error load(const LoadBackendOptionsMap* map = nullptr) {
    ProgramTagScope scope(tag_);
    clear_last_error();
    const Error err = map == nullptr ? module_.load() : module_.load(*map);
    return err != Error::Ok ? err : module_.load_method("forward");
  }

  // forward(x) = x + 1 on a 2x3 input; true when the outputs are right.
  bool forward_is_correct() {
    ProgramTagScope scope(tag_);
    auto x = make_tensor_ptr({2, 3}, std::vector<float>{-3, -1, 0, 1, 2, 3});
    auto out = module_.forward({EValue(x)});
    EXPECT_TRUE(out.ok()) << last_error_message();
    if (!out.ok()) {
      return false;
    }
    const float* y = (*out)[0].toTensor().const_data_ptr<float>();
    for (int i = 0; i < 6; ++i) {
      if (y[i] != x->const_data_ptr<float>()[i] + 1.0f) {
        return false;
      }
    }
    return true;
  }

  std::string query(const char* key) {
    BackendOption queries[2];
    std::snprintf(queries[0].key, sizeof(queries[0].key), "%s", key);
    std::snprintf(queries[1].key, sizeof(queries[1].key), "program");
    queries[1].value = static_cast<int>(tag_);
    const Error err = executorch::runtime::get_option(kBackendId, {queries, 2});
    EXPECT_EQ(err, Error::Ok) << last_error_message();
    const auto* text = std::get_if<std::array<char, executorch::runtime::kMaxOptionValueLength>>(&queries[0].value);
    return text == nullptr ? "" : std::string(text->data());
  }

  Error set_budget(const char* bytes) {
    BackendOptionList options;
    EXPECT_EQ(options.add_string("weight_streaming_budget", bytes), "");
    EXPECT_EQ(options.add_int("program", tag_), "");
    clear_last_error();
    return executorch::runtime::set_option(kBackendId, options.view());
  }

 private:
  int64_t tag_ = new_program_tag();
  Module module_;
};

struct LoadOption {
  const char* key = nullptr;
  std::variant<std::monostate, const char*, int> value;
};

struct PrecedenceRow {
  const char* program;
  LoadOption option;
  bool loads;
  const char* budget; // get_option answer
  const char* source;
  bool budget_call;
  const char* message; // substring of the error when !loads
};

TEST(BudgetThroughModule, PrecedenceTable) {
  const std::vector<PrecedenceRow> rows = {
      {"streaming", {}, true, "1024", "automatic", true, ""},
      {"streaming_baked", {}, true, "2048", "compile_spec", true, ""},
      {"streaming_baked", {"weight_streaming_budget", "1500"}, true, "1500", "load_option", true, ""},
      {"streaming_baked", {"weight_streaming_budget", 1000}, true, "1000", "load_option", true, ""},
      {"streaming", {"weight_streaming_budget", "0"}, true, "0", "load_option", true, ""},
      {"streaming", {"weight_streaming_budget", "99999999999"}, true, "3072", "load_option", true, ""},
      {"streaming_baked", {"weight_streaming_budget", ""}, true, "2048", "compile_spec", true, ""},
      {"not_streaming", {}, true, "none", "not_streamable", false, ""},
      {"not_streaming_baked", {}, true, "none", "not_streamable", false, ""},
      {"not_streaming", {"weight_streaming_budget", "500"}, true, "none", "not_streamable", false, ""},
      {"streaming", {"weight_streaming_budget", "12abc"}, false, "", "", false, "weight_streaming_budget=\"12abc\""},
      {"streaming", {"weight_streaming_budget", -5}, false, "", "", false, "is negative"},
      {"streaming_bad_budget", {}, false, "", "", false, "compile spec weight_streaming_budget=\"-0\""},
  };
  for (const PrecedenceRow& row : rows) {
    SCOPED_TRACE(std::string(row.program) + " " + (row.option.key ? row.option.key : "(no option)"));
    BackendOptionList options;
    if (const char* const* text = std::get_if<const char*>(&row.option.value)) {
      ASSERT_EQ(options.add_string(row.option.key, *text), "");
    } else if (const int* number = std::get_if<int>(&row.option.value)) {
      ASSERT_EQ(options.add_int(row.option.key, *number), "");
    }
    LoadBackendOptionsMap map;
    ASSERT_EQ(map.set_options(kBackendId, options.view()), Error::Ok);
    TaggedProgram program(row.program);
    const int calls_before = etrt_test_engine_budget_calls();
    const Error err = program.load(&map);
    if (!row.loads) {
      EXPECT_NE(err, Error::Ok);
      EXPECT_NE(std::string(last_error_message()).find(row.message), std::string::npos) << last_error_message();
      continue;
    }
    ASSERT_EQ(err, Error::Ok) << last_error_message();
    EXPECT_EQ(program.query("weight_streaming_budget"), row.budget);
    EXPECT_EQ(program.query("weight_streaming_budget_source"), row.source);
    EXPECT_EQ(etrt_test_engine_budget_calls() - calls_before, row.budget_call ? 1 : 0);
    if (row.budget_call) {
      EXPECT_EQ(std::to_string(etrt_test_engine_last_budget()), row.budget);
    }
    EXPECT_TRUE(program.forward_is_correct());
  }
}

TEST(BudgetThroughModule, SetOptionChangesTheBudgetBetweenExecutes) {
  TaggedProgram program("streaming_baked");
  ASSERT_EQ(program.load(), Error::Ok) << last_error_message();
  ASSERT_TRUE(program.forward_is_correct());
  EXPECT_EQ(program.query("weight_streaming_budget"), "2048");
  // Held by the engine: 1024 bytes that cannot stream + the budget. Its 512
  // bytes of activation come from the program's shared execution memory.
  EXPECT_EQ(program.query("device_bytes"), std::to_string(1024 + 2048));
  EXPECT_EQ(program.query("execution_memory_pool_bytes"), "512");

  ASSERT_EQ(program.set_budget("512"), Error::Ok) << last_error_message();
  EXPECT_EQ(program.query("weight_streaming_budget"), "512");
  EXPECT_EQ(program.query("weight_streaming_budget_source"), "load_option");
  EXPECT_EQ(etrt_test_engine_last_budget(), 512);
  EXPECT_EQ(program.query("device_bytes"), std::to_string(1024 + 512));
  EXPECT_TRUE(program.forward_is_correct());
  // The context was recreated; the shared memory comes back at its next run.
  EXPECT_EQ(program.query("execution_memory_pool_bytes"), "512");

  // A malformed value fails with the value named and changes nothing.
  EXPECT_NE(program.set_budget("5 GB"), Error::Ok);
  EXPECT_NE(std::string(last_error_message()).find("\"5 GB\""), std::string::npos) << last_error_message();
  EXPECT_EQ(program.query("weight_streaming_budget"), "512");
  EXPECT_TRUE(program.forward_is_correct());
}

TEST(InitPolicyThroughModule, DeferredSpendsNothingUntilTheFirstExecute) {
  const int64_t device_before = etrt_test_device_bytes_in_use();
  const int deserialized_before = etrt_test_engine_deserialize_count();
  TaggedProgram program("streaming_deferred");
  ASSERT_EQ(program.load(), Error::Ok) << last_error_message();
  EXPECT_EQ(program.query("state"), "host");
  EXPECT_EQ(program.query("init_policy"), "deferred");
  EXPECT_EQ(etrt_test_device_bytes_in_use(), device_before);
  EXPECT_EQ(etrt_test_engine_deserialize_count(), deserialized_before);

  ASSERT_TRUE(program.forward_is_correct());
  EXPECT_EQ(program.query("state"), "device");
  // Weights, activations, and the executor's staging buffer: one aligned
  // slot for the host input and one for the host output.
  EXPECT_EQ(etrt_test_device_bytes_in_use() - device_before, 1024 + 1024 + 512 + 2 * static_cast<int64_t>(kStagingAlignment));
  EXPECT_EQ(program.query("weight_streaming_budget_source"), "automatic");
}

TEST(InitPolicyThroughModule, LoadTimeOptionOverridesTheBakedPolicy) {
  executorch::runtime::BackendOptions<1> options;
  options.set_option("init_policy", "eager");
  LoadBackendOptionsMap map;
  ASSERT_EQ(map.set_options(kBackendId, options.view()), Error::Ok);
  TaggedProgram program("streaming_deferred");
  ASSERT_EQ(program.load(&map), Error::Ok) << last_error_message();
  EXPECT_EQ(program.query("state"), "device");
  EXPECT_EQ(program.query("init_policy"), "eager");
}

} // namespace

namespace {

// ExecuTorch gives init() no program identity. A host that does not tag its
// programs (plain C++ Module, no ProgramTagScope) still gets one pool per
// method, keyed by the method's allocator: the delegates of one method share,
// two loaded programs do not.
TEST(ExecutionMemoryThroughModule, UntaggedProgramsGetOnePoolPerMethod) {
  Module first(program_path("two_engines")), second(program_path("two_engines"));
  for (Module* module : {&first, &second}) {
    ASSERT_EQ(module->load(), Error::Ok) << last_error_message();
    auto x = make_tensor_ptr({2, 3}, std::vector<float>{-3, -1, 0, 1, 2, 3});
    auto out = module->forward({EValue(x)});
    ASSERT_TRUE(out.ok()) << last_error_message();
  }
  const std::vector<DelegateReport> reports = delegate_reports(std::nullopt);
  ASSERT_EQ(reports.size(), 4u); // two delegates per program, in load order
  for (const DelegateReport& report : reports) {
    ASSERT_TRUE(report.pool.has_value());
    EXPECT_EQ(report.program_tag, 0); // untagged
    EXPECT_EQ(report.execution_memory, "program");
    EXPECT_EQ(report.pool->capacity_bytes, 512); // both engines need 512: the pool holds one need
    EXPECT_EQ(report.pool->summed_need_bytes, 1024);
  }
  EXPECT_EQ(reports[0].pool->id, reports[1].pool->id);
  EXPECT_EQ(reports[2].pool->id, reports[3].pool->id);
  EXPECT_NE(reports[0].pool->id, reports[2].pool->id);
}

} // namespace
