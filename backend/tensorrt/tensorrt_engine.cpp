#include "tensorrt/tensorrt_engine.h"

#include <algorithm>

#include "common/error_report.h"

namespace executorch_tensorrt {
namespace tensorrt_adapter {
namespace {

bool scalar_type_of(nvinfer1::DataType type, uint8_t* out) {
  switch (type) {
    case nvinfer1::DataType::kFLOAT:
      *out = 6;
      return true;
    case nvinfer1::DataType::kHALF:
      *out = 5;
      return true;
    case nvinfer1::DataType::kBF16:
      *out = 15;
      return true;
    case nvinfer1::DataType::kINT32:
      *out = 3;
      return true;
    case nvinfer1::DataType::kINT64:
      *out = 4;
      return true;
    case nvinfer1::DataType::kBOOL:
      *out = 11;
      return true;
    case nvinfer1::DataType::kUINT8:
      *out = 0;
      return true;
    case nvinfer1::DataType::kINT8:
      *out = 1;
      return true;
    default:
      return false;
  }
}

} // namespace

Error cuda_failure(Error code, const char* what, cudaError_t status) {
  return report_error(
      code,
      "%s failed: %s (CUDA error %d)",
      what,
      cudaGetErrorString(status),
      static_cast<int>(status));
}

Error device_failure(int32_t device, const ScopedDevice& guard) {
  return report_error(
      Error::Internal, "cannot make CUDA device %d current: %s", device, cudaGetErrorString(guard.status()));
}

TensorRTEngine::TensorRTEngine(
    std::shared_ptr<nvinfer1::ICudaEngine> engine,
    const EngineMetadata& metadata,
    TensorRTLogger& logger)
    : engine_(std::move(engine)),
      logger_(logger),
      device_index_(metadata.device_index) {
  for (const TensorSpec& spec : metadata.inputs) {
    input_names_.push_back(spec.name);
  }
  for (const TensorSpec& spec : metadata.outputs) {
    output_names_.push_back(spec.name);
    output_dtypes_.push_back(spec.dtype);
  }
  for (const TensorSpec& spec : metadata.state_inputs) {
    state_input_shapes_.emplace_back(spec.name, spec.ranges.empty() ? Shape{} : spec.ranges[0].min);
  }
  output_allocators_.resize(output_names_.size());
}

Result<std::unique_ptr<TensorRTEngine>> TensorRTEngine::create(
    std::unique_ptr<nvinfer1::ICudaEngine> engine,
    const EngineMetadata& metadata,
    TensorRTLogger& logger) {
  std::unique_ptr<TensorRTEngine> out(
      new TensorRTEngine(std::move(engine), metadata, logger));
  const cudaError_t status = out->stream_.create();
  if (status != cudaSuccess) {
    return cuda_failure(Error::Internal, "cudaStreamCreate", status);
  }
  out->active_stream_ = out->stream_.get();
  return out;
}

namespace {

// TensorRT dims as a Shape; nullopt when TensorRT reports none (nbDims < 0)
// or more than the delegate's largest rank.
std::optional<Shape> shape_of(const nvinfer1::Dims& dims) {
  if (dims.nbDims < 0 || dims.nbDims > static_cast<int32_t>(kMaxRank)) {
    return std::nullopt;
  }
  Shape shape;
  shape.rank = static_cast<uint8_t>(dims.nbDims);
  for (int32_t d = 0; d < dims.nbDims; ++d) {
    shape.dims[d] = dims.d[d];
  }
  return shape;
}

} // namespace

Result<EngineDescription> TensorRTEngine::describe() const {
  EngineDescription out;
  const int32_t profiles = engine_->getNbOptimizationProfiles();
  out.num_profiles = profiles < 0 ? 0u : static_cast<uint32_t>(profiles);
  const int32_t count = engine_->getNbIOTensors();
  for (int32_t i = 0; i < count; ++i) {
    const char* name = engine_->getIOTensorName(i);
    TensorDescription tensor;
    tensor.name = name != nullptr ? name : "";
    tensor.is_input = engine_->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT;
    if (!scalar_type_of(engine_->getTensorDataType(name), &tensor.dtype)) {
      tensor.dtype = kUnknownDtype;
    }
    // Dims TensorRT cannot report (nbDims < 0 or above kMaxRank) become rank
    // 0, which the delegate's check refuses for any tensor of rank > 0.
    tensor.dims = shape_of(engine_->getTensorShape(name)).value_or(Shape{});
    for (int32_t p = 0; tensor.is_input && p < profiles; ++p) {
      const auto min = shape_of(engine_->getProfileShape(name, p, nvinfer1::OptProfileSelector::kMIN));
      const auto opt = shape_of(engine_->getProfileShape(name, p, nvinfer1::OptProfileSelector::kOPT));
      const auto max = shape_of(engine_->getProfileShape(name, p, nvinfer1::OptProfileSelector::kMAX));
      if (!min || !opt || !max) {
        tensor.profiles.clear(); // not a dynamic-shape input: its static dims say it all
        break;
      }
      tensor.profiles.push_back(ShapeRange{*min, *opt, *max});
    }
    out.tensors.push_back(std::move(tensor));
  }
  return out;
}

TensorRTEngine::~TensorRTEngine() {
  // TensorRT and CUDA objects must be released on the device they live on,
  // in order: context before engine; the stream last. Staging buffers were
  // freed by the executor before (release_device_buffers).
  ScopedDevice device(device_index_);
  wait_for_work();
  context_.reset();
  engine_.reset();
}

Error TensorRTEngine::infer_output_shapes(
    uint32_t profile,
    Span<const Shape> input_shapes,
    Span<Shape> output_shapes) {
  if (!context_) {
    return require_context();
  }
  ScopedDevice device(device_index_);
  if (device.status() != cudaSuccess) {
    return device_failure(device_index_, device);
  }
  if (static_cast<int32_t>(profile) != active_profile_) {
    logger_.clear_last_error();
    // After the work in flight (perhaps on a caller's stream), and marked
    // as work so the next call's stream waits for the switch.
    if (work_done_.get() != nullptr) {
      cudaStreamWaitEvent(stream_.get(), work_done_.get(), 0);
    }
    const bool switched = context_->setOptimizationProfileAsync(static_cast<int32_t>(profile), stream_.get());
    work_done_.record(stream_.get());
    if (!switched) {
      return report_error(
          Error::Internal,
          "TensorRT refused optimization profile %u: %s",
          profile,
          logger_.take_last_error().c_str());
    }
    active_profile_ = static_cast<int32_t>(profile);
  }
  // The same shapes as the last call on this context (the steady state):
  // TensorRT would redo its shape inference for nothing.
  if (shapes_cached_ && cached_profile_ == profile &&
      std::equal(input_shapes.begin(), input_shapes.end(), cached_input_shapes_.begin(), cached_input_shapes_.end())) {
    std::copy(cached_output_shapes_.begin(), cached_output_shapes_.end(), output_shapes.begin());
    return Error::Ok;
  }
  shapes_cached_ = false;
  logger_.clear_last_error();
  for (size_t i = 0; i < input_names_.size(); ++i) {
    nvinfer1::Dims dims{};
    dims.nbDims = input_shapes[i].rank;
    for (uint8_t d = 0; d < input_shapes[i].rank; ++d) {
      dims.d[d] = input_shapes[i].dims[d];
    }
    if (!context_->setInputShape(input_names_[i].c_str(), dims)) {
      return report_error(
          Error::InvalidArgument,
          "TensorRT refused shape %s for input '%s': %s",
          input_shapes[i].to_string().c_str(),
          input_names_[i].c_str(),
          logger_.take_last_error().c_str());
    }
  }
  // Owned state has the buffer's static shape.
  for (const auto& [name, shape] : state_input_shapes_) {
    nvinfer1::Dims dims{};
    dims.nbDims = shape.rank;
    for (uint8_t d = 0; d < shape.rank; ++d) {
      dims.d[d] = shape.dims[d];
    }
    if (!context_->setInputShape(name.c_str(), dims)) {
      return report_error(
          Error::InvalidArgument, "TensorRT refused shape %s for state input '%s': %s", shape.to_string().c_str(),
          name.c_str(), logger_.take_last_error().c_str());
    }
  }
  for (size_t i = 0; i < output_names_.size(); ++i) {
    const nvinfer1::Dims dims = context_->getTensorShape(output_names_[i].c_str());
    if (dims.nbDims < 0 || dims.nbDims > static_cast<int32_t>(kMaxRank)) {
      return report_error(
          Error::Internal, "TensorRT reports no shape for output '%s'", output_names_[i].c_str());
    }
    Shape& shape = output_shapes[i];
    shape.rank = static_cast<uint8_t>(dims.nbDims);
    bool data_dependent = false;
    for (int32_t d = 0; d < dims.nbDims; ++d) {
      // With every input shape set, -1 is a size known only during the run.
      data_dependent = data_dependent || dims.d[d] < 0;
      shape.dims[d] = dims.d[d] < 0 ? kDataDependentDim : dims.d[d];
    }
    if (data_dependent) {
      Error err = use_output_allocator(i, shape);
      if (err != Error::Ok) {
        return err;
      }
    }
  }
  cached_profile_ = profile;
  cached_input_shapes_.assign(input_shapes.begin(), input_shapes.end());
  cached_output_shapes_.assign(output_shapes.begin(), output_shapes.end());
  shapes_cached_ = true;
  return Error::Ok;
}

Error TensorRTEngine::use_output_allocator(size_t index, const Shape& dims) {
  if (index >= output_allocators_.size()) {
    return report_error(Error::Internal, "internal: output %zu has no allocator slot", index);
  }
  std::unique_ptr<BoundedOutputAllocator>& allocator = output_allocators_[index];
  if (allocator) {
    allocator->set_dims(dims);
    return Error::Ok;
  }
  allocator = std::make_unique<BoundedOutputAllocator>(dims, output_dtypes_[index]);
  if (!context_->setOutputAllocator(output_names_[index].c_str(), allocator.get())) {
    allocator.reset();
    return report_error(
        Error::Internal,
        "TensorRT refused an output allocator for output '%s' (a data-dependent shape): %s",
        output_names_[index].c_str(),
        logger_.take_last_error().c_str());
  }
  return Error::Ok;
}

ProducedOutput TensorRTEngine::produced_output(size_t output_index) const {
  const bool has = output_index < output_allocators_.size() && output_allocators_[output_index];
  return has ? output_allocators_[output_index]->produced() : ProducedOutput{};
}

Result<void*> device_allocate(int32_t device_index, size_t nbytes, const char* what) {
  ScopedDevice device(device_index);
  if (device.status() != cudaSuccess) {
    return device_failure(device_index, device);
  }
  void* pointer = nullptr;
  const cudaError_t status = cudaMalloc(&pointer, nbytes == 0 ? 1 : nbytes);
  if (status != cudaSuccess) {
    // cudaMalloc also records the failure as this thread's last CUDA error:
    // clear it, or the next library that checks cudaGetLastError (PyTorch
    // after its kernel launches, TensorRT) fails on our out-of-memory.
    cudaGetLastError();
    return cuda_failure(Error::MemoryAllocationFailed, what, status);
  }
  return pointer;
}

Result<void*> TensorRTEngine::allocate_device(size_t nbytes) {
  return device_allocate(device_index_, nbytes, "cudaMalloc for staging buffers");
}

void TensorRTEngine::free_device(void* pointer) {
  ScopedDevice device(device_index_);
  cudaFree(pointer); // nothing to do about a failure on the release path
}

Error TensorRTEngine::copy_to_device(void* device_data, const void* host, size_t nbytes) {
  ScopedDevice device(device_index_);
  const cudaError_t status =
      cudaMemcpyAsync(device_data, host, nbytes, cudaMemcpyHostToDevice, active_stream_);
  return status == cudaSuccess ? Error::Ok
                               : cuda_failure(Error::Internal, "copying an input to the device", status);
}

Error TensorRTEngine::copy_to_host(void* host, const void* device_data, size_t nbytes) {
  ScopedDevice device(device_index_);
  const cudaError_t status =
      cudaMemcpyAsync(host, device_data, nbytes, cudaMemcpyDeviceToHost, active_stream_);
  return status == cudaSuccess ? Error::Ok
                               : cuda_failure(Error::Internal, "copying an output to the host", status);
}

bool TensorRTEngine::output_aliases_input(const std::string& output, const std::string& input) const {
  const char* aliased = engine_->getAliasedInputTensor(output.c_str());
  return aliased != nullptr && input == aliased;
}

Error TensorRTEngine::copy_device_to_device(void* destination, const void* source, size_t nbytes) {
  ScopedDevice device(device_index_);
  const cudaError_t status = cudaMemcpyAsync(destination, source, nbytes, cudaMemcpyDeviceToDevice, active_stream_);
  return status == cudaSuccess ? Error::Ok
                               : cuda_failure(Error::Internal, "updating owned state on the device", status);
}

Error TensorRTEngine::check_device_address(const DeviceTensor& tensor, const char* role, size_t slot) {
  // A tensor ExecuTorch calls CUDA may still hold a host pointer (host
  // tensors passed to a program exported with device_io): TensorRT would
  // run on it. Checked once per address and binding, so reused buffers cost
  // nothing per call.
  if (checked_addresses_[slot] == tensor.data) {
    return Error::Ok;
  }
  cudaPointerAttributes attributes{};
  const cudaError_t status = cudaPointerGetAttributes(&attributes, tensor.data);
  if (status != cudaSuccess) {
    cudaGetLastError(); // not CUDA's business after this call
  }
  const bool on_device = status == cudaSuccess && attributes.device == device_index_ &&
      (attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged);
  if (!on_device) {
    return report_error(
        Error::InvalidArgument,
        "%s '%s' is not memory of CUDA device %d (a host tensor where the program takes device tensors? "
        "a program exported with DevicePlanning(device_io=True) takes CUDA tensors: load it with device=\"cuda\")",
        role,
        tensor.spec->name.c_str(),
        device_index_);
  }
  checked_addresses_[slot] = tensor.data;
  return Error::Ok;
}

Error TensorRTEngine::bind_address(const DeviceTensor& tensor, const char* role, size_t slot) {
  Error err = check_device_address(tensor, role, slot);
  if (err != Error::Ok) {
    return err;
  }
  if (!context_->setTensorAddress(tensor.spec->name.c_str(), tensor.data)) {
    return report_error(
        Error::Internal,
        "TensorRT refused the address of %s '%s': %s",
        role,
        tensor.spec->name.c_str(),
        logger_.take_last_error().c_str());
  }
  return Error::Ok;
}

Error TensorRTEngine::bind_call(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) {
  // The context held now: created by create_execution_context(), released
  // by offload (the delegate re-creates it before the next call).
  if (!context_) {
    return require_context();
  }
  if (user_managed_ && !memory_bound_) {
    // TensorRT would run on a null activation address.
    return report_error(Error::InvalidState, "internal: user-managed context enqueued without execution memory");
  }
  logger_.clear_last_error();
  checked_addresses_.resize(inputs.size() + outputs.size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) {
    Error err = bind_address(inputs[i], "input", i);
    if (err != Error::Ok) {
      return err;
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    Error err = bind_address(outputs[i], "output", inputs.size() + i);
    if (err != Error::Ok) {
      return err;
    }
    // A data-dependent output gets the same memory, and no more, when
    // TensorRT asks for it during the run.
    if (i < output_allocators_.size() && output_allocators_[i]) {
      output_allocators_[i]->bind(outputs[i].data, outputs[i].nbytes);
    }
  }
  return Error::Ok;
}

Error TensorRTEngine::enqueue(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) {
  ScopedDevice device(device_index_);
  if (device.status() != cudaSuccess) {
    return device_failure(device_index_, device);
  }
  Error err = bind_call(inputs, outputs);
  if (err != Error::Ok) {
    return err;
  }
  if (!context_->enqueueV3(active_stream_)) {
    return report_error(
        Error::Internal, "TensorRT enqueueV3 failed: %s", logger_.take_last_error().c_str());
  }
  return record_work_done();
}

Error TensorRTEngine::record_work_done() {
  const cudaError_t status = work_done_.record(active_stream_);
  return status == cudaSuccess ? Error::Ok : cuda_failure(Error::Internal, "recording the end of the run", status);
}

void TensorRTEngine::wait_for_work() {
  if (work_done_.get() != nullptr) {
    cudaEventSynchronize(work_done_.get());
  }
  if (stream_.get() != nullptr) {
    cudaStreamSynchronize(stream_.get());
  }
}

Error TensorRTEngine::synchronize() {
  ScopedDevice device(device_index_);
  const cudaError_t status = cudaStreamSynchronize(active_stream_);
  return status == cudaSuccess ? Error::Ok
                               : cuda_failure(Error::Internal, "running the engine", status);
}

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
