// The delegate driven through ExecuTorch's real runtime (C++ Module) with
// programs exported by the Python exporter. The directory of programs comes
// from ETTRT_TEST_PROGRAMS, which tests/test_cpp.py sets after exporting them.

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <sys/stat.h>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>
#include <executorch/runtime/backend/interface.h>

#include <backend_id.h>
#include <execute/delegate_executor.h>
#include <common/error_report.h>

#include "simulated_device_engine.h"

extern "C" void etrt_test_engine_set_device_count(int count);
extern "C" int etrt_test_engine_run_count();

using executorch::extension::make_tensor_ptr;
using executorch::extension::module::Module;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using namespace executorch_tensorrt;

namespace {

std::string program(const char* name) {
  const char* dir = std::getenv("ETTRT_TEST_PROGRAMS");
  if (dir == nullptr) {
    ADD_FAILURE() << "ETTRT_TEST_PROGRAMS is not set; run the C++ tests through pytest (tests/test_cpp.py)";
    return "";
  }
  return std::string(dir) + "/" + name;
}

bool machine_has_nvidia_gpu() {
  struct stat st{};
  return stat("/dev/nvidiactl", &st) == 0;
}

std::string load_error(Module& module) {
  clear_last_error();
  const Error err = module.load_method("forward");
  EXPECT_NE(err, Error::Ok);
  return last_error_message();
}

} // namespace

TEST(ModuleEndToEnd, BackendIsRegisteredForCppModule) {
  bool found = false;
  for (size_t i = 0; i < executorch::runtime::get_num_registered_backends(); ++i) {
    auto name = executorch::runtime::get_backend_name(i);
    found = found || (name.ok() && std::string(*name) == kBackendId);
  }
  EXPECT_TRUE(found);
}

TEST(ModuleEndToEnd, TestEngineProgramGivesCorrectOutputs) {
  Module module(program("add_relu.pte"));
  ASSERT_EQ(module.load(), Error::Ok);
  auto x = make_tensor_ptr({2, 3}, std::vector<float>{-3, -1, 0, 1, 2, 3});
  auto y = make_tensor_ptr({2, 3}, std::vector<float>{1, 0.5f, -1, 1, -5, 0});
  const int runs_before = etrt_test_engine_run_count();
  auto outputs = module.forward({EValue(x), EValue(y)});
  ASSERT_TRUE(outputs.ok()) << last_error_message();
  EXPECT_EQ(etrt_test_engine_run_count(), runs_before + 1);
  ASSERT_EQ(outputs->size(), 2u);
  // forward(x, y) = (relu(x + y), x * 2)
  const float expect_relu[] = {0, 0, 0, 2, 0, 3};
  const float* relu = (*outputs)[0].toTensor().const_data_ptr<float>();
  const float* twice = (*outputs)[1].toTensor().const_data_ptr<float>();
  for (int i = 0; i < 6; ++i) {
    EXPECT_FLOAT_EQ(relu[i], expect_relu[i]) << i;
    EXPECT_FLOAT_EQ(twice[i], x->const_data_ptr<float>()[i] * 2) << i;
  }
}

TEST(ModuleEndToEnd, UnknownLoadTimeOptionIsRefusedNamingIt) {
  executorch::runtime::BackendOptions<1> options;
  ASSERT_EQ(options.set_option("unused_option", "1"), Error::Ok);
  executorch::runtime::LoadBackendOptionsMap map;
  ASSERT_EQ(map.set_options(kBackendId, options.view()), Error::Ok);
  Module module(program("add_relu.pte"));
  ASSERT_EQ(module.load(map), Error::Ok);
  const std::string message = load_error(module);
  EXPECT_NE(message.find("unknown load-time option 'unused_option'"), std::string::npos) << message;
}

