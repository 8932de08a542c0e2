// Drives the delegate's real execute path (DelegateExecutor, StagingBuffers,
// from the installed delegate library) with an Engine whose device memory,
// copies and "inference" are real CUDA: cudaMalloc/cudaFree, cudaMemcpyAsync
// and a kernel on the engine's own non-blocking stream. Run under
// compute-sanitizer (tests/gpu/execute_sanitize.sh) it checks staging, reuse,
// growth, fresh, device I/O and two engines back to back for memory errors,
// races and synchronization errors on a real GPU. Exit status 0: all passed.

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>

#include <delegate_executor.h>
#include <error_report.h>
#include <fixed_engine_source.h>

extern "C" cudaError_t harness_scale_shift(const float* x, float* y, size_t n, float scale, float shift, cudaStream_t stream);

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

class CudaEngine final : public Engine {
 public:
  CudaEngine(float scale, float shift) : scale_(scale), shift_(shift) {
    cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking);
  }
  ~CudaEngine() override {
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
  Error enqueue(Span<const DeviceTensor> in, Span<const DeviceTensor> out) override {
    const cudaError_t s = harness_scale_shift(static_cast<const float*>(in[0].data), static_cast<float*>(out[0].data),
                                              in[0].nbytes / sizeof(float), scale_, shift_, stream_);
    return s == cudaSuccess ? Error::Ok : Error::Internal;
  }
  Error synchronize() override {
    return cudaStreamSynchronize(stream_) == cudaSuccess ? Error::Ok : Error::Internal;
  }

 private:
  float scale_, shift_;
  cudaStream_t stream_ = nullptr;
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
  std::printf(g_failures == 0 ? "HARNESS PASS\n" : "HARNESS FAIL (%d)\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
