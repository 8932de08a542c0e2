// THE TENSORRT RUNTIME DOUBLE: a test double, NOT TensorRT.
//
// Built as libnvinfer_lean.so.11 and put first on LD_LIBRARY_PATH, it is what
// the unmodified TensorRT adapter (backend/tensorrt/) loads on a GPU machine
// without TensorRT. It implements the runtime half of the public TensorRT
// 11.1 API the adapter uses, through the implementation classes the public
// I* classes forward to (NvInferImpl.h), runs its own plans (PLAN_FORMAT.md)
// with its own CUDA kernels on the stream given to enqueueV3, holds real
// device memory where TensorRT would, and refuses through the ILogger what
// TensorRT documents as errors.

#include <NvInfer.h>
#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "double_plan.h"
#include "trt_double_api.h"

namespace trt_double {
namespace {

using namespace nvinfer1;

constexpr int32_t kMajor = 11, kMinor = 1, kPatch = 0, kBuild = 0;

std::atomic<int64_t> g_live_bytes{0}, g_allocations{0}, g_enqueues{0}, g_errors{0}, g_streamed{0};
std::atomic<uint64_t> g_engine_ids{1};
// Per context: its runs' stamps must differ from every other context's, also
// between contexts of one engine (several per engine run at once).
std::atomic<uint64_t> g_context_ids{1};
// Enqueues in flight on the host now and the most at once on one engine
// (contexts of one engine called from several threads).
std::atomic<int64_t> g_max_enqueues_on_one_engine{0};
std::atomic<int64_t> g_refits{0};  // refitCudaEngine calls that succeeded

__device__ unsigned long long g_overlaps;

// Sends a kERROR like TensorRT does; every message says it is the double.
void log_error(ILogger* logger, const char* format, ...) {
  char text[1024];
  const int prefix = std::snprintf(text, sizeof(text), "TensorRT runtime double (not TensorRT): ");
  va_list args;
  va_start(args, format);
  std::vsnprintf(text + prefix, sizeof(text) - prefix, format, args);
  va_end(args);
  ++g_errors;
  if (logger) {
    logger->log(ILogger::Severity::kERROR, text);
  }
}

void log_info(ILogger* logger, const std::string& what) {
  if (logger) {
    logger->log(ILogger::Severity::kINFO, ("TensorRT runtime double (not TensorRT): " + what).c_str());
  }
}

bool device_alloc(ILogger* logger, int64_t bytes, void** out, const char* what) {
  *out = nullptr;
  if (bytes <= 0) {
    return true;
  }
  const cudaError_t status = cudaMalloc(out, static_cast<size_t>(bytes));
  if (status != cudaSuccess) {
    cudaGetLastError();
    log_error(logger, "out of device memory: cudaMalloc of %lld bytes for %s failed (%s)",
              static_cast<long long>(bytes), what, cudaGetErrorString(status));
    *out = nullptr;
    return false;
  }
  ++g_allocations;
  g_live_bytes += bytes;
  return true;
}

void device_free(void* pointer, int64_t bytes) {
  if (pointer) {
    cudaFree(pointer);
    g_live_bytes -= bytes;
  }
}

bool aligned(const void* pointer) {
  return reinterpret_cast<uintptr_t>(pointer) % kAlignment == 0;
}

Dims64 to_trt(const trt_double::Shape& dims) {
  Dims64 out{};
  out.nbDims = static_cast<int32_t>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    out.d[i] = dims[i];
  }
  return out;
}

Dims64 unknown_dims(int rank) {
  Dims64 out{};
  out.nbDims = rank;
  for (int i = 0; i < rank; ++i) {
    out.d[i] = -1;
  }
  return out;
}

// ---------------------------------------------------------------- kernels

__global__ void elementwise_kernel(int op, const float* a, float la, const float* b, float lb, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float x = a ? a[i] : la;
    const float y = b ? b[i] : lb;
    float r = x;
    switch (op) {
      case 0: r = x + y; break;
      case 1: r = x - y; break;
      case 2: r = x * y; break;
      case 3: r = x > 0.f ? x : 0.f; break;
      case 4: r = -x; break;
      default: r = x; break;
    }
    out[i] = r;
  }
}

__global__ void linear_kernel(const float* x, const float* w, const float* bias, float* out, int64_t m, int64_t k, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < m * n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / n, col = i % n;
    float sum = bias ? bias[col] : 0.f;
    for (int64_t j = 0; j < k; ++j) {
      sum += x[row * k + j] * w[j * n + col];
    }
    out[i] = sum;
  }
}

// nonzero, in one thread (order matters; the double's tensors are small):
// the count of nonzero elements of `x` (`n` of them, of `rank` dims).
__global__ void nonzero_count_kernel(const float* x, int64_t n, long long* count) {
  long long found = 0;
  for (int64_t k = 0; k < n; ++k) {
    found += x[k] != 0.0f ? 1 : 0;
  }
  *count = found;
}

// Their row-major indices, one row of `rank` int64 per nonzero element.
__global__ void nonzero_write_kernel(const float* x, int64_t n, const int64_t* dims, int rank, int64_t* out) {
  int64_t row = 0;
  for (int64_t k = 0; k < n; ++k) {
    if (x[k] == 0.0f) {
      continue;
    }
    int64_t rest = k;
    for (int d = rank - 1; d >= 0; --d) {
      out[row * rank + d] = dims[d] == 0 ? 0 : rest % dims[d];
      rest = dims[d] == 0 ? 0 : rest / dims[d];
    }
    ++row;
  }
}

__global__ void stamp_kernel(unsigned long long* slot, unsigned long long value) {
  *slot = value;
}

// Holds the memory for `delay_ns`, then counts the run if another run
// stamped its memory meanwhile.
__global__ void check_stamp_kernel(const unsigned long long* slot, unsigned long long value, long long delay_ns) {
  const long long start = clock64();
  if (delay_ns > 0) {
    int clock_khz = 1000000; // ~1 GHz lower bound: waits at least delay_ns
    while ((clock64() - start) * 1000000 / clock_khz < delay_ns) {
      __nanosleep(1000);
    }
  }
  if (*reinterpret_cast<const volatile unsigned long long*>(slot) != value) {
    atomicAdd(&g_overlaps, 1ULL);
  }
}

unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + 255) / 256;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks > 1024 ? 1024 : blocks);
}

// ---------------------------------------------------------------- objects

class HostMemoryImpl final : public apiv::VHostMemory {
 public:
  explicit HostMemoryImpl(std::string bytes) : bytes_(std::move(bytes)) {}
  void* data() const noexcept override { return const_cast<char*>(bytes_.data()); }
  std::size_t size() const noexcept override { return bytes_.size(); }
  DataType type() const noexcept override { return DataType::kUINT8; }

 private:
  std::string bytes_;
};

class HostMemory final : public IHostMemory {
 public:
  explicit HostMemory(std::string bytes) : impl_(std::move(bytes)) { mImpl = &impl_; }

 private:
  HostMemoryImpl impl_;
};

class EngineImpl;

