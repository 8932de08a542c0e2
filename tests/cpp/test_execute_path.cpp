// The execute path: staging buffer policies (reuse / fresh), growth, device
// tensors bound zero-copy, engines back to back on the device, counters.
// Engines are the real test engine (deserialized through the registry) or,
// for Module runs, programs exported by the Python exporter.

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>

#include <execute/delegate_executor.h>
#include <engines/engine_runtime_registry.h>
#include <engines/fixed_engine_source.h>
#include <common/error_report.h>
#include <memory/staging_buffers.h>

#include "../engine/test_device_memory.h"

using executorch::aten::Device;
using executorch::aten::DeviceType;
using executorch::aten::ScalarType;
using executorch::extension::from_blob;
using executorch::extension::make_tensor_ptr;
using executorch::extension::TensorPtr;
using executorch::extension::module::Module;
using executorch::runtime::EValue;
using namespace executorch_tensorrt;

namespace {

Shape shape2(int64_t a, int64_t b) {
  Shape s;
  s.rank = 2;
  s.dims[0] = a;
  s.dims[1] = b;
  return s;
}

// x: [1..8, kCols] float32 -> y = x * 2 + 1 (named as the test engine
// program). A row is one staging alignment unit, so batch sizes show.
constexpr int kCols = 64;
EngineMetadata scale_metadata(const char* in = "x", const char* out = "y") {
  EngineMetadata meta;
  meta.flavour = Flavour::kTest;
  meta.builder_version = "1.0.0";
  const ShapeRange range{shape2(1, kCols), shape2(2, kCols), shape2(8, kCols)};
  meta.inputs.push_back(TensorSpec{in, 6, {range}});
  meta.outputs.push_back(TensorSpec{out, 6, {range}});
  return meta;
}

std::unique_ptr<Engine> test_engine_for(const std::string& program, const EngineMetadata& meta) {
  auto runtime = engine_runtime_for(Flavour::kTest);
  EXPECT_TRUE(runtime.ok());
  auto engine = (*runtime)->deserialize(reinterpret_cast<const uint8_t*>(program.data()), program.size(), meta);
  EXPECT_TRUE(engine.ok()) << last_error_message();
  EXPECT_EQ((*engine)->create_execution_context(ContextMemory::kOwned), Error::Ok) << last_error_message();
  return std::move(*engine);
}

const char* kScaleProgram = "etrt-test-engine 1\ninput x\noutput y\nt = mul x 2.0\ny = add t 1.0\n";

// One executor + engine + ExecuTorch tensors at a chosen batch.
struct ScaleDelegate {
  ScaleDelegate() : meta(scale_metadata()), engine(test_engine_for(kScaleProgram, meta)), source(*engine), executor(meta) {}
  ~ScaleDelegate() {
    executor.release_device_buffers();
  }

  // Runs on a host batch of `rows` and checks every output value.
  void run_and_check(int rows) {
    std::vector<float> values(rows * kCols);
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = static_cast<float>(i) - 3.5f;
    }
    auto in = make_tensor_ptr({rows, kCols}, values);
    auto out = make_tensor_ptr({8, kCols}, std::vector<float>(8 * kCols, -99.0f));
    EValue a(in), b(out);
    std::vector<EValue*> args{&a, &b};
    ASSERT_EQ(executor.execute(source, {args.data(), args.size()}), Error::Ok) << last_error_message();
    ASSERT_EQ(out->size(0), rows);
    for (size_t i = 0; i < values.size(); ++i) {
      ASSERT_FLOAT_EQ(out->const_data_ptr<float>()[i], values[i] * 2 + 1) << i;
    }
  }

  EngineMetadata meta;
  std::unique_ptr<Engine> engine;
  FixedEngineSource source;
  DelegateExecutor executor;
};

// Simulated device memory, freed at scope exit.
struct DeviceBlock {
  explicit DeviceBlock(size_t bytes) : data(test_engine::device_allocate(bytes)) {}
  ~DeviceBlock() {
    test_engine::device_free(data);
  }
  float* floats() {
    return static_cast<float*>(data);
  }
  void* data;
};

