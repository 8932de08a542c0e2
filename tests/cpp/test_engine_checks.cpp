// What the engine says against what the blob promises (issue 15): at load,
// Engine::describe() against the blob (check_engine_matches_blob, and the
// real test engine through init()); at execute, the engine's output shapes
// against the blob's ranges; and sizes derived from profile ranges near
// 2^31, 2^32 and 2^63 under every output-buffer policy.

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include <executorch/extension/tensor/tensor_ptr.h>

#include <execute/delegate_executor.h>
#include <engines/engine_compatibility.h>
#include <common/error_report.h>
#include <engines/fixed_engine_source.h>

#include "backend_driver.h"
#include "blob_builder.h"
#include "simulated_device_engine.h"
#include "../engine/test_device_memory.h"

using executorch::extension::make_tensor_ptr;
using executorch::runtime::EValue;
using namespace executorch_tensorrt;

namespace {

Shape shape(std::vector<int64_t> dims) {
  Shape s;
  s.rank = static_cast<uint8_t>(dims.size());
  std::copy(dims.begin(), dims.end(), s.dims.begin());
  return s;
}

ShapeRange range(std::vector<int64_t> lo, std::vector<int64_t> hi) {
  return ShapeRange{shape(lo), shape(lo), shape(hi)};
}

// x: [1..8, 3] float32 and ids: [4] int64 in, y: [1..8, 3] float32 out.
EngineMetadata blob_side() {
  EngineMetadata meta;
  meta.flavour = Flavour::kTest;
  meta.builder_version = "1.0.0";
  meta.inputs = {TensorSpec{"x", 6, {range({1, 3}, {8, 3})}}, TensorSpec{"ids", 4, {range({4}, {4})}}};
  meta.outputs = {TensorSpec{"y", 6, {range({1, 3}, {8, 3})}}};
  return meta;
}

// What a TensorRT engine built from blob_side() reports.
EngineDescription engine_side() {
  EngineDescription engine;
  engine.num_profiles = 1;
  engine.tensors = {
      TensorDescription{"x", true, 6, shape({-1, 3}), {range({1, 3}, {8, 3})}},
      TensorDescription{"y", false, 6, shape({-1, 3}), {}},
      TensorDescription{"ids", true, 4, shape({4}), {range({4}, {4})}},
  };
  return engine;
}

} // namespace