class ContextImpl final : public apiv::VExecutionContext {
 public:
  ContextImpl(EngineImpl& engine, IExecutionContext* owner, ExecutionContextAllocationStrategy strategy)
      : engine_(engine),
        owner_(owner),
        user_managed_(strategy == ExecutionContextAllocationStrategy::kUSER_MANAGED),
        id_(g_context_ids++) {}
  ~ContextImpl() override;
  bool init();

  IExecutionContext* getPImpl() noexcept override { return owner_; }
  void setDebugSync(bool) noexcept override {}
  bool getDebugSync() const noexcept override { return false; }
  void setProfiler(IProfiler*) noexcept override {}
  IProfiler* getProfiler() const noexcept override { return nullptr; }
  ICudaEngine const& getEngine() const noexcept override;
  void setName(char const* name) noexcept override { name_ = name ? name : ""; }
  char const* getName() const noexcept override { return name_.c_str(); }
  void setDeviceMemory(void* memory) noexcept override;
  int32_t getOptimizationProfile() const noexcept override { return profile_; }
  bool allInputDimensionsSpecified() const noexcept override;
  void setErrorRecorder(IErrorRecorder*) noexcept override {}
  IErrorRecorder* getErrorRecorder() const noexcept override { return nullptr; }
  bool executeV2(void* const*) noexcept override;
  bool setOptimizationProfileAsync(int32_t profileIndex, cudaStream_t stream) noexcept override;
  void setEnqueueEmitsProfile(bool) noexcept override {}
  bool getEnqueueEmitsProfile() const noexcept override { return false; }
  bool reportToProfiler() const noexcept override { return false; }
  bool setInputShape(char const* tensorName, Dims const& dims) noexcept override;
  Dims getTensorShape(char const* tensorName) const noexcept override;
  Dims getTensorStrides(char const* tensorName) const noexcept override;
  bool setTensorAddress(char const* tensorName, void* data) noexcept override;
  void const* getTensorAddress(char const* tensorName) const noexcept override;
  bool setInputTensorAddress(char const* tensorName, void const* data) noexcept override {
    return setTensorAddress(tensorName, const_cast<void*>(data));
  }
  bool setOutputTensorAddress(char const* tensorName, void* data) noexcept override {
    return setTensorAddress(tensorName, data);
  }
  int32_t inferShapes(int32_t, char const**) noexcept override { return 0; }
  bool setInputConsumedEvent(cudaEvent_t) noexcept override { return false; }
  cudaEvent_t getInputConsumedEvent() const noexcept override { return nullptr; }
  void* getOutputTensorAddress(char const* tensorName) const noexcept override {
    return const_cast<void*>(getTensorAddress(tensorName));
  }
  bool setOutputAllocator(char const* tensorName, IOutputAllocator* allocator) noexcept override;
  IOutputAllocator* getOutputAllocator(char const* tensorName) noexcept override {
    const auto it = tensorName ? allocators_.find(tensorName) : allocators_.end();
    return it == allocators_.end() ? nullptr : it->second;
  }
  int64_t getMaxOutputSize(char const*) const noexcept override { return -1; }
  bool setTemporaryStorageAllocator(IGpuAllocator*) noexcept override { return false; }
  IGpuAllocator* getTemporaryStorageAllocator() const noexcept override { return nullptr; }
  bool enqueueV3(cudaStream_t stream) noexcept override;
  void setPersistentCacheLimit(size_t) noexcept override {}
  size_t getPersistentCacheLimit() const noexcept override { return 0; }
  bool setNvtxVerbosity(ProfilingVerbosity) noexcept override { return false; }
  ProfilingVerbosity getNvtxVerbosity() const noexcept override { return ProfilingVerbosity::kLAYER_NAMES_ONLY; }
  void setAuxStreams(cudaStream_t*, int32_t) noexcept override {}
  bool setDebugListener(IDebugListener*) noexcept override { return false; }
  IDebugListener* getDebugListener() noexcept override { return nullptr; }
  bool setTensorDebugState(char const*, bool) noexcept override { return false; }
  bool getDebugState(char const*) const noexcept override { return false; }
  bool setAllTensorsDebugState(bool) noexcept override { return false; }
  size_t updateDeviceMemorySizeForShapes() noexcept override;
  void setDeviceMemoryV2(void* memory, int64_t size) noexcept override;
  IRuntimeConfig* getRuntimeConfig() const noexcept override { return nullptr; }
  bool setUnfusedTensorsDebugState(bool) noexcept override { return false; }
  bool getUnfusedTensorsDebugState() const noexcept override { return false; }
  bool setCommunicator(void*) noexcept override { return false; }

 private:
  bool input_shapes(std::map<std::string, trt_double::Shape>* out) const;
  // One nonzero op, as TensorRT runs a data-dependent shape: count on the
  // GPU, wait for the count on the host, ask the output's IOutputAllocator
  // for memory (refused: fail, nothing written), write, notify the shape.
  bool run_nonzero(const Op& op, const float* source, const trt_double::Shape& dims, char* scratch_count,
                   cudaStream_t stream);

  EngineImpl& engine_;
  IExecutionContext* owner_;
  bool user_managed_;
  std::string name_;
  int32_t profile_ = 0;
  void* memory_ = nullptr;      // execution memory: owned (kSTATIC) or bound
  int64_t memory_bytes_ = 0;
  bool owns_memory_ = false;
  std::map<std::string, trt_double::Shape> shapes_;  // inputs set with setInputShape
  std::map<std::string, void*> addresses_;
  std::map<std::string, IOutputAllocator*> allocators_; // setOutputAllocator, not owned
  const uint64_t id_; // unique per context in the process
  uint64_t runs_ = 0;
};

class ExecutionContext final : public IExecutionContext {
 public:
  ExecutionContext(EngineImpl& engine, ExecutionContextAllocationStrategy strategy) : impl_(engine, this, strategy) {
    mImpl = &impl_;
  }
  bool init() { return impl_.init(); }

 private:
  ContextImpl impl_;
};

class EngineImpl final : public apiv::VCudaEngine {
 public:
  EngineImpl(ICudaEngine* owner, ILogger* logger) : owner_(owner), logger_(logger), id_(g_engine_ids++) {}
  ~EngineImpl() override {
    if (contexts_ != 0) {
      log_error(logger_, "engine destroyed while %d execution context(s) exist; destroy contexts first", contexts_.load());
    }
    device_free(resident_, plan_.resident_bytes);
    device_free(streamed_resident_, resident_streamable_bytes_);
    if (host_streamable_) {
      cudaFreeHost(host_streamable_);
    }
  }