TensorPtr on_device(DeviceBlock& block, std::vector<executorch::aten::SizesType> sizes) {
  return from_blob(block.data, std::move(sizes), ScalarType::Float, Device(DeviceType::CUDA, 0));
}

} // namespace

TEST(StagingPolicy, AllocationSizeTable) {
  struct Case {
    OutputBufferPolicy policy;
    size_t held, needed, reserve, expected;
  };
  const Case cases[] = {
      {OutputBufferPolicy::kReuse, 0, 512, 0, 512},       // first call
      {OutputBufferPolicy::kReuse, 512, 512, 0, 0},       // steady state
      {OutputBufferPolicy::kReuse, 1024, 512, 0, 0},      // shrink: keep
      {OutputBufferPolicy::kReuse, 512, 768, 0, 768},     // growth
      {OutputBufferPolicy::kReuse, 0, 512, 4096, 4096},   // profile maximum
      {OutputBufferPolicy::kReuse, 4096, 4096, 4096, 0},
      {OutputBufferPolicy::kReuse, 0, 0, 4096, 0},        // nothing to stage
      {OutputBufferPolicy::kFresh, 0, 512, 0, 512},
      {OutputBufferPolicy::kFresh, 0, 512, 4096, 512},    // fresh ignores reserve
      {OutputBufferPolicy::kFresh, 0, 0, 0, 0},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(staging_allocation_size(c.policy, c.held, c.needed, c.reserve), c.expected)
        << output_buffer_policy_name(c.policy) << " held=" << c.held << " needed=" << c.needed;
  }
}

TEST(ExecutePath, ReuseAllocatesOnceThenNeverAgain) {
  ScaleDelegate d;
  for (int call = 0; call < 5; ++call) {
    d.run_and_check(2);
  }
  const ExecuteCounters& c = d.executor.counters();
  EXPECT_EQ(c.executes, 5u);
  EXPECT_EQ(c.allocations, 1u);
  EXPECT_EQ(c.frees, 0u);
  EXPECT_EQ(c.h2d_copies, 5u);
  EXPECT_EQ(c.d2h_copies, 5u);
  EXPECT_EQ(c.h2d_bytes, 5u * 2 * kCols * sizeof(float));
}

TEST(ExecutePath, FreshAllocatesOncePerCallAndFreesIt) {
  ScaleDelegate d;
  d.executor.set_output_buffer_policy(OutputBufferPolicy::kFresh);
  const int64_t in_use = etrt_test_device_bytes_in_use();
  for (int call = 0; call < 4; ++call) {
    d.run_and_check(3);
    EXPECT_EQ(etrt_test_device_bytes_in_use(), in_use);  // nothing kept between calls
  }
  EXPECT_EQ(d.executor.counters().allocations, 4u);
  EXPECT_EQ(d.executor.counters().frees, 4u);
}

TEST(ExecutePath, GrowsWhenTheBatchGrowsAndNotWhenItShrinks) {
  ScaleDelegate d;
  d.run_and_check(2);
  EXPECT_EQ(d.executor.counters().allocations, 1u);
  d.run_and_check(6);  // larger: one new buffer, the old one freed after the call
  EXPECT_EQ(d.executor.counters().allocations, 2u);
  EXPECT_EQ(d.executor.counters().frees, 1u);
  const uint64_t grown = d.executor.counters().bytes_allocated;
  d.run_and_check(1);  // smaller: reuse
  d.run_and_check(6);
  d.run_and_check(4);
  EXPECT_EQ(d.executor.counters().allocations, 2u);
  EXPECT_EQ(d.executor.counters().bytes_allocated, grown);
}

TEST(ExecutePath, ProfileMaximumReservationNeverGrows) {
  ScaleDelegate d;
  d.executor.reserve_for_profile_maximum(true);
  d.run_and_check(1);
  d.run_and_check(8);
  d.run_and_check(5);
  EXPECT_EQ(d.executor.counters().allocations, 1u);
  // Input and output at [8, kCols] float32, each in its own aligned slot.
  EXPECT_EQ(d.executor.counters().bytes_allocated, 2 * align_staging(8 * kCols * sizeof(float)));
}