TEST(EngineMatchesBlob, Table) {
  struct Case {
    const char* what;
    void (*change)(EngineDescription&);
    const char* fragment; // nullptr: accepted
  };
  const Case cases[] = {
      {"identical", [](EngineDescription&) {}, nullptr},
      {"engine says nothing of shapes", [](EngineDescription& e) {
         for (auto& t : e.tensors) {
           t.dims.reset();
           t.profiles.clear();
         }
         e.num_profiles.reset();
       }, nullptr},
      {"profile count", [](EngineDescription& e) { e.num_profiles = 2; },
       "the engine has 2 optimization profiles, the blob records 1"},
      {"extra tensor", [](EngineDescription& e) { e.tensors.push_back(e.tensors[0]); },
       "the engine has 4 I/O tensors, the blob records 3 (2 inputs, 1 outputs, 0 for owned state)"},
      {"renamed", [](EngineDescription& e) { e.tensors[0].name = "pixels"; },
       "the blob's input \"x\" is not a tensor of the engine (it has \"pixels\", \"y\", \"ids\")"},
      {"role", [](EngineDescription& e) { e.tensors[1].is_input = true; },
       "tensor \"y\" is an output in the blob, an input of the engine"},
      {"dtype", [](EngineDescription& e) { e.tensors[2].dtype = 3; },
       "input \"ids\" is int64 in the blob, int32 in the engine"},
      {"unknown dtype", [](EngineDescription& e) { e.tensors[1].dtype = kUnknownDtype; },
       "output \"y\" is float32 in the blob, a dtype ExecuTorch has no ScalarType for in the engine"},
      {"rank", [](EngineDescription& e) { e.tensors[1].dims = shape({-1, 3, 1}); },
       "tensor \"y\" has rank 2 in the blob, the engine has [-1, 3, 1] (rank 3)"},
      {"static dim", [](EngineDescription& e) { e.tensors[0].dims = shape({8, 3}); },
       "tensor \"x\" dim 0 is 8 in the engine (shape [8, 3]), the blob allows [1, 3]..[8, 3] in profile 0"},
      {"profile range", [](EngineDescription& e) { e.tensors[0].profiles[0] = range({1, 3}, {16, 3}); },
       "input \"x\" profile 0 accepts [1, 3]..[16, 3] in the engine, [1, 3]..[8, 3] in the blob"},
      {"profile ranges missing", [](EngineDescription& e) { e.tensors[0].profiles.push_back(range({1, 3}, {8, 3})); },
       "input \"x\" has 2 profile ranges in the engine, 1 in the blob"},
      {"opt differs: only tuning", [](EngineDescription& e) { e.tensors[0].profiles[0].opt = shape({5, 3}); }, nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EngineDescription engine = engine_side();
    c.change(engine);
    clear_last_error();
    const Error err = check_engine_matches_blob(engine, blob_side());
    if (c.fragment == nullptr) {
      EXPECT_EQ(err, Error::Ok) << last_error_message();
    } else {
      EXPECT_EQ(err, Error::DelegateInvalidCompatibility);
      const std::string message = last_error_message();
      EXPECT_NE(message.find(c.fragment), std::string::npos) << message;
      EXPECT_NE(message.find("re-export the model"), std::string::npos) << message;
    }
  }
}

// The real test engine through the delegate's init(): its program's
// declarations are checked against the blob.
TEST(EngineMatchesBlob, TestEngineProgramThroughInit) {
  struct Case {
    const char* declarations;
    const char* fragment; // nullptr: loads
  };
  const Case cases[] = {
      {"input x\noutput y\n", nullptr},
      {"input x [2,3]\noutput y [-1,3]\nprofile x [2,3] [2,3] [2,3]\n", nullptr},
      {"input x [4,3]\noutput y\n", "tensor \"x\" dim 0 is 4 in the engine (shape [4, 3]), the blob allows [2, 3]"},
      {"input x [2,3,1]\noutput y\n", "tensor \"x\" has rank 2 in the blob, the engine has [2, 3, 1] (rank 3)"},
      {"input x\noutput y\nprofile x [1,3] [2,3] [8,3]\n",
       "input \"x\" profile 0 accepts [1, 3]..[8, 3] in the engine, [2, 3]..[2, 3] in the blob"},
      {"input x\noutput z\n", "the blob's output \"y\" is not a tensor of the engine (it has \"x\", \"z\")"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.declarations);
    executorch_tensorrt::testing::BlobParts parts;
    parts.engine = std::string("etrt-test-engine 1\n") + c.declarations + "y = relu x\nz = relu x\n";
    const std::vector<uint8_t> bytes = executorch_tensorrt::testing::encode_blob(parts);
    executorch::runtime::BackendInterface* backend = executorch_tensorrt::testing::registered_delegate();
    executorch_tensorrt::testing::InitCall call(bytes.data(), bytes.size(), {{"engine_builder", {'t', 'e', 's', 't'}}});
    clear_last_error();
    auto handle = call.run(backend);
    if (c.fragment == nullptr) {
      ASSERT_TRUE(handle.ok()) << last_error_message();
      backend->destroy(*handle);
    } else {
      ASSERT_FALSE(handle.ok());
      EXPECT_EQ(handle.error(), Error::DelegateInvalidCompatibility);
      EXPECT_NE(std::string(last_error_message()).find(c.fragment), std::string::npos) << last_error_message();
    }
  }
}

namespace {

// Copies x to y, reporting output shape `reported` (the input's when unset).
class ShapeReportingEngine final : public SimulatedDeviceEngine {
 public:
  std::optional<Shape> reported;
  Error infer_output_shapes(uint32_t, Span<const Shape> in, Span<Shape> out) override {
    out[0] = reported.value_or(in[0]);
    return Error::Ok;
  }

 protected:
  Error evaluate(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) override {
    if (inputs[0].nbytes != outputs[0].nbytes) {
      return report_error(Error::Internal, "copy engine: %zu bytes in, %zu out", inputs[0].nbytes, outputs[0].nbytes);
    }
    std::vector<uint8_t> bytes(inputs[0].nbytes);
    return test_engine::device_copy_to_host(bytes.data(), inputs[0].data, bytes.size()) &&
            test_engine::device_copy_from_host(outputs[0].data, bytes.data(), bytes.size())
        ? Error::Ok
        : Error::Internal;
  }
};

EngineMetadata copy_metadata(std::vector<int64_t> max) {
  EngineMetadata meta;
  meta.flavour = Flavour::kTest;
  meta.builder_version = "1.0.0";
  std::vector<int64_t> min(max.size(), 1);
  meta.inputs = {TensorSpec{"x", 6, {range(min, max)}}};
  meta.outputs = {TensorSpec{"y", 6, {range(min, max)}}};
  return meta;
}

// Runs x: [2, 3] through `executor`; the output is planned for [2, 3].
Error run_copy(DelegateExecutor& executor, Engine& engine, std::vector<float>* got = nullptr) {
  auto in = make_tensor_ptr({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  auto out = make_tensor_ptr({2, 3}, std::vector<float>(6, -1.0f));
  EValue a(in), b(out);
  std::vector<EValue*> args{&a, &b};
  FixedEngineSource source(engine);
  clear_last_error();
  const Error err = executor.execute(source, {args.data(), args.size()});
  if (got != nullptr) {
    got->assign(out->const_data_ptr<float>(), out->const_data_ptr<float>() + out->numel());
  }
  return err;
}

} // namespace

TEST(OutputShapes, AnEngineProducingOtherShapesThanTheBlobPromisesIsRefused) {
  const EngineMetadata meta = copy_metadata({8, 3});
  ShapeReportingEngine engine;
  DelegateExecutor executor(meta);
  std::vector<float> got;
  ASSERT_EQ(run_copy(executor, engine, &got), Error::Ok) << last_error_message();
  EXPECT_EQ(got, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  const int64_t huge = std::numeric_limits<int64_t>::max();
  const std::pair<Shape, const char*> cases[] = {
      {shape({9, 3}), "the engine produces [9, 3] for engine 0 profile 0, the blob promises [1, 1]..[8, 3]"},
      {shape({2, 3, 1}), "the engine produces [2, 3, 1]"},
      // -1 is a data-dependent dim (kDataDependentDim): an engine that then
      // does not report what it produced is refused.
      {shape({2, -1}), "gave a data-dependent dim (-1) but did not report the shape it produced"},
      {shape({huge, huge}), "re-export the model"},
  };
  for (const auto& [reported, fragment] : cases) {
    engine.reported = reported;
    EXPECT_EQ(run_copy(executor, engine), Error::InvalidProgram);
    EXPECT_NE(std::string(last_error_message()).find(fragment), std::string::npos) << last_error_message();
  }
  executor.release_device_buffers();
}

// Issue 15: under reuse_profile_max the staging reserve is the bytes of every
// tensor at its largest shape. Max dims near 2^31, 2^32 and 2^63 (metadata
// made by hand: the blob parser refuses the uncountable ones) must never
// shrink it below what a call stages: a call either runs correctly or is
// refused naming the size; reuse and fresh stage what the call needs.
TEST(StagingSizes, ProfileMaximaNearTwoToThe31_32_63NeverWrapSmall) {
  const int64_t two31 = int64_t{1} << 31, two32 = int64_t{1} << 32, huge = std::numeric_limits<int64_t>::max();
  etrt_test_device_set_capacity(int64_t{1} << 30); // a 1 GiB "GPU"
  for (const std::vector<int64_t>& max : std::vector<std::vector<int64_t>>{
           {two31, 3}, {two32, 3}, {two32, two32}, {two31, two31}, {3, huge}, {huge, huge}}) {
    for (OutputBufferPolicy policy :
         {OutputBufferPolicy::kReuse, OutputBufferPolicy::kFresh, OutputBufferPolicy::kReuseProfileMax}) {
      SCOPED_TRACE(shape(max).to_string() + " " + output_buffer_policy_name(policy));
      const EngineMetadata meta = copy_metadata(max);
      ShapeReportingEngine engine;
      DelegateExecutor executor(meta);
      executor.set_output_buffer_policy(policy);
      std::vector<float> got;
      const Error err = run_copy(executor, engine, &got);
      if (policy != OutputBufferPolicy::kReuseProfileMax) {
        ASSERT_EQ(err, Error::Ok) << last_error_message();
        EXPECT_EQ(got, (std::vector<float>{1, 2, 3, 4, 5, 6}));
      } else {
        // Each reserve is beyond the device (or saturated): refused, naming the policy.
        EXPECT_EQ(err, Error::MemoryAllocationFailed) << last_error_message();
        EXPECT_NE(std::string(last_error_message()).find("output_buffers=reuse_profile_max"), std::string::npos)
            << last_error_message();
        EXPECT_EQ(executor.counters().allocations, 0u);
      }
      executor.release_device_buffers();
    }
  }
  etrt_test_device_set_capacity(0);
}

TEST(StagingSizes, AlignmentAndSumsSaturateInsteadOfWrapping) {
  EXPECT_EQ(align_staging(1), kStagingAlignment);
  EXPECT_EQ(align_staging(SIZE_MAX - 10), kSaturatedSize);
  EXPECT_EQ(add_staging(SIZE_MAX - 10, 256), kSaturatedSize);
  EXPECT_EQ(add_staging(256, 512), 768u);
  uint64_t elements = 0, bytes = 0;
  EXPECT_TRUE(checked_shape_bytes(shape({int64_t{1} << 30, (int64_t{1} << 31) - 1}), 6, &elements, &bytes));
  EXPECT_EQ(bytes, (uint64_t{1} << 63) - (uint64_t{1} << 32));
  EXPECT_FALSE(checked_shape_bytes(shape({int64_t{1} << 30, int64_t{1} << 31}), 6, &elements, &bytes));
  EXPECT_FALSE(checked_shape_bytes(shape({int64_t{1} << 32, int64_t{1} << 32}), 0, &elements, &bytes));
  EXPECT_FALSE(checked_shape_bytes(shape({-1, 2}), 6, &elements, &bytes));
  EXPECT_TRUE(checked_shape_bytes(shape({std::numeric_limits<int64_t>::max(), 0}), 6, &elements, &bytes));
  EXPECT_EQ(bytes, 0u);
}