  bool init(const void* blob, std::size_t size) {
    std::string error;
    // Only the plan's own bytes: a plan ending in an `end` line may be
    // followed by gigabytes nobody reads (a hole in a program file).
    text_.assign(static_cast<const char*>(blob), plan_extent(static_cast<const char*>(blob), size));
    if (!parse_plan(text_, &plan_, &error)) {
      log_error(logger_, "cannot deserialize: %s", error.c_str());
      return false;
    }
    if (cudaGetDevice(&device_) != cudaSuccess) {
      cudaGetLastError();
      log_error(logger_, "cannot deserialize: no current CUDA device");
      return false;
    }
    budget_ = plan_.streamable_bytes;
    if (!device_alloc(logger_, plan_.resident_bytes, &resident_, "resident weights")) {
      return false;
    }
    std::vector<char> resident_image(plan_.resident_bytes, 0);
    if (plan_.streamable_bytes > 0) {
      if (cudaMallocHost(&host_streamable_, std::max<int64_t>(plan_.streamable_weights_end, 1)) != cudaSuccess) {
        cudaGetLastError();
        host_streamable_ = nullptr;
        log_error(logger_, "cannot deserialize: no pinned host memory for streamable weights");
        return false;
      }
      std::memset(host_streamable_, 0, plan_.streamable_weights_end);
    }
    for (const Weight& w : plan_.weights) {
      char* base = w.streamable ? static_cast<char*>(host_streamable_) : resident_image.data();
      std::memcpy(base + w.offset, w.values.data(), w.bytes());
    }
    if (resident_ && cudaMemcpy(resident_, resident_image.data(), plan_.resident_bytes, cudaMemcpyHostToDevice) != cudaSuccess) {
      log_error(logger_, "cannot deserialize: uploading weights failed");
      return false;
    }
    max_shape_table(); // filled now: contexts on several threads read it
    log_info(logger_, "deserialized a double plan: " + std::to_string(plan_.io.size()) + " I/O tensors, " +
                          std::to_string(plan_.ops.size()) + " ops");
    return true;
  }

  // -- what contexts use
  const Plan& plan() const { return plan_; }
  ILogger* logger() const { return logger_; }
  int device() const { return device_; }
  ICudaEngine& owner() const { return *owner_; }
  void context_gone() { --contexts_; }

  // Counts one enqueue in flight on this engine (any of its contexts).
  struct EnqueueInFlight {
    explicit EnqueueInFlight(EngineImpl& engine) : engine_(engine) {
      const int64_t now = ++engine.enqueues_in_flight_;
      int64_t seen = g_max_enqueues_on_one_engine.load();
      while (now > seen && !g_max_enqueues_on_one_engine.compare_exchange_weak(seen, now)) {
      }
    }
    ~EnqueueInFlight() { --engine_.enqueues_in_flight_; }
    EngineImpl& engine_;
  };

  // Streamable weights from this offset on are streamed into the scratch
  // at each run; the ones before it are resident (within the budget).
  int64_t stream_from() const {
    int64_t from = budget_;
    for (const Weight& w : plan_.weights) {
      if (w.streamable && w.offset < budget_ && w.offset + align_up(w.bytes()) > budget_) {
        from = std::min(from, w.offset);
      }
    }
    return from;
  }
  // Only weights ops read are streamed (the pad never is), as TensorRT
  // streams what a layer needs into bounded scratch.
  int64_t scratch_bytes() const {
    return std::max<int64_t>(0, plan_.streamable_weights_end - stream_from());
  }
  const void* host_streamable() const { return host_streamable_; }

  const float* weight_address(const Weight& w, char* scratch) const {
    if (!w.streamable) {
      return reinterpret_cast<const float*>(static_cast<char*>(resident_) + w.offset);
    }
    const int64_t from = stream_from();
    return reinterpret_cast<const float*>(
        w.offset >= from ? scratch + (w.offset - from) : static_cast<char*>(streamed_resident_) + w.offset);
  }

  // The streamable weights kept resident: the budget, all when none was set.
  bool ensure_resident_streamable() {
    if (resident_allocated_ || plan_.streamable_bytes == 0) {
      return true;
    }
    // The budget is allocated; the weights wholly inside it are uploaded.
    const int64_t bytes = budget_;
    if (!device_alloc(logger_, bytes, &streamed_resident_, "streamable weights kept resident")) {
      return false;
    }
    const int64_t upload = std::min(stream_from(), plan_.streamable_weights_end);
    if (upload > 0 && cudaMemcpy(streamed_resident_, host_streamable_, upload, cudaMemcpyHostToDevice) != cudaSuccess) {
      log_error(logger_, "uploading resident streamable weights failed");
      device_free(streamed_resident_, bytes);
      streamed_resident_ = nullptr;
      return false;
    }
    resident_streamable_bytes_ = bytes;
    resident_allocated_ = true;
    return true;
  }

