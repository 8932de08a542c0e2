#include "tensorrt_engine.h"

#include "../error_report.h"

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
    std::unique_ptr<nvinfer1::ICudaEngine> engine,
    const EngineMetadata& metadata,
    TensorRTLogger& logger)
    : engine_(std::move(engine)),
      logger_(logger),
      device_index_(metadata.device_index),
      input_buffers_(metadata.inputs.size()),
      output_buffers_(metadata.outputs.size()) {
  for (const TensorSpec& spec : metadata.inputs) {
    input_names_.push_back(spec.name);
  }
  for (const TensorSpec& spec : metadata.outputs) {
    output_names_.push_back(spec.name);
  }
}

Result<std::unique_ptr<TensorRTEngine>> TensorRTEngine::create(
    std::unique_ptr<nvinfer1::ICudaEngine> engine,
    const EngineMetadata& metadata,
    TensorRTLogger& logger) {
  std::unique_ptr<TensorRTEngine> out(
      new TensorRTEngine(std::move(engine), metadata, logger));
  Error err = out->check_signature(metadata);
  if (err != Error::Ok) {
    return err;
  }
  const cudaError_t status = out->stream_.create();
  if (status != cudaSuccess) {
    return cuda_failure(Error::Internal, "cudaStreamCreate", status);
  }
  return out;
}

Error TensorRTEngine::check_signature(const EngineMetadata& metadata) const {
  const int32_t profiles = engine_->getNbOptimizationProfiles();
  if (profiles < 0 || static_cast<uint32_t>(profiles) != metadata.num_profiles) {
    return report_error(
        Error::DelegateInvalidCompatibility,
        "the engine has %d optimization profiles but the blob metadata lists %u; re-export the model",
        profiles,
        metadata.num_profiles);
  }
  const size_t expected = metadata.inputs.size() + metadata.outputs.size();
  const int32_t actual = engine_->getNbIOTensors();
  if (actual < 0 || static_cast<size_t>(actual) != expected) {
    return report_error(
        Error::DelegateInvalidCompatibility,
        "the engine has %d I/O tensors but the blob metadata lists %zu; re-export the model",
        actual,
        expected);
  }
  auto check = [&](const TensorSpec& spec, nvinfer1::TensorIOMode mode) {
    const char* name = spec.name.c_str();
    if (engine_->getTensorIOMode(name) != mode) {
      return report_error(
          Error::DelegateInvalidCompatibility,
          "the engine has no %s tensor named '%s'; re-export the model",
          mode == nvinfer1::TensorIOMode::kINPUT ? "input" : "output",
          name);
    }
    uint8_t dtype = 0;
    if (!scalar_type_of(engine_->getTensorDataType(name), &dtype) || dtype != spec.dtype) {
      return report_error(
          Error::DelegateInvalidCompatibility,
          "engine tensor '%s' does not have the dtype %s recorded in the blob; re-export the model",
          name,
          dtype_name(spec.dtype));
    }
    return Error::Ok;
  };
  for (const TensorSpec& spec : metadata.inputs) {
    Error err = check(spec, nvinfer1::TensorIOMode::kINPUT);
    if (err != Error::Ok) {
      return err;
    }
  }
  for (const TensorSpec& spec : metadata.outputs) {
    Error err = check(spec, nvinfer1::TensorIOMode::kOUTPUT);
    if (err != Error::Ok) {
      return err;
    }
  }
  return Error::Ok;
}

