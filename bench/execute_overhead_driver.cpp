// Host-side cost of one delegate execute() with the test engine: argument
// checks, profile selection, output resizing, staging (reuse or fresh) and
// the engine calls, on tiny tensors so the engine's own arithmetic is small.
// Driven by bench/execute_overhead.py, which builds it with the C++ tests.
//
// usage: execute_overhead_driver TENSORS(even) reuse|fresh CALLS
// prints: us_per_call=<float> allocs_per_call=<float> h2d_per_call=<float> d2h_per_call=<float>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>

#include <execute/delegate_executor.h>
#include <engines/engine_runtime_registry.h>
#include <engines/fixed_engine_source.h>
#include <common/error_report.h>

using executorch::extension::make_tensor_ptr;
using executorch::extension::TensorPtr;
using executorch::runtime::EValue;
using namespace executorch_tensorrt;

namespace {

constexpr int64_t kElements = 16;

} // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s TENSORS reuse|fresh CALLS\n", argv[0]);
    return 2;
  }
  const int pairs = std::atoi(argv[1]) / 2;
  const std::string policy = argv[2];
  const int calls = std::atoi(argv[3]);
  EngineMetadata meta;
  meta.flavour = Flavour::kTest;
  meta.builder_version = "1.0.0";
  Shape shape;
  shape.rank = 2;
  shape.dims[0] = 1;
  shape.dims[1] = kElements;
  std::string program = "etrt-test-engine 1\n";
  for (int i = 0; i < pairs; ++i) {
    const std::string in = "i" + std::to_string(i), out = "o" + std::to_string(i);
    meta.inputs.push_back(TensorSpec{in, 6, {ShapeRange{shape, shape, shape}}});
    meta.outputs.push_back(TensorSpec{out, 6, {ShapeRange{shape, shape, shape}}});
    program += "input " + in + "\noutput " + out + "\n" + out + " = copy " + in + "\n";
  }
  auto runtime = engine_runtime_for(Flavour::kTest);
  if (!runtime.ok()) {
    std::fprintf(stderr, "the test engine is not registered: %s\n", last_error_message());
    return 1;
  }
  auto engine = (*runtime)->deserialize(reinterpret_cast<const uint8_t*>(program.data()), program.size(), meta);
  if (!engine.ok()) {
    std::fprintf(stderr, "deserialize failed: %s\n", last_error_message());
    return 1;
  }
  if ((*engine)->create_execution_context(ContextMemory::kOwned) != Error::Ok) {
    std::fprintf(stderr, "create_execution_context failed: %s\n", last_error_message());
    return 1;
  }
  FixedEngineSource source(**engine);
  DelegateExecutor executor(meta);
  executor.set_output_buffer_policy(policy == "fresh" ? OutputBufferPolicy::kFresh : OutputBufferPolicy::kReuse);
  std::vector<TensorPtr> tensors;
  std::vector<EValue> values;
  values.reserve(2 * pairs);
  for (int i = 0; i < 2 * pairs; ++i) {
    tensors.push_back(make_tensor_ptr({1, kElements}, std::vector<float>(kElements, static_cast<float>(i))));
    values.emplace_back(tensors.back());
  }
  std::vector<EValue*> args;
  for (EValue& v : values) {
    args.push_back(&v);
  }
  // Warm-up call: the first reuse call allocates; steady state is measured.
  if (executor.execute(source, {args.data(), args.size()}) != Error::Ok) {
    std::fprintf(stderr, "execute failed: %s\n", last_error_message());
    return 1;
  }
  executor.reset_counters();
  const auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < calls; ++c) {
    if (executor.execute(source, {args.data(), args.size()}) != Error::Ok) {
      std::fprintf(stderr, "execute failed: %s\n", last_error_message());
      return 1;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const ExecuteCounters& counters = executor.counters();
  std::printf(
      "us_per_call=%.3f allocs_per_call=%.3f h2d_per_call=%.3f d2h_per_call=%.3f\n",
      seconds * 1e6 / calls,
      static_cast<double>(counters.allocations) / calls,
      static_cast<double>(counters.h2d_copies) / calls,
      static_cast<double>(counters.d2h_copies) / calls);
  executor.release_device_buffers();
  return 0;
}