  // -- VCudaEngine
  ICudaEngine* getPImpl() noexcept override { return owner_; }
  int32_t getNbLayers() const noexcept override { return static_cast<int32_t>(plan_.ops.size()); }
  // The plan as deserialized: through its `end` line, never the bytes after it.
  IHostMemory* serialize() const noexcept override { return new (std::nothrow) HostMemory(text_); }
  IExecutionContext* createExecutionContext(ExecutionContextAllocationStrategy strategy) noexcept override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!ensure_resident_streamable()) {
      return nullptr;
    }
    std::unique_ptr<ExecutionContext> context(new (std::nothrow) ExecutionContext(*this, strategy));
    ++contexts_;
    if (!context || !context->init()) {
      return nullptr; // ~ContextImpl counts it gone
    }
    return context.release();
  }
  bool isRefittable() const noexcept override { return stripped_weights() > 0 || refitted_; }

  // -- refit (RefitterImpl): weight-stripped plans
  size_t stripped_weights() const {
    size_t count = 0;
    for (const Weight& w : plan_.weights) {
      count += w.stripped && !refitted_ ? 1 : 0;
    }
    return count;
  }
  bool weight_refitted(const Weight& w) const { return !w.stripped || refitted_; }
  // Uploads `values` (host memory, count floats each) over the weights named;
  // every stripped weight must be among them unless refitted before.
  bool refit(const std::map<std::string, Weights>& values) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Weight& w : plan_.weights) {
      auto given = values.find(w.name);
      if (given == values.end()) {
        if (!weight_refitted(w)) {
          log_error(logger_, "refitCudaEngine: weight '%s' is missing", w.name.c_str());
          return false;
        }
        continue;
      }
      if (w.streamable) {
        log_error(logger_, "refitCudaEngine: the double refits resident weights only ('%s' streams)", w.name.c_str());
        return false;
      }
      if (cudaMemcpy(static_cast<char*>(resident_) + w.offset, given->second.values, w.bytes(), cudaMemcpyHostToDevice) !=
          cudaSuccess) {
        cudaGetLastError();
        log_error(logger_, "refitCudaEngine: uploading weight '%s' failed", w.name.c_str());
        return false;
      }
    }
    refitted_ = true;
    ++g_refits;
    return true;
  }
  char const* getName() const noexcept override { return "trt-runtime-double-engine"; }
  int32_t getNbOptimizationProfiles() const noexcept override { return plan_.profiles; }
  EngineCapability getEngineCapability() const noexcept override { return EngineCapability::kSTANDARD; }
  void setErrorRecorder(IErrorRecorder*) noexcept override {}
  IErrorRecorder* getErrorRecorder() const noexcept override { return nullptr; }
  TacticSources getTacticSources() const noexcept override { return 0; }
  ProfilingVerbosity getProfilingVerbosity() const noexcept override { return ProfilingVerbosity::kLAYER_NAMES_ONLY; }
  IEngineInspector* createEngineInspector() const noexcept override { return nullptr; }
  Dims getTensorShape(char const* name) const noexcept override {
    const IoTensor* t = name ? plan_.find_io(name) : nullptr;
    if (!t) {
      return unknown_dims(-1);
    }
    const trt_double::Shape& shape = max_shape(name);
    Dims64 out = to_trt(shape);
    for (int d = 0; d < out.nbDims; ++d) {
      for (int p = 0; t->is_input && p < plan_.profiles; ++p) {
        if (t->ranges[p].min[d] != t->ranges[p].max[d] || t->ranges[p].max[d] != shape[d]) {
          out.d[d] = -1;
        }
      }
    }
    if (!t->is_input) {
      // Like TensorRT, an output dim that depends on a dynamic input dim is
      // -1: compare the shapes inferred at every profile's min and max.
      for (int p = 0; p < plan_.profiles; ++p) {
        for (const bool at_min : {true, false}) {
          std::map<std::string, trt_double::Shape> inputs, shapes;
          for (const IoTensor& io : plan_.io) {
            if (io.is_input) {
              inputs[io.name] = at_min ? io.ranges[p].min : io.ranges[p].max;
            }
          }
          std::string ignored;
          if (!infer_shapes(plan_, inputs, &shapes, &ignored)) {
            continue;
          }
          const trt_double::Shape& inferred = shapes.at(name);
          for (int d = 0; d < out.nbDims && d < static_cast<int>(inferred.size()); ++d) {
            if (inferred[d] != shape[d]) {
              out.d[d] = -1;
            }
          }
        }
      }
      if (plan_.is_data_dependent(name)) {
        out.d[0] = -1; // nonzero's count: known only during the run
      }
    }
    return out;
  }
  DataType getTensorDataType(char const* name) const noexcept override {
    // float32 everywhere but nonzero's indices
    return name && plan_.is_data_dependent(name) ? DataType::kINT64 : DataType::kFLOAT;
  }
  TensorLocation getTensorLocation(char const*) const noexcept override { return TensorLocation::kDEVICE; }
  bool isShapeInferenceIO(char const*) const noexcept override { return false; }
  TensorIOMode getTensorIOMode(char const* name) const noexcept override {
    const IoTensor* t = name ? plan_.find_io(name) : nullptr;
    return !t ? TensorIOMode::kNONE : t->is_input ? TensorIOMode::kINPUT : TensorIOMode::kOUTPUT;
  }
  int32_t getTensorBytesPerComponent(char const*) const noexcept override { return 4; }
  int32_t getTensorComponentsPerElement(char const*) const noexcept override { return 1; }
  TensorFormat getTensorFormat(char const*) const noexcept override { return TensorFormat::kLINEAR; }
  char const* getTensorFormatDesc(char const*) const noexcept override { return "row-major float32"; }
  int32_t getTensorVectorizedDim(char const*) const noexcept override { return -1; }
  Dims getProfileShape(char const* name, int32_t profile, OptProfileSelector select) const noexcept override {
    const IoTensor* t = name ? plan_.find_io(name) : nullptr;
    if (!t || !t->is_input || profile < 0 || profile >= plan_.profiles) {
      log_error(logger_, "getProfileShape: no input '%s' or profile %d", name ? name : "(null)", profile);
      return unknown_dims(-1);
    }
    const Range& r = t->ranges[profile];
    return to_trt(select == OptProfileSelector::kMIN ? r.min : select == OptProfileSelector::kOPT ? r.opt : r.max);
  }
  int32_t getNbIOTensors() const noexcept override { return static_cast<int32_t>(plan_.io.size()); }
  char const* getIOTensorName(int32_t index) const noexcept override {
    return index >= 0 && index < getNbIOTensors() ? plan_.io[index].name.c_str() : nullptr;
  }
  HardwareCompatibilityLevel getHardwareCompatibilityLevel() const noexcept override {
    return HardwareCompatibilityLevel::kNONE;
  }
  int32_t getNbAuxStreams() const noexcept override { return 0; }
  int32_t getTensorBytesPerComponentV2(char const*, int32_t) const noexcept override { return 4; }
  int32_t getTensorComponentsPerElementV2(char const*, int32_t) const noexcept override { return 1; }
  TensorFormat getTensorFormatV2(char const*, int32_t) const noexcept override { return TensorFormat::kLINEAR; }
  char const* getTensorFormatDescV2(char const*, int32_t) const noexcept override { return "row-major float32"; }
  int32_t getTensorVectorizedDimV2(char const*, int32_t) const noexcept override { return -1; }
  ISerializationConfig* createSerializationConfig() noexcept override { return nullptr; }
  IHostMemory* serializeWithConfig(ISerializationConfig&) const noexcept override { return serialize(); }
  IRefitter* createRefitter(ILogger&) noexcept override { return nullptr; }
  int64_t getStreamableWeightsSize() const noexcept override { return plan_.streamable_bytes; }
  bool isDebugTensor(char const*) const noexcept override { return false; }
  bool setWeightStreamingBudgetV2(int64_t budget) noexcept override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (plan_.streamable_bytes == 0) {
      log_error(logger_, "setWeightStreamingBudgetV2: the engine has no streamable weights (built without kWEIGHT_STREAMING)");
      return false;
    }
    if (contexts_ != 0) {
      log_error(logger_, "setWeightStreamingBudgetV2: %d execution context(s) exist; destroy them before changing the budget",
                contexts_.load());
      return false;
    }
    if (budget < 0 || budget > plan_.streamable_bytes) {
      log_error(logger_, "setWeightStreamingBudgetV2: budget %lld is outside [0, %lld]", static_cast<long long>(budget),
                static_cast<long long>(plan_.streamable_bytes));
      return false;
    }
    const int64_t old_budget = budget_;
    device_free(streamed_resident_, resident_streamable_bytes_);
    streamed_resident_ = nullptr;
    resident_streamable_bytes_ = 0;
    resident_allocated_ = false;
    budget_ = budget;
    if (!ensure_resident_streamable()) {
      budget_ = old_budget;
      return false;
    }
    return true;
  }
  int64_t getWeightStreamingBudgetV2() const noexcept override { return budget_; }
  int64_t getWeightStreamingAutomaticBudget() const noexcept override {
    return plan_.streamable_bytes / 2 / kAlignment * kAlignment;
  }
  int64_t getWeightStreamingScratchMemorySize() const noexcept override { return scratch_bytes(); }
  int64_t getDeviceMemorySizeV2() const noexcept override {
    int64_t most = 0;
    for (int p = 0; p < plan_.profiles; ++p) {
      most = std::max(most, getDeviceMemorySizeForProfileV2(p));
    }
    return most;
  }
  int64_t getDeviceMemorySizeForProfileV2(int32_t profile) const noexcept override {
    if (profile < 0 || profile >= plan_.profiles) {
      log_error(logger_, "getDeviceMemorySizeForProfileV2: profile %d out of range [0, %d)", profile, plan_.profiles);
      return 0;
    }
    return execution_memory_bytes(plan_, profile, scratch_bytes());
  }
  int64_t const* getProfileTensorValuesV2(char const*, int32_t, OptProfileSelector) const noexcept override {
    return nullptr;
  }
  IExecutionContext* createExecutionContextWithRuntimeConfig(IRuntimeConfig*) noexcept override {
    return createExecutionContext(ExecutionContextAllocationStrategy::kSTATIC);
  }
  IRuntimeConfig* createRuntimeConfig() noexcept override { return nullptr; }
  int64_t getEngineStat(EngineStat stat) const noexcept override {
    return stat == EngineStat::kTOTAL_WEIGHTS_SIZE ? plan_.resident_bytes + plan_.streamable_bytes : 0;
  }
  // The plan's `alias OUT IN` lines, as TensorRT reports an output that
  // updates its input in place (e.g. a KV cache).
  char const* getAliasedInputTensor(char const* name) const noexcept override {
    const auto it = name != nullptr ? plan_.aliases.find(name) : plan_.aliases.end();
    return it != plan_.aliases.end() ? it->second.c_str() : nullptr;
  }

 private:
  const trt_double::Shape& max_shape(const std::string& name) const {
    return max_shape_table().at(name);
  }
  // Written once, by init() (before any context exists), then only read.
  const std::map<std::string, trt_double::Shape>& max_shape_table() const {
    if (max_shapes_.empty()) {
      std::map<std::string, trt_double::Shape> inputs;
      for (const IoTensor& t : plan_.io) {
        if (t.is_input) {
          inputs[t.name] = t.ranges[0].max;
        }
      }
      std::string ignored;
      infer_shapes(plan_, inputs, &max_shapes_, &ignored);
    }
    return max_shapes_;
  }

  ICudaEngine* owner_;
  ILogger* logger_;
  uint64_t id_;
  std::string text_;
  Plan plan_;
  int device_ = 0;
  void* resident_ = nullptr;           // resident weights
  void* streamed_resident_ = nullptr;  // streamable weights within the budget
  int64_t resident_streamable_bytes_ = 0;
  bool resident_allocated_ = false;
  void* host_streamable_ = nullptr;    // pinned copy of all streamable weights
  int64_t budget_ = 0;
  std::atomic<int> contexts_{0};
  bool refitted_ = false;  // every stripped weight was uploaded by a refit
  std::atomic<int64_t> enqueues_in_flight_{0};
  std::mutex mutex_;
  mutable std::map<std::string, trt_double::Shape> max_shapes_;
};

