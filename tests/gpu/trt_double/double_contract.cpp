// Contract checks of the TensorRT runtime double (a test double, NOT
// TensorRT), through the public TensorRT API the adapter uses.
//
//   double_contract host                  plan parsing and what needs no GPU (CI)
//   double_contract gpu                   every documented refusal, compute, memory (GPU)
//   double_contract floor PLAN CALLS      µs per bare enqueueV3 + sync loop (bench floor)
//
// Prints one "PASS name" / "FAIL name: why" line per check and
// "contract_checks=N failed=M" last; exits 1 on any failure.

#include <NvInferRuntime.h>
#include <cuda_runtime_api.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "trt_double_api.h"

namespace {

using namespace nvinfer1;

class RecordingLogger final : public ILogger {
 public:
  void log(Severity severity, const char* msg) noexcept override {
    if (severity <= Severity::kERROR) {
      last_error = msg;
      ++errors;
    }
  }
  std::string take() {
    std::string out = last_error;
    last_error.clear();
    return out;
  }
  std::string last_error;
  int errors = 0;
};

int g_checks = 0, g_failed = 0;

void check(const std::string& name, bool ok, const std::string& why = "") {
  ++g_checks;
  if (ok) {
    std::printf("PASS %s\n", name.c_str());
  } else {
    ++g_failed;
    std::printf("FAIL %s: %s\n", name.c_str(), why.c_str());
  }
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A plan: y = relu(x @ w + b) * 2 (w streamable), z = x - 1, two profiles.
std::string linear_plan(int64_t pad = 0, int64_t delay_us = 0) {
  std::ostringstream p;
  p << "trt-runtime-double-plan 1\nprofiles 2\ninput x 2\noutput y\noutput z\n"
    << "range x 0 1,4 2,4 8,4\nrange x 1 9,4 16,4 32,4\n"
    << "weight w streamable 4 3\nvalues 1 0 0 0 1 0 0 0 1 1 1 1\n"
    << "weight b resident 1 3\nvalues 0.5 -100 0\n"
    << "pad streamable " << pad << "\nrun_delay_us " << delay_us << "\n"
    << "op t0 = linear x w b\nop t1 = relu t0\nop y = mul t1 2\nop z = sub x 1\n";
  return p.str();
}

// A plan ending in an `end` line at the start of a 5 GiB reservation whose
// every page after the first cannot be read: a reader that copied or scanned
// past `end` would crash. size() is the whole reservation.
class EndedPlanRegion {
 public:
  static constexpr size_t kSize = (size_t(5) << 30) + 4097;
  explicit EndedPlanRegion(const std::string& plan) : plan_(plan + "end\n") {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* base = mmap(nullptr, kSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED || plan_.size() > page || mprotect(base, page, PROT_READ | PROT_WRITE) != 0) {
      base_ = nullptr;
      return;
    }
    base_ = static_cast<char*>(base);
    std::memcpy(base_, plan_.data(), plan_.size());
  }
  ~EndedPlanRegion() {
    if (base_) {
      munmap(base_, kSize);
    }
  }
  const char* data() const { return base_; }
  size_t size() const { return kSize; }
  const std::string& plan() const { return plan_; } // through its `end` line
 private:
  std::string plan_;
  char* base_ = nullptr;
};

void host_checks() {
  char text[512];
  const std::string good = linear_plan(1024);
  check("plan-valid", trt_double_describe_plan(good.data(), good.size(), text, sizeof(text)) == 1 &&
                          contains(text, "inputs=1 outputs=2 profiles=2 ops=4"),
        text);
  check("plan-sizes", contains(text, "resident_bytes=256 streamable_bytes=1280"), text);
  struct Bad {
    const char* name;
    std::string plan;
    const char* expected;
  };
  const std::string head = "trt-runtime-double-plan 1\nprofiles 1\ninput x 1\noutput y\nrange x 0 1 2 4\n";
  const std::vector<Bad> bad = {
      {"plan-header", "trt-runtime-double-plan 2\n", "not a double plan"},
      {"plan-empty", "", "empty plan"},
      {"plan-profiles", "trt-runtime-double-plan 1\nprofiles 9\n", "profiles must be 1..8"},
      {"plan-unknown-op", head + "op y = sigmoid x\n", "unknown op 'sigmoid'"},
      {"plan-arity", head + "op y = add x\n", "takes 2..2 args"},
      {"plan-undefined-arg", head + "op y = relu q\n", "'q' is no tensor"},
      {"plan-output-unassigned", head, "output 'y' is never assigned"},
      {"plan-assigned-twice", head + "op y = relu x\nop y = neg x\n", "assigned twice"},
      {"plan-range-order", "trt-runtime-double-plan 1\nprofiles 1\ninput x 1\nrange x 0 4 2 1\n", "min <= opt <= max"},
      {"plan-range-missing", "trt-runtime-double-plan 1\nprofiles 2\ninput x 1\noutput y\nrange x 0 1 2 4\nop y = relu x\n",
       "one range per profile"},
      {"plan-weight-values", head + "weight w resident 1 2\nvalues 1\n", "needs 2 values"},
      {"plan-linear-shape", head + "weight w resident 3 1\nvalues 1 2 3\nop y = linear x w\n", "does not end in 3"},
      {"plan-size-mismatch", "trt-runtime-double-plan 1\nprofiles 1\ninput x 1\ninput u 1\noutput y\nrange x 0 1 2 4\n"
                             "range u 0 1 2 5\nop y = add x u\n", "differ in size"},
      {"plan-garbage", head + "\x01\x02\n", "cannot read"},
      {"plan-stripped-streamable", head + "weight w streamable 1 2\nvalues stripped\n", "needs 2 values"},
      {"plan-end-stops-reading", head + "end\nop y = relu x\n", "output 'y' is never assigned"},
      {"plan-end-with-words", head + "op y = relu x\nend now\n", "cannot read 'end now'"},
      {"plan-end-before-header", "end\ntrt-runtime-double-plan 1\n", "not a double plan"},
  };
  for (const Bad& b : bad) {
    const int ok = trt_double_describe_plan(b.plan.data(), b.plan.size(), text, sizeof(text));
    check(b.name, ok == 0 && contains(text, b.expected), std::string("got: ") + text);
  }
  const std::string trailing = good + "end\n\x01\x02 not a plan line\nop y = div x\n";
  check("plan-end-ignores-what-follows",
        trt_double_describe_plan(trailing.data(), trailing.size(), text, sizeof(text)) == 1 &&
            contains(text, "resident_bytes=256 streamable_bytes=1280"),
        text);
  const EndedPlanRegion region(good);
  check("plan-end-reads-nothing-after-it",
        region.data() && trt_double_describe_plan(region.data(), region.size(), text, sizeof(text)) == 1 &&
            contains(text, "resident_bytes=256 streamable_bytes=1280"),
        region.data() ? text : "mmap of the 5 GiB reservation failed");
  check("identity-says-double", contains(trt_double_identity(), "not TensorRT"), trt_double_identity());
  check("versions", getInferLibMajorVersion() == 11 && getInferLibMinorVersion() == 1 && getInferLibPatchVersion() == 0);
  RecordingLogger logger;
  check("runtime-wrong-major", createInferRuntime_INTERNAL(&logger, 100000) == nullptr &&
                                   contains(logger.take(), "headers of TensorRT version 100000"));
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  check("runtime-created", runtime != nullptr);
  std::unique_ptr<ICudaEngine> broken(runtime->deserializeCudaEngine("xyz", 3));
  check("deserialize-garbage-logged", !broken && contains(logger.take(), "not a double plan"));
}

struct Engine {
  std::unique_ptr<ICudaEngine> engine;
  std::unique_ptr<IExecutionContext> context;
};

std::vector<float> run_linear(IExecutionContext& context, cudaStream_t stream, int rows, void* x, void* y, void* z) {
  std::vector<float> host(rows * 4);
  for (int i = 0; i < rows * 4; ++i) {
    host[i] = static_cast<float>(i % 7) - 3.f;
  }
  cudaMemcpy(x, host.data(), host.size() * 4, cudaMemcpyHostToDevice);
  context.setInputShape("x", Dims2{rows, 4});
  context.setTensorAddress("x", x);
  context.setTensorAddress("y", y);
  context.setTensorAddress("z", z);
  std::vector<float> out(rows * 3 + rows * 4, -7.f);
  if (!context.enqueueV3(stream)) {
    return {};
  }
  cudaMemcpyAsync(out.data(), y, rows * 3 * 4, cudaMemcpyDeviceToHost, stream);
  cudaMemcpyAsync(out.data() + rows * 3, z, rows * 4 * 4, cudaMemcpyDeviceToHost, stream);
  cudaStreamSynchronize(stream);
  return out;
}

bool linear_correct(const std::vector<float>& out, int rows) {
  if (out.empty()) {
    return false;
  }
  for (int r = 0; r < rows; ++r) {
    float x[4];
    for (int k = 0; k < 4; ++k) {
      x[k] = static_cast<float>((r * 4 + k) % 7) - 3.f;
    }
    const float t[3] = {x[0] + x[3] + 0.5f, x[1] + x[3] - 100.f, x[2] + x[3]};
    for (int c = 0; c < 3; ++c) {
      if (out[r * 3 + c] != std::max(t[c], 0.f) * 2.f) {
        return false;
      }
    }
    for (int k = 0; k < 4; ++k) {
      if (out[rows * 3 + r * 4 + k] != x[k] - 1.f) {
        return false;
      }
    }
  }
  return true;
}

// The linear plan's weights stripped (resident, one profile): refitted
// through IRefitter before it runs.
std::string stripped_plan() {
  return "trt-runtime-double-plan 1\nprofiles 1\ninput x 2\noutput y\noutput z\nrange x 0 1,4 2,4 8,4\n"
         "weight w resident 4 3\nvalues stripped\nweight b resident 1 3\nvalues stripped\n"
         "op t0 = linear x w b\nop t1 = relu t0\nop y = mul t1 2\nop z = sub x 1\n";
}

int32_t missing_weights(IRefitter& refitter) {
  return refitter.getMissingWeights(0, nullptr);
}

void refit_checks(IRuntime& runtime, RecordingLogger& logger, cudaStream_t stream, void* x, void* y, void* z) {
  const std::string plan = stripped_plan();
  std::unique_ptr<ICudaEngine> engine(runtime.deserializeCudaEngine(plan.data(), plan.size()));
  check("stripped-plan-refittable", engine && engine->isRefittable(), logger.take());
  if (!engine) {
    return;
  }
  std::unique_ptr<IExecutionContext> context(engine->createExecutionContext(ExecutionContextAllocationStrategy::kSTATIC));
  check("stripped-plan-unrefitted-refused", run_linear(*context, stream, 5, x, y, z).empty() &&
                                                contains(logger.take(), "weight-stripped and was not refitted"));
  std::unique_ptr<IRefitter> refitter(createInferRefitter(*engine, logger));
  check("refitter-created", refitter != nullptr, logger.take());
  if (!refitter) {
    return;
  }
  const char* names[2] = {nullptr, nullptr};
  check("refitter-lists-every-weight", refitter->getAllWeights(2, names) == 2 && names[0] == std::string("w") &&
                                           names[1] == std::string("b"));
  check("refitter-missing-before", missing_weights(*refitter) == 2);
  check("refitter-prototype", refitter->getWeightsPrototype("w").count == 12 &&
                                  refitter->getWeightsPrototype("w").type == DataType::kFLOAT &&
                                  refitter->getWeightsPrototype("nope").count == -1);
  const float w[12] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1};
  const float b[3] = {0.5f, -100.f, 0.f};
  check("refitter-wrong-count-refused", !refitter->setNamedWeights("w", Weights{DataType::kFLOAT, w, 11}) &&
                                            contains(logger.take(), "takes 12 kFLOAT values"));
  check("refitter-unknown-name-refused", !refitter->setNamedWeights("nope", Weights{DataType::kFLOAT, w, 12}) &&
                                             contains(logger.take(), "no weight 'nope'"));
  check("refitter-set-one", refitter->setNamedWeights("w", Weights{DataType::kFLOAT, w, 12}) &&
                                missing_weights(*refitter) == 1);
  check("refit-with-one-missing-refused", !refitter->refitCudaEngine() && contains(logger.take(), "weight 'b' is missing"));
  check("refit", refitter->setNamedWeights("b", Weights{DataType::kFLOAT, b, 3}) && missing_weights(*refitter) == 0 &&
                     refitter->refitCudaEngine(), logger.take());
  check("refitted-computes", linear_correct(run_linear(*context, stream, 5, x, y, z), 5), logger.take());
  check("refitted-nothing-missing", missing_weights(*refitter) == 0);
  refitter.reset();
  context.reset();
  std::unique_ptr<IHostMemory> serialized(engine->serialize());
  std::unique_ptr<ICudaEngine> again(runtime.deserializeCudaEngine(serialized->data(), serialized->size()));
  std::unique_ptr<IExecutionContext> again_context(again->createExecutionContext(ExecutionContextAllocationStrategy::kSTATIC));
  check("stripped-plan-serializes-stripped", run_linear(*again_context, stream, 5, x, y, z).empty() &&
                                                 contains(logger.take(), "not refitted"));
  const std::string full = linear_plan();
  std::unique_ptr<ICudaEngine> plain(runtime.deserializeCudaEngine(full.data(), full.size()));
  std::unique_ptr<IRefitter> none(createInferRefitter(*plain, logger));
  check("refitter-of-unrefittable-engine-refused", !none && contains(logger.take(), "not built refittable"));
}

// A plan followed by 5 GiB nobody may read (EndedPlanRegion): deserialized
// from the first page alone, it runs, and serialize() gives back the plan
// through its `end` line, which deserializes again.
void ended_plan_checks(IRuntime& runtime, RecordingLogger& logger, cudaStream_t stream, void* x, void* y, void* z) {
  const EndedPlanRegion region(linear_plan());
  std::unique_ptr<ICudaEngine> engine(region.data() ? runtime.deserializeCudaEngine(region.data(), region.size()) : nullptr);
  check("ended-plan-deserialized-from-its-own-bytes", engine != nullptr,
        region.data() ? logger.take() : "mmap of the 5 GiB reservation failed");
  if (!engine) {
    return;
  }
  std::unique_ptr<IExecutionContext> context(engine->createExecutionContext(ExecutionContextAllocationStrategy::kSTATIC));
  check("ended-plan-computes", context && linear_correct(run_linear(*context, stream, 5, x, y, z), 5), logger.take());
  context.reset();
  std::unique_ptr<IHostMemory> serialized(engine->serialize());
  const std::string bytes = serialized ? std::string(static_cast<const char*>(serialized->data()), serialized->size()) : "";
  check("ended-plan-serializes-through-end", bytes == region.plan(),
        std::to_string(bytes.size()) + " bytes, expected " + std::to_string(region.plan().size()));
  std::unique_ptr<ICudaEngine> again(runtime.deserializeCudaEngine(bytes.data(), bytes.size()));
  check("ended-plan-serialized-deserializes", again != nullptr, logger.take());
}

void gpu_checks() {
  RecordingLogger logger;
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  const std::string plan = linear_plan(4096, 0);
  TrtDoubleCounters before{}, after{};
  trt_double_counters(&before);
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan.data(), plan.size()));
  check("deserialize", engine != nullptr, logger.take());
  if (!engine) {
    return;
  }
  trt_double_counters(&after);
  check("deserialize-allocates-resident-weights", after.device_bytes_live - before.device_bytes_live == 256,
        std::to_string(after.device_bytes_live - before.device_bytes_live));
  const int64_t streamable = engine->getStreamableWeightsSize();
  check("streamable-size", streamable == 256 + 4096, std::to_string(streamable));
  check("budget-out-of-range-refused", !engine->setWeightStreamingBudgetV2(streamable + 1) &&
                                           contains(logger.take(), "outside [0, 4352]"));
  check("budget-negative-refused", !engine->setWeightStreamingBudgetV2(-1) && contains(logger.take(), "outside"));
  trt_double_counters(&before);
  // 128 bytes: less than the weight w, which is then streamed at every run.
  check("budget-set", engine->setWeightStreamingBudgetV2(128) && engine->getWeightStreamingBudgetV2() == 128);
  trt_double_counters(&after);
  check("budget-allocates-resident-part", after.device_bytes_live - before.device_bytes_live == 128,
        std::to_string(after.device_bytes_live - before.device_bytes_live));
  check("scratch-for-streamed-weights", engine->getWeightStreamingScratchMemorySize() == 256);
  check("engine-shape-dynamic", engine->getTensorShape("x").d[0] == -1 && engine->getTensorShape("x").d[1] == 4);
  cudaStream_t stream = nullptr;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  void *x = nullptr, *y = nullptr, *z = nullptr;
  cudaMalloc(&x, 32 * 4 * 4);
  cudaMalloc(&y, 32 * 3 * 4);
  cudaMalloc(&z, 32 * 4 * 4);
  {
    trt_double_counters(&before);
    std::unique_ptr<IExecutionContext> context(engine->createExecutionContext(ExecutionContextAllocationStrategy::kSTATIC));
    trt_double_counters(&after);
    check("static-context-allocates", context && after.device_bytes_live - before.device_bytes_live == engine->getDeviceMemorySizeV2());
    check("budget-with-context-refused", !engine->setWeightStreamingBudgetV2(0) && contains(logger.take(), "context(s) exist"));
    check("enqueue-without-shape-refused", !context->enqueueV3(stream) && contains(logger.take(), "has no shape set"));
    context->setInputShape("x", Dims2{2, 4});
    check("enqueue-without-address-refused", !context->enqueueV3(stream) && contains(logger.take(), "has no address set"));
    check("misaligned-address-refused", !context->setTensorAddress("x", static_cast<char*>(x) + 16) &&
                                            contains(logger.take(), "not 256-byte aligned"));
    check("shape-outside-profile-refused", !context->setInputShape("x", Dims2{9, 4}) && contains(logger.take(), "outside profile 0"));
    check("profile-out-of-range-refused", !context->setOptimizationProfileAsync(2, stream) &&
                                              contains(logger.take(), "profile index 2 out of range"));
    check("output-shape-inferred", context->getTensorShape("y").d[0] == 2 && context->getTensorShape("y").d[1] == 3);
    check("compute-profile-0", linear_correct(run_linear(*context, stream, 5, x, y, z), 5), logger.take());
    check("profile-switch", context->setOptimizationProfileAsync(1, stream));
    check("compute-profile-1-streamed", linear_correct(run_linear(*context, stream, 20, x, y, z), 20), logger.take());
    TrtDoubleCounters c{};
    trt_double_counters(&c);
    check("weights-streamed", c.streamed_bytes > 0);
  }
  check("budget-after-context-gone", engine->setWeightStreamingBudgetV2(streamable));
  std::unique_ptr<IHostMemory> serialized(engine->serialize());
  check("serialize-round-trips", serialized && serialized->size() == plan.size() &&
                                     std::memcmp(serialized->data(), plan.data(), plan.size()) == 0);
  std::unique_ptr<ICudaEngine> again(runtime->deserializeCudaEngine(serialized->data(), serialized->size()));
  check("serialized-deserializes", again != nullptr);
  // User-managed: no memory at creation; bound memory must be large and aligned.
  const int64_t need = engine->getDeviceMemorySizeV2();
  void* memory = nullptr;
  cudaMalloc(&memory, need + 256);
  {
    trt_double_counters(&before);
    std::unique_ptr<IExecutionContext> context(engine->createExecutionContext(ExecutionContextAllocationStrategy::kUSER_MANAGED));
    trt_double_counters(&after);
    check("user-managed-allocates-nothing", context && after.device_bytes_live == before.device_bytes_live);
    context->setInputShape("x", Dims2{3, 4});
    context->setTensorAddress("x", x);
    context->setTensorAddress("y", y);
    context->setTensorAddress("z", z);
    check("user-managed-unbound-refused", !context->enqueueV3(stream) && contains(logger.take(), "no memory was set"));
    context->setDeviceMemoryV2(memory, need - 1);
    check("too-little-memory-refused", contains(logger.take(), "bytes bound, getDeviceMemorySizeV2()"));
    context->setDeviceMemoryV2(static_cast<char*>(memory) + 128, need);
    check("misaligned-memory-refused", contains(logger.take(), "not 256-byte aligned"));
    context->setDeviceMemoryV2(memory, need);
    check("user-managed-computes", linear_correct(run_linear(*context, stream, 3, x, y, z), 3), logger.take());
  }
  // Two user-managed contexts on two streams: sharing one memory at once is
  // detected; separate memory is not.
  // Several execution contexts of one engine used at once from several
  // threads, each on its own stream and buffers (the delegate's
  // execution_contexts): every result right, no run sharing memory.
  {
    const int64_t start = trt_double_memory_overlaps();
    std::vector<int> right(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::unique_ptr<IExecutionContext> context(engine->createExecutionContext(ExecutionContextAllocationStrategy::kSTATIC));
        cudaStream_t own = nullptr;
        void *bx = nullptr, *by = nullptr, *bz = nullptr;
        cudaStreamCreateWithFlags(&own, cudaStreamNonBlocking);
        cudaMalloc(&bx, 32 * 4 * 4);
        cudaMalloc(&by, 32 * 3 * 4);
        cudaMalloc(&bz, 32 * 4 * 4);
        for (int i = 0; context && i < 10; ++i) {
          right[t] += linear_correct(run_linear(*context, own, 5, bx, by, bz), 5) ? 1 : 0;
        }
        context.reset();
        cudaFree(bx);
        cudaFree(by);
        cudaFree(bz);
        cudaStreamDestroy(own);
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    check("four-contexts-of-one-engine-on-four-threads", right == std::vector<int>(4, 10) &&
          trt_double_memory_overlaps() == start, logger.take());
  }
  const std::string slow = linear_plan(0, 2000);
  std::unique_ptr<ICudaEngine> slow_engine(runtime->deserializeCudaEngine(slow.data(), slow.size()));
  const int64_t slow_need = slow_engine->getDeviceMemorySizeV2();
  void* other = nullptr;
  cudaMalloc(&other, slow_need);
  auto overlaps_with = [&](void* second) {
    const int64_t start = trt_double_memory_overlaps();
    cudaStream_t s2 = nullptr;
    cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking);
    std::unique_ptr<IExecutionContext> a(slow_engine->createExecutionContext(ExecutionContextAllocationStrategy::kUSER_MANAGED));
    std::unique_ptr<IExecutionContext> b(slow_engine->createExecutionContext(ExecutionContextAllocationStrategy::kUSER_MANAGED));
    a->setDeviceMemoryV2(memory, slow_need);
    b->setDeviceMemoryV2(second, slow_need);
    for (IExecutionContext* c : {a.get(), b.get()}) {
      c->setInputShape("x", Dims2{2, 4});
      c->setTensorAddress("x", x);
      c->setTensorAddress("y", y);
      c->setTensorAddress("z", z);
    }
    for (int i = 0; i < 5; ++i) {
      a->enqueueV3(stream);
      b->enqueueV3(s2);
    }
    cudaStreamSynchronize(stream);
    cudaStreamSynchronize(s2);
    cudaStreamDestroy(s2);
    return trt_double_memory_overlaps() - start;
  };
  const int64_t shared = overlaps_with(memory);
  // compute-sanitizer serializes kernels, so runs cannot overlap under it.
  if (std::getenv("TRT_DOUBLE_KERNELS_SERIALIZED") == nullptr) {
    check("shared-memory-overlap-detected", shared > 0, std::to_string(shared));
  }
  const int64_t separate = overlaps_with(other);
  check("separate-memory-no-overlap", separate == 0, std::to_string(separate));
  refit_checks(*runtime, logger, stream, x, y, z);
  ended_plan_checks(*runtime, logger, stream, x, y, z);
  slow_engine.reset();
  cudaFree(other);
  cudaFree(memory);
  cudaFree(x);
  cudaFree(y);
  cudaFree(z);
  cudaStreamDestroy(stream);
  again.reset();
  engine.reset();
  trt_double_counters(&after);
  check("all-device-memory-returned", after.device_bytes_live == 0, std::to_string(after.device_bytes_live));
}