TEST(ModuleEndToEnd, EngineFromAnotherVersionIsRefusedNamingBoth) {
  Module module(program("add_relu_v2.pte"));
  ASSERT_EQ(module.load(), Error::Ok);
  const std::string message = load_error(module);
  EXPECT_NE(message.find("engine built by test 2.0.0, this delegate runs test 1.0.0"), std::string::npos) << message;
}

TEST(ModuleEndToEnd, MissingDeviceIsReported) {
  etrt_test_engine_set_device_count(0);
  Module module(program("add_relu.pte"));
  ASSERT_EQ(module.load(), Error::Ok);
  const std::string message = load_error(module);
  etrt_test_engine_set_device_count(1);
  EXPECT_NE(message.find("no device 0"), std::string::npos) << message;
}

TEST(ModuleEndToEnd, RealTensorRTRtxEngineWithoutGpu) {
  Module module(program("rtx_mlp.pte"));
  ASSERT_EQ(module.load(), Error::Ok);
  const std::string message = load_error(module);
  if (machine_has_nvidia_gpu()) {
    // With a GPU the device check passes and the flavour check refuses it.
    EXPECT_NE(message.find("builder flavour mismatch"), std::string::npos) << message;
  } else {
    EXPECT_NE(message.find("no CUDA device is available"), std::string::npos) << message;
  }
}

// ---------------------------------------------------------------------------
// DelegateExecutor on its own, with an engine that records what it was given.

namespace {

class RecordingEngine final : public SimulatedDeviceEngine {
 public:
  Error infer_output_shapes(uint32_t profile, Span<const Shape> inputs, Span<Shape> outputs) override {
    last_profile = profile;
    outputs[0] = inputs[0];
    return Error::Ok;
  }
  Error evaluate(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) override {
    ++runs;
    const auto* in = static_cast<const float*>(inputs[0].data);
    auto* out = static_cast<float*>(outputs[0].data);
    for (size_t i = 0; i < outputs[0].nbytes / sizeof(float); ++i) {
      out[i] = in[i] + 1.0f;
    }
    return Error::Ok;
  }
  int runs = 0;
  uint32_t last_profile = 99;
};

// Hands out the engine and counts how often it was asked for.
class RecordingSource final : public EngineSource {
 public:
  explicit RecordingSource(Engine& engine) : engine_(engine) {}
  Result<EngineLease> acquire(uint32_t /*index*/) override {
    ++acquired;
    EngineLease lease;
    lease.engine = &engine_;
    return lease;
  }
  int acquired = 0;

 private:
  Engine& engine_;
};

EngineMetadata one_in_one_out() {
  EngineMetadata meta;
  meta.flavour = Flavour::kTest;
  TensorSpec in{"input_0", 6, {}};
  Shape lo, hi;
  lo.rank = hi.rank = 2;
  lo.dims[0] = 1;
  hi.dims[0] = 4;
  lo.dims[1] = hi.dims[1] = 3;
  in.ranges.push_back({lo, lo, hi});
  TensorSpec out = in;
  out.name = "output_0";
  meta.inputs.push_back(in);
  meta.outputs.push_back(out);
  return meta;
}

std::string execute_error(DelegateExecutor& executor, RecordingSource& source, std::vector<EValue*> args) {
  clear_last_error();
  EXPECT_NE(executor.execute(source, {args.data(), args.size()}), Error::Ok);
  return last_error_message();
}

} // namespace