class CudaEngine final : public ICudaEngine {
 public:
  explicit CudaEngine(ILogger* logger) : impl_(this, logger) { mImpl = &impl_; }
  bool init(const void* blob, std::size_t size) { return impl_.init(blob, size); }
  EngineImpl& impl() { return impl_; }

 private:
  EngineImpl impl_;
};

// ---------------------------------------------------------------- context

ContextImpl::~ContextImpl() {
  if (owns_memory_) {
    device_free(memory_, memory_bytes_);
  }
  engine_.context_gone();
}

bool ContextImpl::init() {
  if (user_managed_) {
    return true;
  }
  memory_bytes_ = engine_.getDeviceMemorySizeV2();
  owns_memory_ = true;
  return device_alloc(engine_.logger(), memory_bytes_, &memory_, "execution context memory");
}

ICudaEngine const& ContextImpl::getEngine() const noexcept {
  return engine_.owner();
}

void ContextImpl::setDeviceMemory(void* memory) noexcept {
  setDeviceMemoryV2(memory, engine_.getDeviceMemorySizeV2());
}

void ContextImpl::setDeviceMemoryV2(void* memory, int64_t size) noexcept {
  ILogger* logger = engine_.logger();
  if (!user_managed_) {
    log_error(logger, "setDeviceMemoryV2: the context was not created with kUSER_MANAGED");
    return;
  }
  if (!memory || !aligned(memory)) {
    log_error(logger, "setDeviceMemoryV2: address %p is not 256-byte aligned device memory", memory);
    return;
  }
  const int64_t need = engine_.getDeviceMemorySizeV2();
  if (size < need) {
    log_error(logger, "setDeviceMemoryV2: %lld bytes bound, getDeviceMemorySizeV2() is %lld", static_cast<long long>(size),
              static_cast<long long>(need));
    return;
  }
  memory_ = memory;
  memory_bytes_ = size;
}

size_t ContextImpl::updateDeviceMemorySizeForShapes() noexcept {
  return static_cast<size_t>(engine_.getDeviceMemorySizeForProfileV2(profile_));
}

bool ContextImpl::allInputDimensionsSpecified() const noexcept {
  return static_cast<int>(shapes_.size()) == engine_.plan().input_count();
}

bool ContextImpl::executeV2(void* const*) noexcept {
  log_error(engine_.logger(), "executeV2 is not provided by the double; use enqueueV3");
  return false;
}

bool ContextImpl::setOptimizationProfileAsync(int32_t index, cudaStream_t) noexcept {
  const int32_t profiles = engine_.plan().profiles;
  if (index < 0 || index >= profiles) {
    log_error(engine_.logger(), "setOptimizationProfileAsync: profile index %d out of range [0, %d)", index, profiles);
    return false;
  }
  if (index != profile_) {
    profile_ = index;
    shapes_.clear(); // shapes are checked against the new profile: set them again
  }
  return true;
}

bool ContextImpl::setInputShape(char const* name, Dims const& dims) noexcept {
  ILogger* logger = engine_.logger();
  const IoTensor* t = name ? engine_.plan().find_io(name) : nullptr;
  if (!t || !t->is_input) {
    log_error(logger, "setInputShape: '%s' is not an input tensor", name ? name : "(null)");
    return false;
  }
  if (dims.nbDims != t->rank) {
    log_error(logger, "setInputShape: input '%s' has rank %d, got %d dims", name, t->rank, dims.nbDims);
    return false;
  }
  const Range& r = t->ranges[profile_];
  trt_double::Shape shape(dims.d, dims.d + dims.nbDims);
  for (int d = 0; d < t->rank; ++d) {
    if (shape[d] < r.min[d] || shape[d] > r.max[d]) {
      log_error(logger, "setInputShape: %s for input '%s' is outside profile %d (min %s, max %s)", dims_text(shape).c_str(),
                name, profile_, dims_text(r.min).c_str(), dims_text(r.max).c_str());
      return false;
    }
  }
  shapes_[name] = shape;
  return true;
}

bool ContextImpl::input_shapes(std::map<std::string, trt_double::Shape>* out) const {
  *out = shapes_;
  return allInputDimensionsSpecified();
}

Dims ContextImpl::getTensorShape(char const* name) const noexcept {
  const IoTensor* t = name ? engine_.plan().find_io(name) : nullptr;
  if (!t) {
    log_error(engine_.logger(), "getTensorShape: no tensor '%s'", name ? name : "(null)");
    return unknown_dims(-1);
  }
  std::map<std::string, trt_double::Shape> inputs, shapes;
  std::string error;
  if (!input_shapes(&inputs) || !infer_shapes(engine_.plan(), inputs, &shapes, &error)) {
    const auto it = shapes_.find(name);
    return it != shapes_.end() ? to_trt(it->second) : engine_.getTensorShape(name);
  }
  Dims64 out = to_trt(shapes.at(name));
  if (engine_.plan().is_data_dependent(name)) {
    out.d[0] = -1; // like TensorRT: a data-dependent dim stays -1 with every input shape set
  }
  return out;
}

