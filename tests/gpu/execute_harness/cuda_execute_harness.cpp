// Drives the delegate's real execute path (DelegateExecutor, StagingBuffers,
// from the installed delegate library) with an Engine whose device memory,
// copies and "inference" are real CUDA: cudaMalloc/cudaFree, cudaMemcpyAsync
// and a kernel on the engine's own non-blocking stream. Run under
// compute-sanitizer (tests/gpu/execute_sanitize.sh) it checks staging, reuse,
// growth, fresh, device I/O and two engines back to back for memory errors,
// races and synchronization errors on a real GPU. Exit status 0: all passed.

#include <cuda_runtime_api.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>

#include <execute/delegate_executor.h>
#include <engines/engine_source.h>
#include <common/error_report.h>
#include <memory/execution_memory_pool.h>
#include <engines/fixed_engine_source.h>

extern "C" cudaError_t harness_scale_shift(const float* x, float* y, size_t n, float scale, float shift, cudaStream_t stream);
extern "C" cudaError_t harness_through_scratch(
    const float* x, float* scratch, float* y, size_t n, float scale, float shift, unsigned wait_ns, cudaStream_t stream);

using executorch::aten::Device;
using executorch::aten::DeviceType;
using executorch::aten::ScalarType;
using executorch::extension::from_blob;
using executorch::extension::make_tensor_ptr;
using executorch::extension::TensorPtr;
using executorch::runtime::EValue;
using namespace executorch_tensorrt;

namespace {

constexpr int kCols = 1024;
int g_failures = 0;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      ++g_failures;                                        \
      std::printf("  FAIL %s:%d: ", __FILE__, __LINE__);   \
      std::printf(__VA_ARGS__);                            \
      std::printf("\n");                                   \
    }                                                      \
  } while (0)

// What both stand-in engines share: their own non-blocking stream, device
// memory from cudaMalloc, copies and waits on that stream.
class CudaStreamEngine : public Engine {
 public:
  CudaStreamEngine() {
    cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking);
  }
  ~CudaStreamEngine() override {
    cudaStreamDestroy(stream_);
  }
  Error infer_output_shapes(uint32_t, Span<const Shape> in, Span<Shape> out) override {
    out[0] = in[0];
    return Error::Ok;
  }
  Result<void*> allocate_device(size_t nbytes) override {
    void* p = nullptr;
    return cudaMalloc(&p, nbytes == 0 ? 1 : nbytes) == cudaSuccess ? Result<void*>(p)
                                                                   : Result<void*>(Error::MemoryAllocationFailed);
  }
  void free_device(void* p) override {
    cudaFree(p);
  }
  Error copy_to_device(void* d, const void* h, size_t n) override {
    return cudaMemcpyAsync(d, h, n, cudaMemcpyHostToDevice, stream_) == cudaSuccess ? Error::Ok : Error::Internal;
  }
  Error copy_to_host(void* h, const void* d, size_t n) override {
    return cudaMemcpyAsync(h, d, n, cudaMemcpyDeviceToHost, stream_) == cudaSuccess ? Error::Ok : Error::Internal;
  }
  Error synchronize() override {
    return cudaStreamSynchronize(stream_) == cudaSuccess ? Error::Ok : Error::Internal;
  }

 protected:
  cudaStream_t stream_ = nullptr;
};

// y = x * scale + shift.
class CudaEngine final : public CudaStreamEngine {
 public:
  CudaEngine(float scale, float shift) : scale_(scale), shift_(shift) {}
  Error enqueue(Span<const DeviceTensor> in, Span<const DeviceTensor> out) override {
    const cudaError_t s = harness_scale_shift(static_cast<const float*>(in[0].data), static_cast<float*>(out[0].data),
                                              in[0].nbytes / sizeof(float), scale_, shift_, stream_);
    return s == cudaSuccess ? Error::Ok : Error::Internal;
  }

 private:
  float scale_, shift_;
};