TEST(DelegateExecutor, BindsRunsAndResizesOutputs) {
  const EngineMetadata meta = one_in_one_out();
  RecordingEngine engine;
  RecordingSource source(engine);
  DelegateExecutor executor(meta);
  auto in = make_tensor_ptr({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  auto out = make_tensor_ptr({4, 3}, std::vector<float>(12, 0.0f));
  EValue a(in), b(out);
  std::vector<EValue*> args{&a, &b};
  ASSERT_EQ(executor.execute(source, {args.data(), args.size()}), Error::Ok) << last_error_message();
  EXPECT_EQ(out->size(0), 2);  // resized to the engine's output shape
  EXPECT_FLOAT_EQ(out->const_data_ptr<float>()[5], 7.0f);
  EXPECT_EQ(engine.runs, 1);
}

TEST(DelegateExecutor, RejectsBadArgumentsWithMessages) {
  const EngineMetadata meta = one_in_one_out();
  RecordingEngine engine;
  RecordingSource source(engine);
  DelegateExecutor executor(meta);
  auto out = make_tensor_ptr({4, 3}, std::vector<float>(12, 0.0f));
  EValue out_value(out);

  auto too_big = make_tensor_ptr({5, 3}, std::vector<float>(15, 0.0f));
  EValue big(too_big);
  EXPECT_NE(execute_error(executor, source, {&big, &out_value})
                .find("input 'input_0' (#0): expected float32 [1, 3]..[4, 3], got float32 [5, 3]"),
            std::string::npos);

  auto wrong_rank = make_tensor_ptr({6}, std::vector<float>(6, 0.0f));
  EValue rank(wrong_rank);
  EXPECT_NE(execute_error(executor, source, {&rank, &out_value}).find("got float32 [6]"), std::string::npos);

  auto wrong_dtype = make_tensor_ptr({2, 3}, std::vector<int32_t>(6, 0));
  EValue dtype(wrong_dtype);
  EXPECT_NE(execute_error(executor, source, {&dtype, &out_value}).find("got int32 [2, 3]"), std::string::npos);

  EXPECT_NE(execute_error(executor, source, {&out_value}).find("expects 1 inputs and 1 outputs (2 arguments), got 1"),
            std::string::npos);

  EValue not_a_tensor(static_cast<int64_t>(3));
  EXPECT_NE(execute_error(executor, source, {&not_a_tensor, &out_value}).find("must be a tensor"), std::string::npos);
  EXPECT_EQ(engine.runs, 0);  // nothing ran for a bad call
  EXPECT_EQ(source.acquired, 0);  // and no engine was asked for
}

TEST(DelegateExecutor, PicksTheProfileThatHoldsEveryInput) {
  // Two inputs, two profiles: batch 1..4 and 5..8, for both inputs alike.
  EngineMetadata meta;
  meta.flavour = Flavour::kTest;
  meta.num_profiles = 2;
  auto range = [](int64_t lo, int64_t hi) {
    Shape a, b;
    a.rank = b.rank = 2;
    a.dims[0] = lo;
    b.dims[0] = hi;
    a.dims[1] = b.dims[1] = 3;
    return ShapeRange{a, a, b};
  };
  for (const char* name : {"input_0", "input_1"}) {
    meta.inputs.push_back(TensorSpec{name, 6, {range(1, 4), range(5, 8)}});
  }
  meta.outputs.push_back(TensorSpec{"output_0", 6, {range(1, 4), range(5, 8)}});
  RecordingEngine engine;
  RecordingSource source(engine);
  DelegateExecutor executor(meta);
  auto small = make_tensor_ptr({2, 3}, std::vector<float>(6, 1.0f));
  auto large = make_tensor_ptr({6, 3}, std::vector<float>(18, 1.0f));
  auto large2 = make_tensor_ptr({6, 3}, std::vector<float>(18, 1.0f));
  auto out = make_tensor_ptr({8, 3}, std::vector<float>(24, 0.0f));
  EValue s(small), l(large), l2(large2), o(out);

  std::vector<EValue*> both_large{&l, &l2, &o};
  ASSERT_EQ(executor.execute(source, {both_large.data(), both_large.size()}), Error::Ok) << last_error_message();
  EXPECT_EQ(engine.last_profile, 1u);

  // Each input fits some profile, but no single profile holds both.
  const std::string message = execute_error(executor, source, {&s, &l, &o});
  EXPECT_NE(message.find("no optimization profile of the engine holds all inputs together"), std::string::npos) << message;
  EXPECT_NE(message.find("input_0 [2, 3], input_1 [6, 3]"), std::string::npos) << message;
}