bool ContextImpl::setOutputAllocator(char const* name, IOutputAllocator* allocator) noexcept {
  const IoTensor* t = name ? engine_.plan().find_io(name) : nullptr;
  if (!t || t->is_input) {
    log_error(engine_.logger(), "setOutputAllocator: '%s' is not an output tensor", name ? name : "(null)");
    return false;
  }
  if (allocator) {
    allocators_[name] = allocator;
  } else {
    allocators_.erase(name);
  }
  return true;
}

bool ContextImpl::run_nonzero(const Op& op, const float* source, const trt_double::Shape& dims, char* scratch_count,
                              cudaStream_t stream) {
  ILogger* logger = engine_.logger();
  const auto allocator = allocators_.find(op.dst);
  if (allocator == allocators_.end()) {
    log_error(logger, "enqueueV3: output '%s' has a data-dependent shape and no IOutputAllocator", op.dst.c_str());
    return false;
  }
  const int64_t n = element_count(dims);
  const int rank = static_cast<int>(dims.size());
  auto* count = reinterpret_cast<long long*>(scratch_count);
  auto* device_dims = reinterpret_cast<int64_t*>(scratch_count + 8);
  if (cudaMemcpyAsync(device_dims, dims.data(), sizeof(int64_t) * dims.size(), cudaMemcpyHostToDevice, stream) !=
      cudaSuccess) {
    log_error(logger, "enqueueV3: copying nonzero's dims failed");
    return false;
  }
  nonzero_count_kernel<<<1, 1, 0, stream>>>(source, n, count);
  long long found = 0;
  if (cudaMemcpyAsync(&found, count, sizeof(found), cudaMemcpyDeviceToHost, stream) != cudaSuccess ||
      cudaStreamSynchronize(stream) != cudaSuccess) {
    log_error(logger, "enqueueV3: reading nonzero's count failed: %s", cudaGetErrorString(cudaGetLastError()));
    return false;
  }
  const int64_t bytes = static_cast<int64_t>(found) * rank * 8;
  const auto current = addresses_.find(op.dst);
  void* memory = allocator->second->reallocateOutputAsync(
      op.dst.c_str(), current == addresses_.end() ? nullptr : current->second, static_cast<uint64_t>(bytes > 0 ? bytes : 1),
      kAlignment, stream);
  if (memory == nullptr) {
    log_error(logger, "enqueueV3: the IOutputAllocator of '%s' gave no memory for %lld bytes", op.dst.c_str(),
              static_cast<long long>(bytes));
    return false;
  }
  nonzero_write_kernel<<<1, 1, 0, stream>>>(source, n, device_dims, rank, static_cast<int64_t*>(memory));
  Dims64 shape{};
  shape.nbDims = 2;
  shape.d[0] = found;
  shape.d[1] = rank;
  allocator->second->notifyShape(op.dst.c_str(), shape);
  return true;
}

Dims ContextImpl::getTensorStrides(char const* name) const noexcept {
  Dims64 shape = getTensorShape(name);
  int64_t stride = 1;
  for (int d = shape.nbDims - 1; d >= 0; --d) {
    const int64_t size = shape.d[d];
    shape.d[d] = stride;
    stride *= size;
  }
  return shape;
}

bool ContextImpl::setTensorAddress(char const* name, void* data) noexcept {
  ILogger* logger = engine_.logger();
  if (!name || !engine_.plan().find_io(name)) {
    log_error(logger, "setTensorAddress: no tensor '%s'", name ? name : "(null)");
    return false;
  }
  if (data && !aligned(data)) {
    log_error(logger, "setTensorAddress: address %p of '%s' is not 256-byte aligned", data, name);
    return false;
  }
  addresses_[name] = data;
  return true;
}

void const* ContextImpl::getTensorAddress(char const* name) const noexcept {
  const auto it = name ? addresses_.find(name) : addresses_.end();
  return it == addresses_.end() ? nullptr : it->second;
}

bool ContextImpl::enqueueV3(cudaStream_t stream) noexcept {
  ILogger* logger = engine_.logger();
  // Launch errors are read with cudaGetLastError below: drop one another
  // library left on this thread first.
  cudaGetLastError();
  const Plan& plan = engine_.plan();
  int device = -1;
  if (cudaGetDevice(&device) != cudaSuccess || device != engine_.device()) {
    log_error(logger, "enqueueV3: current device %d is not the engine's device %d", device, engine_.device());
    return false;
  }
  if (engine_.stripped_weights() > 0) {
    log_error(logger, "enqueueV3: the engine is weight-stripped and was not refitted (%zu weights missing)",
              engine_.stripped_weights());
    return false;
  }
  std::map<std::string, trt_double::Shape> inputs, shapes;
  for (const IoTensor& t : plan.io) {
    if (t.is_input && !shapes_.count(t.name)) {
      log_error(logger, "enqueueV3: input '%s' has no shape set (call setInputShape)", t.name.c_str());
      return false;
    }
    const auto it = addresses_.find(t.name);
    const bool allocated_later = !t.is_input && allocators_.count(t.name) != 0; // by its IOutputAllocator
    if (!allocated_later && (it == addresses_.end() || it->second == nullptr)) {
      log_error(logger, "enqueueV3: %s '%s' has no address set (call setTensorAddress)", t.is_input ? "input" : "output",
                t.name.c_str());
      return false;
    }
  }
  for (const auto& [output, input] : plan.aliases) {
    if (addresses_.at(output) != addresses_.at(input)) {
      log_error(logger, "enqueueV3: output '%s' aliases input '%s' and must be bound to its address", output.c_str(),
                input.c_str());
      return false;
    }
  }
  if (!memory_) {
    log_error(logger, "enqueueV3: the context was created with kUSER_MANAGED and no memory was set with setDeviceMemoryV2");
    return false;
  }
  std::string error;
  input_shapes(&inputs);
  if (!infer_shapes(plan, inputs, &shapes, &error)) {
    log_error(logger, "enqueueV3: %s", error.c_str());
    return false;
  }
  char* base = static_cast<char*>(memory_);
  auto* stamp = reinterpret_cast<unsigned long long*>(base);
  char* scratch = base + kAlignment;
  const int64_t scratch_bytes = engine_.scratch_bytes();
  char* temps = scratch + align_up(scratch_bytes);
  const std::map<std::string, int64_t> offsets = temporary_offsets(plan, shapes);
  const unsigned long long value = (id_ << 40) ^ ++runs_;
  EngineImpl::EnqueueInFlight in_flight(engine_);
  stamp_kernel<<<1, 1, 0, stream>>>(stamp, value);
  if (scratch_bytes > 0) {
    const char* host = static_cast<const char*>(engine_.host_streamable()) + engine_.stream_from();
    if (cudaMemcpyAsync(scratch, host, scratch_bytes, cudaMemcpyHostToDevice, stream) != cudaSuccess) {
      log_error(logger, "enqueueV3: streaming weights failed: %s", cudaGetErrorString(cudaGetLastError()));
      return false;
    }
    g_streamed += scratch_bytes;
  }
  auto address = [&](const Arg& arg) -> float* {
    if (arg.kind == Arg::kWeight) {
      return const_cast<float*>(engine_.weight_address(*plan.find_weight(arg.name), scratch));
    }
    if (arg.kind == Arg::kLiteral) {
      return nullptr;
    }
    const auto temp = offsets.find(arg.name);
    return reinterpret_cast<float*>(temp != offsets.end() ? temps + temp->second : static_cast<char*>(addresses_.at(arg.name)));
  };
  for (const Op& op : plan.ops) {
    if (op.kind == OpKind::kNonzero) {
      // The stamp's slot holds 8 bytes; the count and dims follow in its 256.
      if (!run_nonzero(op, address(op.args[0]), shapes.at(op.args[0].name), base + 8, stream)) {
        return false;
      }
      continue;
    }
    Arg dst;
    dst.kind = Arg::kTensor;
    dst.name = op.dst;
    float* out = address(dst);
    const int64_t n = element_count(shapes.at(op.dst));
    if (op.kind == OpKind::kLinear) {
      const Weight* w = plan.find_weight(op.args[1].name);
      const float* bias = op.args.size() == 3 ? address(op.args[2]) : nullptr;
      linear_kernel<<<grid_for(n), 256, 0, stream>>>(address(op.args[0]), address(op.args[1]), bias, out, n / w->cols,
                                                      w->rows, w->cols);
    } else {
      const Arg& a = op.args[0];
      const Arg* b = op.args.size() > 1 ? &op.args[1] : nullptr;
      elementwise_kernel<<<grid_for(n), 256, 0, stream>>>(static_cast<int>(op.kind), address(a), a.literal,
                                                          b ? address(*b) : nullptr, b ? b->literal : 0.f, out, n);
    }
  }
  check_stamp_kernel<<<1, 1, 0, stream>>>(stamp, value, static_cast<long long>(plan.run_delay_us) * 1000);
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    log_error(logger, "enqueueV3: kernel launch failed: %s", cudaGetErrorString(status));
    return false;
  }
  ++g_enqueues;
  return true;
}