TEST(ExecutePath, ReleaseFreesEverythingAndTheNextCallAllocatesAgain) {
  ScaleDelegate d;
  const int64_t in_use = etrt_test_device_bytes_in_use();
  d.run_and_check(2);
  EXPECT_GT(etrt_test_device_bytes_in_use(), in_use);
  d.executor.release_device_buffers();
  EXPECT_EQ(etrt_test_device_bytes_in_use(), in_use);
  d.run_and_check(2);
  EXPECT_EQ(d.executor.counters().allocations, 2u);
}

TEST(ExecutePath, DeviceTensorsAreBoundWithoutCopies) {
  ScaleDelegate d;
  DeviceBlock in_block(3 * kCols * sizeof(float)), out_block(8 * kCols * sizeof(float));
  for (int i = 0; i < 3 * kCols; ++i) {
    in_block.floats()[i] = static_cast<float>(i);
  }
  auto in = on_device(in_block, {3, kCols});
  auto out = on_device(out_block, {8, kCols});
  EValue a(in), b(out);
  std::vector<EValue*> args{&a, &b};
  etrt_test_device_reset_counters();
  ASSERT_EQ(d.executor.execute(d.source, {args.data(), args.size()}), Error::Ok) << last_error_message();
  EXPECT_EQ(out->size(0), 3);
  for (int i = 0; i < 3 * kCols; ++i) {
    ASSERT_FLOAT_EQ(out_block.floats()[i], i * 2.0f + 1) << i;
  }
  const ExecuteCounters& c = d.executor.counters();
  EXPECT_EQ(c.allocations, 0u);
  EXPECT_EQ(c.h2d_copies + c.d2h_copies, 0u);
  EXPECT_EQ(c.device_inputs, 1u);
  EXPECT_EQ(c.device_outputs, 1u);
  EXPECT_EQ(etrt_test_device_h2d_copies() + etrt_test_device_d2h_copies(), 0);
}

TEST(ExecutePath, HostInputWithDeviceOutputStagesOnlyTheInput) {
  ScaleDelegate d;
  DeviceBlock out_block(8 * kCols * sizeof(float));
  auto in = make_tensor_ptr({2, kCols}, std::vector<float>(2 * kCols, 1.5f));
  auto out = on_device(out_block, {8, kCols});
  EValue a(in), b(out);
  std::vector<EValue*> args{&a, &b};
  ASSERT_EQ(d.executor.execute(d.source, {args.data(), args.size()}), Error::Ok) << last_error_message();
  EXPECT_FLOAT_EQ(out_block.floats()[7], 4.0f);
  EXPECT_EQ(d.executor.counters().h2d_copies, 1u);
  EXPECT_EQ(d.executor.counters().d2h_copies, 0u);
  EXPECT_EQ(d.executor.counters().bytes_allocated, align_staging(2 * kCols * sizeof(float)));
}

TEST(ExecutePath, TwoEnginesBackToBackKeepTheIntermediateOnTheDevice) {
  // first: y = x * 2 + 1; second: z = relu(y) (its input named y).
  ScaleDelegate first;
  EngineMetadata second_meta = scale_metadata("y", "z");
  auto second_engine = test_engine_for("etrt-test-engine 1\ninput y\noutput z\nz = relu y\n", second_meta);
  FixedEngineSource second_source(*second_engine);
  DelegateExecutor second(second_meta);

  DeviceBlock between(8 * kCols * sizeof(float));  // what device memory planning gives
  std::vector<float> xs(2 * kCols);
  for (size_t i = 0; i < xs.size(); ++i) {
    xs[i] = static_cast<float>(i % 8) - 3;
  }
  auto x = make_tensor_ptr({2, kCols}, xs);
  auto y = on_device(between, {8, kCols});
  auto z = make_tensor_ptr({8, kCols}, std::vector<float>(8 * kCols, 0.0f));
  EValue ex(x), ey(y), ez(z);
  std::vector<EValue*> first_args{&ex, &ey}, second_args{&ey, &ez};
  // A warm-up call first: a new staging buffer is zeroed with one copy.
  ASSERT_EQ(first.executor.execute(first.source, {first_args.data(), 2}), Error::Ok) << last_error_message();
  ASSERT_EQ(second.execute(second_source, {second_args.data(), 2}), Error::Ok) << last_error_message();
  etrt_test_device_reset_counters();
  ASSERT_EQ(first.executor.execute(first.source, {first_args.data(), 2}), Error::Ok) << last_error_message();
  ASSERT_EQ(second.execute(second_source, {second_args.data(), 2}), Error::Ok) << last_error_message();
  for (size_t i = 0; i < xs.size(); ++i) {
    const float scaled = xs[i] * 2 + 1;
    ASSERT_FLOAT_EQ(z->const_data_ptr<float>()[i], scaled > 0 ? scaled : 0) << i;
  }
  // Exactly x in and z out crossed the host boundary; y never did.
  EXPECT_EQ(etrt_test_device_h2d_bytes(), static_cast<int64_t>(x->nbytes()));
  EXPECT_EQ(etrt_test_device_d2h_bytes(), static_cast<int64_t>(z->nbytes()));
  EXPECT_EQ(first.executor.counters().d2h_copies, 0u);
  EXPECT_EQ(second.counters().h2d_copies, 0u);
  second.release_device_buffers();
}