EngineMetadata metadata(const char* in, const char* out) {
  Shape lo, hi;
  lo.rank = hi.rank = 2;
  lo.dims[0] = 1;
  hi.dims[0] = 8;
  lo.dims[1] = hi.dims[1] = kCols;
  EngineMetadata meta;
  meta.flavour = Flavour::kTest;
  meta.inputs.push_back(TensorSpec{in, 6, {ShapeRange{lo, lo, hi}}});
  meta.outputs.push_back(TensorSpec{out, 6, {ShapeRange{lo, lo, hi}}});
  return meta;
}

std::vector<float> ramp(int rows, float offset) {
  std::vector<float> v(static_cast<size_t>(rows) * kCols);
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = static_cast<float>(i % 97) - 48.0f + offset;
  }
  return v;
}

// One host-tensor call at `rows`; checks y = 2x + 1.
void host_call(DelegateExecutor& executor, FixedEngineSource& source, int rows) {
  const std::vector<float> x = ramp(rows, static_cast<float>(rows));
  auto in = make_tensor_ptr({rows, kCols}, x);
  auto out = make_tensor_ptr({8, kCols}, std::vector<float>(8 * kCols, -1.0f));
  EValue a(in), b(out);
  std::vector<EValue*> args{&a, &b};
  const Error err = executor.execute(source, {args.data(), args.size()});
  CHECK(err == Error::Ok, "execute failed: %s", last_error_message());
  CHECK(out->size(0) == rows, "output rows %d, expected %d", static_cast<int>(out->size(0)), rows);
  for (size_t i = 0; i < x.size(); ++i) {
    if (out->const_data_ptr<float>()[i] != x[i] * 2 + 1) {
      CHECK(false, "value %zu is %f, expected %f", i, out->const_data_ptr<float>()[i], x[i] * 2 + 1);
      break;
    }
  }
}

void case_reuse_and_growth() {
  std::printf("case reuse+growth\n");
  const EngineMetadata meta = metadata("x", "y");
  CudaEngine engine(2, 1);
  FixedEngineSource source(engine);
  DelegateExecutor executor(meta);
  for (int rows : {2, 2, 2, 6, 1, 6, 3}) {
    host_call(executor, source, rows);
  }
  CHECK(executor.counters().allocations == 2, "allocations %llu, expected 2 (first call, growth to 6 rows)",
        static_cast<unsigned long long>(executor.counters().allocations));
  executor.release_device_buffers();
  host_call(executor, source, 4);  // re-allocates after release
  CHECK(executor.counters().allocations == 3, "allocations after release %llu, expected 3",
        static_cast<unsigned long long>(executor.counters().allocations));
  executor.release_device_buffers();
}

void case_fresh() {
  std::printf("case fresh\n");
  const EngineMetadata meta = metadata("x", "y");
  CudaEngine engine(2, 1);
  FixedEngineSource source(engine);
  DelegateExecutor executor(meta);
  executor.set_output_buffer_policy(OutputBufferPolicy::kFresh);
  for (int rows : {3, 3, 8, 1}) {
    host_call(executor, source, rows);
  }
  CHECK(executor.counters().allocations == 4 && executor.counters().frees == 4, "fresh: %llu allocations, %llu frees",
        static_cast<unsigned long long>(executor.counters().allocations),
        static_cast<unsigned long long>(executor.counters().frees));
  executor.release_device_buffers();
}

struct CudaBlock {
  explicit CudaBlock(size_t bytes) {
    cudaMalloc(&data, bytes);
  }
  ~CudaBlock() {
    cudaFree(data);
  }
  void* data = nullptr;
};

TensorPtr device_tensor(CudaBlock& block, int rows) {
  return from_blob(block.data, {rows, kCols}, ScalarType::Float, Device(DeviceType::CUDA, 0));
}