// ---------------------------------------------------------------- refitter

// TensorRT's IRefitter by weight name (the ONNX parser's names), for the
// double's weight-stripped plans. setNamedWeights keeps the caller's pointer,
// as TensorRT does: the values are read by refitCudaEngine.
class RefitterImpl final : public apiv::VRefitter {
 public:
  RefitterImpl(IRefitter* owner, EngineImpl& engine, ILogger* logger) : owner_(owner), engine_(engine), logger_(logger) {}
  IRefitter* getPImpl() noexcept override { return owner_; }
  bool setWeights(char const*, WeightsRole, const Weights) noexcept override {
    log_error(logger_, "setWeights (by layer and role) is not provided by the double; use setNamedWeights");
    return false;
  }
  bool refitCudaEngine() noexcept override { return engine_.refit(given_); }
  int32_t getMissing(int32_t, char const**, WeightsRole*) noexcept override { return 0; }
  int32_t getAll(int32_t, char const**, WeightsRole*) noexcept override { return 0; }
  void setErrorRecorder(IErrorRecorder*) noexcept override {}
  IErrorRecorder* getErrorRecorder() const noexcept override { return nullptr; }
  bool setNamedWeights(char const* name, Weights weights) noexcept override {
    const Weight* w = name ? engine_.plan().find_weight(name) : nullptr;
    if (!w) {
      log_error(logger_, "setNamedWeights: the engine has no weight '%s'", name ? name : "(null)");
      return false;
    }
    if (weights.type != DataType::kFLOAT || weights.count != w->rows * w->cols || !weights.values) {
      log_error(logger_, "setNamedWeights: weight '%s' takes %lld kFLOAT values, got %lld of type %d", name,
                static_cast<long long>(w->rows * w->cols), static_cast<long long>(weights.count),
                static_cast<int>(weights.type));
      return false;
    }
    given_[name] = weights;
    return true;
  }
  int32_t getMissingWeights(int32_t size, char const** names) noexcept override {
    return list(size, names, [this](const Weight& w) { return !engine_.weight_refitted(w) && !given_.count(w.name); });
  }
  int32_t getAllWeights(int32_t size, char const** names) noexcept override {
    return list(size, names, [](const Weight&) { return true; });
  }
  ILogger* getLogger() const noexcept override { return logger_; }
  bool setMaxThreads(int32_t) noexcept override { return true; }
  int32_t getMaxThreads() const noexcept override { return 1; }
  bool setNamedWeightsWithLocation(char const* name, Weights weights, TensorLocation location) noexcept override {
    if (location != TensorLocation::kHOST) {
      log_error(logger_, "setNamedWeightsWithLocation: the double takes host weights only");
      return false;
    }
    return setNamedWeights(name, weights);
  }
  Weights getNamedWeights(char const* name) const noexcept override {
    auto it = name ? given_.find(name) : given_.end();
    return it != given_.end() ? it->second : Weights{DataType::kFLOAT, nullptr, 0};
  }
  TensorLocation getWeightsLocation(char const*) const noexcept override { return TensorLocation::kHOST; }
  bool unsetNamedWeights(char const* name) noexcept override { return name && given_.erase(name) > 0; }
  void setWeightsValidation(bool) noexcept override {}
  bool getWeightsValidation() const noexcept override { return true; }
  bool refitCudaEngineAsync(cudaStream_t) noexcept override { return refitCudaEngine(); }
  Weights getWeightsPrototype(char const* name) const noexcept override {
    const Weight* w = name ? engine_.plan().find_weight(name) : nullptr;
    return Weights{DataType::kFLOAT, nullptr, w ? w->rows * w->cols : -1};
  }

 private:
  template <typename Keep>
  int32_t list(int32_t size, char const** names, Keep keep) const {
    int32_t count = 0;
    for (const Weight& w : engine_.plan().weights) {
      if (keep(w)) {
        if (names && count < size) {
          names[count] = w.name.c_str();
        }
        ++count;
      }
    }
    return count;
  }

  IRefitter* owner_;
  EngineImpl& engine_;
  ILogger* logger_;
  std::map<std::string, Weights> given_;
};

class Refitter final : public IRefitter {
 public:
  Refitter(EngineImpl& engine, ILogger* logger) : impl_(this, engine, logger) { mImpl = &impl_; }

 private:
  RefitterImpl impl_;
};

// ---------------------------------------------------------------- runtime