TEST(ExecutePath, TensorOnAnotherDeviceIsRejectedNamingIt) {
  ScaleDelegate d;
  DeviceBlock block(2 * kCols * sizeof(float));
  auto in = from_blob(block.data, {2, kCols}, ScalarType::Float, Device(DeviceType::CUDA, 1));
  auto out = make_tensor_ptr({8, kCols}, std::vector<float>(8 * kCols, 0.0f));
  EValue a(in), b(out);
  std::vector<EValue*> args{&a, &b};
  clear_last_error();
  EXPECT_NE(d.executor.execute(d.source, {args.data(), args.size()}), Error::Ok);
  const std::string message = last_error_message();
  EXPECT_NE(message.find("input 'x' (#0): expected a host tensor or one on cuda:0"), std::string::npos) << message;
  EXPECT_EQ(d.executor.counters().executes, 0u);
}

TEST(ExecutePath, ModuleRunsReuseWithOneAllocationInSteadyState) {
  const char* dir = std::getenv("ETTRT_TEST_PROGRAMS");
  ASSERT_NE(dir, nullptr) << "run through pytest (tests/test_cpp.py)";
  Module module(std::string(dir) + "/add_relu.pte");
  ASSERT_EQ(module.load_method("forward"), Error::Ok) << last_error_message();
  etrt_test_device_reset_counters();
  for (int call = 0; call < 4; ++call) {
    std::vector<float> xs{-3, -1, 0, 1, 2, 3};
    for (float& v : xs) {
      v += static_cast<float>(call);
    }
    auto x = make_tensor_ptr({2, 3}, xs);
    auto y = make_tensor_ptr({2, 3}, std::vector<float>(6, 0.5f));
    auto outputs = module.forward({EValue(x), EValue(y)});
    ASSERT_TRUE(outputs.ok()) << last_error_message();
    for (int i = 0; i < 6; ++i) {
      const float sum = xs[i] + 0.5f;
      EXPECT_FLOAT_EQ((*outputs)[0].toTensor().const_data_ptr<float>()[i], sum > 0 ? sum : 0) << call;
      EXPECT_FLOAT_EQ((*outputs)[1].toTensor().const_data_ptr<float>()[i], xs[i] * 2) << call;
    }
    EXPECT_EQ(etrt_test_device_allocation_count(), 1) << "after call " << call;
  }
  // Two host inputs and two host outputs per call, each direction in one
  // copy through the pinned mirror (host_staging=pinned, the default), plus
  // the copy that zeroes the staging buffer when it is allocated.
  EXPECT_EQ(etrt_test_device_h2d_copies(), 1 + 4 * 1);
  EXPECT_EQ(etrt_test_device_d2h_copies(), 4 * 1);
}