void case_device_io_and_back_to_back() {
  std::printf("case device I/O, two engines back to back\n");
  const EngineMetadata first_meta = metadata("x", "y"), second_meta = metadata("y", "z");
  CudaEngine first_engine(2, 1), second_engine(-1, 0.5f);
  FixedEngineSource first_source(first_engine), second_source(second_engine);
  DelegateExecutor first(first_meta), second(second_meta);
  const int rows = 5;
  const std::vector<float> x = ramp(rows, 0.25f);
  CudaBlock x_block(x.size() * sizeof(float)), y_block(8 * kCols * sizeof(float)), z_block(8 * kCols * sizeof(float));
  cudaMemcpy(x_block.data, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice);
  auto xt = device_tensor(x_block, rows);
  auto yt = device_tensor(y_block, 8);
  auto zt = device_tensor(z_block, 8);
  EValue ex(xt), ey(yt), ez(zt);
  std::vector<EValue*> first_args{&ex, &ey}, second_args{&ey, &ez};
  for (int call = 0; call < 3; ++call) {
    CHECK(first.execute(first_source, {first_args.data(), 2}) == Error::Ok, "first: %s", last_error_message());
    CHECK(second.execute(second_source, {second_args.data(), 2}) == Error::Ok, "second: %s", last_error_message());
  }
  std::vector<float> z(x.size());
  cudaMemcpy(z.data(), z_block.data, z.size() * sizeof(float), cudaMemcpyDeviceToHost);
  for (size_t i = 0; i < z.size(); ++i) {
    const float expected = -(x[i] * 2 + 1) + 0.5f;
    if (std::fabs(z[i] - expected) > 1e-5f) {
      CHECK(false, "z[%zu] = %f, expected %f", i, z[i], expected);
      break;
    }
  }
  const ExecuteCounters& a = first.counters();
  const ExecuteCounters& b = second.counters();
  CHECK(a.allocations + b.allocations == 0, "device I/O allocated staging");
  CHECK(a.h2d_copies + a.d2h_copies + b.h2d_copies + b.d2h_copies == 0, "device I/O copied through the host");
  first.release_device_buffers();
  second.release_device_buffers();
}

// An engine whose context memory is user-managed: it computes through the
// memory bound to it (scratch = x * scale, then y = scratch + shift).
class ScratchEngine final : public CudaStreamEngine {
 public:
  ScratchEngine(float scale, float shift, int64_t need) : scale_(scale), shift_(shift), need_(need) {}
  int64_t execution_memory_bytes() const override {
    return need_;
  }
  Error bind_execution_memory(void* memory, int64_t bytes) override {
    scratch_ = static_cast<float*>(memory);
    bytes_ = bytes;
    return Error::Ok;
  }
  Error enqueue(Span<const DeviceTensor> in, Span<const DeviceTensor> out) override {
    if (scratch_ == nullptr || static_cast<size_t>(bytes_) < in[0].nbytes) {
      return Error::InvalidState;
    }
    const cudaError_t s = harness_through_scratch(static_cast<const float*>(in[0].data), scratch_,
                                                  static_cast<float*>(out[0].data), in[0].nbytes / sizeof(float),
                                                  scale_, shift_, 20000, stream_);
    return s == cudaSuccess ? Error::Ok : Error::Internal;
  }

 private:
  float scale_, shift_;
  int64_t need_;
  float* scratch_ = nullptr;
  int64_t bytes_ = -1;
};

// Hands out one engine with the pool's memory: under the pool's lease (the
// delegate's rule), or -- the control -- bound without it.
class PooledSource final : public EngineSource {
 public:
  PooledSource(ExecutionMemoryPool& pool, ScratchEngine& engine, void* unlocked_memory)
      : pool_(pool), engine_(engine), unlocked_memory_(unlocked_memory) {}
  Result<EngineLease> acquire(uint32_t) override {
    EngineLease lease;
    lease.engine = &engine_;
    if (unlocked_memory_ != nullptr) {
      engine_.bind_execution_memory(unlocked_memory_, engine_.execution_memory_bytes());
      return lease;
    }
    Result<ExecutionMemoryLease> memory = pool_.lease(engine_);
    if (!memory.ok()) {
      return memory.error();
    }
    lease.memory = std::move(*memory);
    return lease;
  }

 private:
  ExecutionMemoryPool& pool_;
  ScratchEngine& engine_;
  void* unlocked_memory_;
};