class RuntimeImpl final : public apiv::VRuntime {
 public:
  RuntimeImpl(IRuntime* owner, ILogger* logger) : owner_(owner), logger_(logger) {}
  IRuntime* getPImpl() noexcept override { return owner_; }
  ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept override {
    if (!blob || size == 0) {
      log_error(logger_, "deserializeCudaEngine: empty blob");
      return nullptr;
    }
    std::unique_ptr<CudaEngine> engine(new (std::nothrow) CudaEngine(logger_));
    if (!engine || !engine->init(blob, size)) {
      return nullptr;
    }
    return engine.release();
  }
  void setDLACore(int32_t) noexcept override {}
  int32_t getDLACore() const noexcept override { return -1; }
  int32_t getNbDLACores() const noexcept override { return 0; }
  void setGpuAllocator(IGpuAllocator*) noexcept override {}
  void setErrorRecorder(IErrorRecorder*) noexcept override {}
  IErrorRecorder* getErrorRecorder() const noexcept override { return nullptr; }
  ILogger* getLogger() const noexcept override { return logger_; }
  bool setMaxThreads(int32_t) noexcept override { return true; }
  int32_t getMaxThreads() const noexcept override { return 1; }
  void setTemporaryDirectory(char const*) noexcept override {}
  char const* getTemporaryDirectory() const noexcept override { return nullptr; }
  void setTempfileControlFlags(TempfileControlFlags) noexcept override {}
  TempfileControlFlags getTempfileControlFlags() const noexcept override { return 0; }
  IPluginRegistry& getPluginRegistry() noexcept override {
    log_error(logger_, "getPluginRegistry is not provided by the double (the adapter never calls it)");
    std::abort();
  }
  void setPluginRegistryParent(IPluginRegistry*) noexcept override {}
  IRuntime* loadRuntime(char const*) noexcept override { return nullptr; }
  void setEngineHostCodeAllowed(bool allowed) noexcept override { host_code_ = allowed; }
  bool getEngineHostCodeAllowed() const noexcept override { return host_code_; }
  ICudaEngine* deserializeCudaEngineV2(IStreamReaderV2&) noexcept override {
    log_error(logger_, "deserializeCudaEngineV2 is not provided by the double");
    return nullptr;
  }

 private:
  IRuntime* owner_;
  ILogger* logger_;
  bool host_code_ = false;
};

class Runtime final : public IRuntime {
 public:
  explicit Runtime(ILogger* logger) : impl_(this, logger) { mImpl = &impl_; }

 private:
  RuntimeImpl impl_;
};

} // namespace
} // namespace trt_double

// ---------------------------------------------------------------- C entry points

#define TRT_DOUBLE_EXPORT extern "C" __attribute__((visibility("default")))

TRT_DOUBLE_EXPORT void* createInferRuntime_INTERNAL(void* logger, int32_t version) noexcept {
  auto* log = static_cast<nvinfer1::ILogger*>(logger);
  if (version / 10000 != trt_double::kMajor) {
    trt_double::log_error(log, "createInferRuntime: headers of TensorRT version %d, the double implements %d.%d", version,
                          trt_double::kMajor, trt_double::kMinor);
    return nullptr;
  }
  return static_cast<nvinfer1::IRuntime*>(new (std::nothrow) trt_double::Runtime(log));
}

// The engine is one the double's runtime deserialized (a CudaEngine); the
// adapter never passes another.
TRT_DOUBLE_EXPORT void* createInferRefitter_INTERNAL(void* engine, void* logger, int32_t version) noexcept {
  auto* log = static_cast<nvinfer1::ILogger*>(logger);
  if (version / 10000 != trt_double::kMajor || engine == nullptr) {
    trt_double::log_error(log, "createInferRefitter: headers of TensorRT version %d or no engine", version);
    return nullptr;
  }
  auto& cuda_engine = *static_cast<trt_double::CudaEngine*>(static_cast<nvinfer1::ICudaEngine*>(engine));
  if (!cuda_engine.impl().isRefittable()) {
    trt_double::log_error(log, "createInferRefitter: the engine was not built refittable");
    return nullptr;
  }
  return static_cast<nvinfer1::IRefitter*>(new (std::nothrow) trt_double::Refitter(cuda_engine.impl(), log));
}

TRT_DOUBLE_EXPORT int64_t trt_double_refits() { return trt_double::g_refits.load(); }

TRT_DOUBLE_EXPORT int32_t getInferLibMajorVersion() noexcept { return trt_double::kMajor; }
TRT_DOUBLE_EXPORT int32_t getInferLibMinorVersion() noexcept { return trt_double::kMinor; }
TRT_DOUBLE_EXPORT int32_t getInferLibPatchVersion() noexcept { return trt_double::kPatch; }
TRT_DOUBLE_EXPORT int32_t getInferLibBuildVersion() noexcept { return trt_double::kBuild; }
TRT_DOUBLE_EXPORT int32_t getInferLibVersion() noexcept {
  return trt_double::kMajor * 10000 + trt_double::kMinor * 100 + trt_double::kPatch;
}

TRT_DOUBLE_EXPORT void trt_double_counters(TrtDoubleCounters* out) {
  out->device_bytes_live = trt_double::g_live_bytes;
  out->device_allocations = trt_double::g_allocations;
  out->enqueues = trt_double::g_enqueues;
  out->errors_logged = trt_double::g_errors;
  out->streamed_bytes = trt_double::g_streamed;
}

TRT_DOUBLE_EXPORT void trt_double_reset_counters() {
  trt_double::g_allocations = 0;
  trt_double::g_enqueues = 0;
  trt_double::g_errors = 0;
  trt_double::g_streamed = 0;
}

TRT_DOUBLE_EXPORT int64_t trt_double_max_enqueues_on_one_engine() {
  return trt_double::g_max_enqueues_on_one_engine.load();
}

TRT_DOUBLE_EXPORT int64_t trt_double_memory_overlaps() {
  unsigned long long count = 0;
  if (cudaDeviceSynchronize() != cudaSuccess ||
      cudaMemcpyFromSymbol(&count, trt_double::g_overlaps, sizeof(count)) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return static_cast<int64_t>(count);
}

TRT_DOUBLE_EXPORT int trt_double_describe_plan(const void* bytes, size_t size, char* text, size_t capacity) {
  trt_double::Plan plan;
  std::string error;
  const char* chars = static_cast<const char*>(bytes);
  const bool ok = bytes && trt_double::parse_plan(std::string(chars, trt_double::plan_extent(chars, size)), &plan, &error);
  std::string line;
  if (!ok) {
    line = "invalid plan: " + (bytes ? error : std::string("null"));
  } else {
    line = "inputs=" + std::to_string(plan.input_count()) +
        " outputs=" + std::to_string(plan.io.size() - plan.input_count()) + " profiles=" + std::to_string(plan.profiles) +
        " ops=" + std::to_string(plan.ops.size()) + " resident_bytes=" + std::to_string(plan.resident_bytes) +
        " streamable_bytes=" + std::to_string(plan.streamable_bytes) + " execution_bytes=";
    for (int p = 0; p < plan.profiles; ++p) {
      line += (p ? "," : "") + std::to_string(trt_double::execution_memory_bytes(plan, p, 0));
    }
  }
  if (text && capacity > 0) {
    std::snprintf(text, capacity, "%s", line.c_str());
  }
  return ok ? 1 : 0;
}

TRT_DOUBLE_EXPORT const char* trt_double_identity() {
  return "TensorRT runtime double 11.1.0 (a test double, not TensorRT)";
}