// The execute path's decisions, as tables of cases.
TEST(ExecuteDecisions, CallWaitsOnHost) {
  struct Case {
    bool caller_stream, stages_host, failed, waits;
  };
  const Case cases[] = {
      {true, false, false, false}, // device I/O on the caller's stream: returns with work in flight
      {false, false, false, true}, // the engine's own stream is the caller's to see only after a wait
      {true, true, false, true}, // host outputs must be finished
      {true, false, true, true}, // a failed call leaves nothing in flight
      {false, true, true, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(call_waits_on_host(c.caller_stream, c.stages_host, c.failed), c.waits)
        << c.caller_stream << c.stages_host << c.failed;
  }
}

TEST(ExecuteDecisions, StageThroughPinned) {
  EXPECT_TRUE(stage_through_pinned(HostStaging::kPinned, OutputBufferPolicy::kReuse));
  EXPECT_TRUE(stage_through_pinned(HostStaging::kPinned, OutputBufferPolicy::kReuseProfileMax));
  EXPECT_FALSE(stage_through_pinned(HostStaging::kPinned, OutputBufferPolicy::kFresh));
  EXPECT_FALSE(stage_through_pinned(HostStaging::kPageable, OutputBufferPolicy::kReuse));
  EXPECT_FALSE(stage_through_pinned(HostStaging::kPageable, OutputBufferPolicy::kFresh));
}

TEST(ExecuteDecisions, ChooseGraphStep) {
  struct Case {
    bool cached, warm, refused;
    GraphStep step;
  };
  const Case cases[] = {
      {true, false, false, GraphStep::kReplay},
      {true, true, false, GraphStep::kReplay},
      {true, true, true, GraphStep::kReplay}, // a graph captured before a refusal is still valid
      {false, true, false, GraphStep::kCapture}, // the second call with this key
      {false, false, false, GraphStep::kEnqueue}, // the first call with a new key
      {false, true, true, GraphStep::kEnqueue}, // the context refused capture
  };
  for (const Case& c : cases) {
    EXPECT_EQ(choose_graph_step(c.cached, c.warm, c.refused), c.step) << c.cached << c.warm << c.refused;
  }
}

// Data-dependent outputs: what the engine produced against what the program
// planned (check_produced_output), as a table of cases.
TEST(ExecuteDecisions, ProducedOutputFitsThePlannedBound) {
  TensorSpec spec;
  spec.name = "indices";
  spec.dtype = static_cast<uint8_t>(ScalarType::Long);
  const Shape bound = shape2(32, 2);
  const uint64_t capacity = 32 * 2 * 8;
  auto produced = [](bool reported, bool shape_known, Shape shape, uint64_t bytes) {
    ProducedOutput out;
    out.reported = reported;
    out.shape_known = shape_known;
    out.shape = shape;
    out.bytes = bytes;
    return out;
  };
  struct Case {
    const char* what;
    ProducedOutput produced;
    Error expected;
    const char* message_has; // "" for Ok
  };
  const Case cases[] = {
      {"none found", produced(true, true, shape2(0, 2), 0), Error::Ok, ""},
      {"some", produced(true, true, shape2(7, 2), 7 * 16), Error::Ok, ""},
      {"exactly the bound", produced(true, true, shape2(32, 2), capacity), Error::Ok, ""},
      {"one row past the bound", produced(true, true, shape2(33, 2), 33 * 16), Error::OutOfResources,
       "produced [33, 2] (528 bytes), more than the program planned for this data-dependent output: at most [32, 2] (512 bytes)"},
      {"refused, only bytes known", produced(true, false, Shape{}, 4096), Error::OutOfResources,
       "produced a tensor of 4096 bytes"},
      {"within bytes but a dim past the bound", produced(true, true, shape2(16, 3), 16 * 24), Error::OutOfResources,
       "at most [32, 2]"},
      {"nothing reported", produced(false, false, Shape{}, 0), Error::InvalidProgram, "did not report"},
      {"bytes but no shape", produced(true, false, Shape{}, 64), Error::Internal, "not its shape"},
      {"another rank", produced(true, true, Shape{}, 8), Error::Internal, "another rank"},
  };
  for (const Case& c : cases) {
    clear_last_error();
    EXPECT_EQ(check_produced_output(spec, 0, c.produced, bound, capacity), c.expected) << c.what;
    const std::string message = last_error_message();
    EXPECT_NE(message.find(c.message_has), std::string::npos) << c.what << ": " << message;
    if (c.expected == Error::OutOfResources) {
      EXPECT_NE(message.find("torch._check"), std::string::npos) << c.what << ": " << message;
      EXPECT_NE(message.find("'indices'"), std::string::npos) << c.what << ": " << message;
    }
  }
}