// Two delegates, two threads, two non-blocking streams, one pool. Returns
// the number of wrong outputs over both threads.
int run_two_threads(ExecutionMemoryPool& pool, ScratchEngine& a, ScratchEngine& b, void* unlocked, int calls) {
  const EngineMetadata meta = metadata("x", "y");
  std::atomic<int> wrong{0};
  auto worker = [&](ScratchEngine& engine, float scale, float shift) {
    PooledSource source(pool, engine, unlocked);
    DelegateExecutor executor(meta);
    const int rows = 8;
    const std::vector<float> x = ramp(rows, scale);
    for (int call = 0; call < calls; ++call) {
      auto in = make_tensor_ptr({rows, kCols}, x);
      auto out = make_tensor_ptr({rows, kCols}, std::vector<float>(rows * kCols, 0.0f));
      EValue ea(in), eb(out);
      std::vector<EValue*> args{&ea, &eb};
      if (executor.execute(source, {args.data(), args.size()}) != Error::Ok) {
        ++wrong;
        continue;
      }
      for (size_t i = 0; i < x.size(); ++i) {
        if (out->const_data_ptr<float>()[i] != x[i] * scale + shift) {
          ++wrong;
          break;
        }
      }
    }
    executor.release_device_buffers();
  };
  std::thread first(worker, std::ref(a), 2.0f, 1.0f);
  std::thread second(worker, std::ref(b), -3.0f, 0.5f);
  first.join();
  second.join();
  return wrong.load();
}

void case_shared_execution_memory() {
  std::printf("case shared execution memory: two threads, two streams, one pool\n");
  const int64_t need = 8 * kCols * sizeof(float);
  ExecutionMemoryPoolKey key;
  key.owner = 0x5eed;
  std::shared_ptr<ExecutionMemoryPool> pool = execution_memory_pool_for(key);
  ScratchEngine a(2, 1, need), b(-3, 0.5f, need / 2 + 4096);
  pool->join(a, a.execution_memory_bytes());
  pool->join(b, b.execution_memory_bytes());
  const int calls = 50;
  const int wrong = run_two_threads(*pool, a, b, nullptr, calls);
  const ExecutionMemoryPoolReport report = pool->report();
  CHECK(wrong == 0, "%d wrong results with the lease held", wrong);
  CHECK(report.capacity_bytes == need, "pool holds %lld bytes, expected the largest need %lld",
        static_cast<long long>(report.capacity_bytes), static_cast<long long>(need));
  CHECK(report.allocations == 1, "pool allocated %llu times", static_cast<unsigned long long>(report.allocations));
  std::printf("  with the lease: %d wrong of %d, pool %lld bytes (private would hold %lld), %llu runs, %llu waited\n",
              wrong, 2 * calls, static_cast<long long>(report.capacity_bytes),
              static_cast<long long>(report.summed_need_bytes), static_cast<unsigned long long>(report.leases),
              static_cast<unsigned long long>(report.waits));
  pool->leave(a);
  pool->leave(b);
}

void case_shared_memory_hazard_control() {
  std::printf("case control: one scratch buffer, no lease (expected to corrupt)\n");
  const int64_t need = 8 * kCols * sizeof(float);
  ExecutionMemoryPoolKey key;
  key.owner = 0xc0de;
  std::shared_ptr<ExecutionMemoryPool> pool = execution_memory_pool_for(key);
  ScratchEngine a(2, 1, need), b(-3, 0.5f, need);
  void* shared = nullptr;
  cudaMalloc(&shared, need);
  const int calls = 50;
  const int wrong = run_two_threads(*pool, a, b, shared, calls);
  std::printf("  without the lease: %d wrong of %d (the hazard the lease rules out)\n", wrong, 2 * calls);
  cudaFree(shared);
}

} // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("no CUDA device\n");
    return 2;
  }
  case_reuse_and_growth();
  case_fresh();
  case_device_io_and_back_to_back();
  case_shared_execution_memory();
  if (std::getenv("HARNESS_HAZARD_CONTROL") != nullptr) {
    case_shared_memory_hazard_control();
  }
  std::printf(g_failures == 0 ? "HARNESS PASS\n" : "HARNESS FAIL (%d)\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