TensorRTEngine::~TensorRTEngine() {
  // TensorRT and CUDA objects must be released on the device they live on,
  // in order: context before engine; buffers and stream last.
  ScopedDevice device(device_index_);
  context_.reset();
  engine_.reset();
  input_buffers_.clear();
  output_buffers_.clear();
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
    if (!context_->setOptimizationProfileAsync(static_cast<int32_t>(profile), stream_.get())) {
      return report_error(
          Error::Internal,
          "TensorRT refused optimization profile %u: %s",
          profile,
          logger_.take_last_error().c_str());
    }
    active_profile_ = static_cast<int32_t>(profile);
  }
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
  for (size_t i = 0; i < output_names_.size(); ++i) {
    const nvinfer1::Dims dims = context_->getTensorShape(output_names_[i].c_str());
    if (dims.nbDims < 0 || dims.nbDims > static_cast<int32_t>(kMaxRank)) {
      return report_error(
          Error::Internal, "TensorRT reports no shape for output '%s'", output_names_[i].c_str());
    }
    Shape& shape = output_shapes[i];
    shape.rank = static_cast<uint8_t>(dims.nbDims);
    for (int32_t d = 0; d < dims.nbDims; ++d) {
      if (dims.d[d] < 0) {
        return report_error(
            Error::NotSupported,
            "output '%s' has a data-dependent shape, which this delegate does not support",
            output_names_[i].c_str());
      }
      shape.dims[d] = dims.d[d];
    }
  }
  return Error::Ok;
}

Error TensorRTEngine::stage_in(const HostTensor& input, DeviceBuffer& buffer) {
  cudaError_t status = buffer.reserve(input.nbytes);
  if (status != cudaSuccess) {
    return cuda_failure(Error::MemoryAllocationFailed, "cudaMalloc for an input", status);
  }
  status = cudaMemcpyAsync(
      buffer.get(), input.data, input.nbytes, cudaMemcpyHostToDevice, stream_.get());
  if (status != cudaSuccess) {
    return cuda_failure(Error::Internal, "copying an input to the device", status);
  }
  if (!context_->setTensorAddress(input.spec->name.c_str(), buffer.get())) {
    return report_error(
        Error::Internal, "TensorRT refused the address of input '%s'", input.spec->name.c_str());
  }
  return Error::Ok;
}

Error TensorRTEngine::bind_output(const HostTensor& output, DeviceBuffer& buffer) {
  const cudaError_t status = buffer.reserve(output.nbytes);
  if (status != cudaSuccess) {
    return cuda_failure(Error::MemoryAllocationFailed, "cudaMalloc for an output", status);
  }
  if (!context_->setTensorAddress(output.spec->name.c_str(), buffer.get())) {
    return report_error(
        Error::Internal, "TensorRT refused the address of output '%s'", output.spec->name.c_str());
  }
  return Error::Ok;
}

Error TensorRTEngine::drain_and_fail(Error error) {
  cudaStreamSynchronize(stream_.get()); // the original error is the one to report
  return error;
}

Error TensorRTEngine::run(Span<const HostTensor> inputs, Span<const HostTensor> outputs) {
  if (!context_) {
    return require_context();
  }
  ScopedDevice device(device_index_);
  if (device.status() != cudaSuccess) {
    return device_failure(device_index_, device);
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    Error err = stage_in(inputs[i], input_buffers_[i]);
    if (err != Error::Ok) {
      return drain_and_fail(err);
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    Error err = bind_output(outputs[i], output_buffers_[i]);
    if (err != Error::Ok) {
      return drain_and_fail(err);
    }
  }
  logger_.clear_last_error();
  if (!context_->enqueueV3(stream_.get())) {
    return drain_and_fail(report_error(
        Error::Internal, "TensorRT enqueueV3 failed: %s", logger_.take_last_error().c_str()));
  }
  cudaError_t status = cudaSuccess;
  for (size_t i = 0; i < outputs.size(); ++i) {
    status = cudaMemcpyAsync(
        outputs[i].data,
        output_buffers_[i].get(),
        outputs[i].nbytes,
        cudaMemcpyDeviceToHost,
        stream_.get());
    if (status != cudaSuccess) {
      return drain_and_fail(cuda_failure(Error::Internal, "copying an output to the host", status));
    }
  }
  // execute() returns with the outputs on the host, so wait for the stream.
  status = cudaStreamSynchronize(stream_.get());
  return status == cudaSuccess ? Error::Ok
                               : cuda_failure(Error::Internal, "running the engine", status);
}

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