// The floor for bench/gpu_execute.py: the same plan, addresses set once,
// a bare loop of enqueueV3 + stream sync; prints "floor_us=X".
int floor_loop(const char* path, int calls) {
  std::ifstream file(path, std::ios::binary);
  const std::string plan((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  RecordingLogger logger;
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan.data(), plan.size()));
  if (!engine) {
    std::fprintf(stderr, "floor: %s\n", logger.take().c_str());
    return 1;
  }
  std::unique_ptr<IExecutionContext> context(engine->createExecutionContext(ExecutionContextAllocationStrategy::kSTATIC));
  cudaStream_t stream = nullptr;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  for (int i = 0; i < engine->getNbIOTensors(); ++i) {
    const char* name = engine->getIOTensorName(i);
    if (engine->getTensorIOMode(name) == TensorIOMode::kINPUT) {
      context->setInputShape(name, engine->getProfileShape(name, 0, OptProfileSelector::kOPT));
    }
  }
  std::vector<void*> buffers;
  for (int i = 0; i < engine->getNbIOTensors(); ++i) {
    const char* name = engine->getIOTensorName(i);
    const Dims shape = context->getTensorShape(name);
    int64_t count = 1;
    for (int d = 0; d < shape.nbDims; ++d) {
      count *= shape.d[d];
    }
    void* buffer = nullptr;
    cudaMalloc(&buffer, count * 4);
    cudaMemset(buffer, 0, count * 4);
    buffers.push_back(buffer);
    context->setTensorAddress(name, buffer);
  }
  std::vector<double> medians;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) {
      context->enqueueV3(stream);
      cudaStreamSynchronize(stream);
    }
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    medians.push_back(us / calls);
  }
  std::sort(medians.begin(), medians.end());
  for (void* b : buffers) {
    cudaFree(b);
  }
  context.reset();
  cudaStreamDestroy(stream);
  std::printf("floor_us=%.3f\n", medians[medians.size() / 2]);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "host";
  if (mode == "floor" && argc == 4) {
    return floor_loop(argv[2], std::atoi(argv[3]));
  }
  host_checks();
  if (mode == "gpu") {
    gpu_checks();
  }
  std::printf("contract_checks=%d failed=%d\n", g_checks, g_failed);
  return g_failed == 0 ? 0 : 1;
}
