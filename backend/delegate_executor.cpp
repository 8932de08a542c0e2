#include "delegate_executor.h"

#include <limits>
#include <string>

#include <executorch/runtime/core/exec_aten/util/dim_order_util.h>
#include <executorch/runtime/core/exec_aten/util/tensor_util.h>

#include "error_report.h"

namespace executorch_tensorrt {

using executorch::aten::SizesType;
using executorch::aten::Tensor;
using executorch::runtime::EValue;

namespace {

// A tensor handed to us may have a dtype no blob can record.
const char* printable_dtype(uint8_t scalar_type) {
  const char* name = dtype_name(scalar_type);
  return name != nullptr ? name : "an unsupported dtype";
}

Shape shape_of(const Tensor& tensor) {
  Shape shape;
  shape.rank = static_cast<uint8_t>(tensor.dim());
  for (uint8_t i = 0; i < shape.rank; ++i) {
    shape.dims[i] = tensor.size(i);
  }
  return shape;
}

std::string allowed_shapes(const TensorSpec& spec) {
  std::string out;
  for (size_t p = 0; p < spec.ranges.size(); ++p) {
    if (p > 0) {
      out += " or ";
    }
    out += spec.ranges[p].to_string();
  }
  return out;
}

} // namespace

DelegateExecutor::DelegateExecutor(const EngineMetadata& metadata)
    : metadata_(metadata),
      input_shapes_(metadata.inputs.size()),
      output_shapes_(metadata.outputs.size()),
      inputs_(metadata.inputs.size()),
      outputs_(metadata.outputs.size()) {
  for (size_t i = 0; i < inputs_.size(); ++i) {
    inputs_[i].spec = &metadata.inputs[i];
  }
  for (size_t i = 0; i < outputs_.size(); ++i) {
    outputs_[i].spec = &metadata.outputs[i];
  }
}

Error DelegateExecutor::check_argument_count(size_t count) const {
  const size_t expected = metadata_.inputs.size() + metadata_.outputs.size();
  if (count != expected) {
    return report_error(
        Error::InvalidArgument,
        "delegate expects %zu inputs and %zu outputs (%zu arguments), got %zu arguments; the program does not match its engine, re-export it",
        metadata_.inputs.size(),
        metadata_.outputs.size(),
        expected,
        count);
  }
  return Error::Ok;
}

Error DelegateExecutor::bind_input(size_t index, EValue* arg) {
  const TensorSpec& spec = metadata_.inputs[index];
  if (arg == nullptr || !arg->isTensor()) {
    return report_error(
        Error::InvalidArgument,
        "input '%s' (#%zu) must be a tensor",
        spec.name.c_str(),
        index);
  }
  const Tensor& tensor = arg->toTensor();
  const auto dtype = static_cast<uint8_t>(tensor.scalar_type());
  if (tensor.dim() > static_cast<ssize_t>(kMaxRank)) {
    return report_error(
        Error::InvalidArgument,
        "input '%s' (#%zu) has rank %zd; engines take at most %zu",
        spec.name.c_str(), index, static_cast<ssize_t>(tensor.dim()), kMaxRank);
  }
  // TensorRT reads and writes row-major buffers; another dim order would be
  // read as garbage.
  if (!executorch::runtime::is_contiguous_dim_order(tensor.dim_order().data(), tensor.dim())) {
    return report_error(
        Error::InvalidArgument,
        "input '%s' (#%zu) is not in contiguous (row-major) dim order; pass a contiguous tensor",
        spec.name.c_str(), index);
  }
  const Shape shape = shape_of(tensor);
  bool shape_ok = false;
  for (const ShapeRange& range : spec.ranges) {
    shape_ok = shape_ok || range.contains(shape);
  }
  if (dtype != spec.dtype || !shape_ok) {
    return report_error(
        Error::InvalidArgument,
        "input '%s' (#%zu): expected %s %s, got %s %s",
        spec.name.c_str(),
        index,
        dtype_name(spec.dtype),
        allowed_shapes(spec).c_str(),
        printable_dtype(dtype),
        shape.to_string().c_str());
  }
  input_shapes_[index] = shape;
  HostTensor& bound = inputs_[index];
  bound.data = tensor.mutable_data_ptr();
  bound.nbytes = tensor.nbytes();
  bound.shape = shape;
  return Error::Ok;
}

Error DelegateExecutor::bind_output(size_t index, EValue* arg) {
  const TensorSpec& spec = metadata_.outputs[index];
  if (arg == nullptr || !arg->isTensor()) {
    return report_error(
        Error::InvalidArgument,
        "output '%s' (#%zu) must be a tensor",
        spec.name.c_str(),
        index);
  }
  Tensor& tensor = arg->toTensor();
  const Shape& shape = output_shapes_[index];
  if (static_cast<uint8_t>(tensor.scalar_type()) != spec.dtype ||
      static_cast<size_t>(tensor.dim()) != shape.rank) {
    return report_error(
        Error::InvalidArgument,
        "output '%s' (#%zu): the program planned %s rank %zd, the engine produces %s rank %u; re-export the model",
        spec.name.c_str(),
        index,
        printable_dtype(static_cast<uint8_t>(tensor.scalar_type())),
        static_cast<ssize_t>(tensor.dim()),
        dtype_name(spec.dtype),
        shape.rank);
  }
  if (!executorch::runtime::is_contiguous_dim_order(tensor.dim_order().data(), tensor.dim())) {
    return report_error(
        Error::InvalidArgument,
        "output '%s' (#%zu) is not in contiguous (row-major) dim order; re-export the model",
        spec.name.c_str(), index);
  }
  SizesType sizes[kMaxRank];
  for (uint8_t d = 0; d < shape.rank; ++d) {
    if (shape.dims[d] < 0 || shape.dims[d] > std::numeric_limits<SizesType>::max()) {
      return report_error(
          Error::InvalidArgument,
          "output '%s' (#%zu): dimension %u is %lld, beyond what an ExecuTorch tensor can hold",
          spec.name.c_str(), index, d, static_cast<long long>(shape.dims[d]));
    }
    sizes[d] = static_cast<SizesType>(shape.dims[d]);
  }
  const Error resized = executorch::runtime::resize_tensor(
      tensor, {sizes, static_cast<size_t>(shape.rank)});
  if (resized != Error::Ok) {
    return report_error(
        resized,
        "output '%s' (#%zu): the engine produces %s but the program planned %s and cannot resize it; re-export the model",
        spec.name.c_str(),
        index,
        shape.to_string().c_str(),
        shape_of(tensor).to_string().c_str());
  }
  HostTensor& bound = outputs_[index];
  bound.data = tensor.mutable_data_ptr();
  bound.nbytes = tensor.nbytes();
  bound.shape = shape;
  return Error::Ok;
}

// The first optimization profile whose ranges hold every input shape. Each
// input already fits some profile; together they must fit the same one.
Result<uint32_t> DelegateExecutor::select_profile() const {
  for (uint32_t p = 0; p < metadata_.num_profiles; ++p) {
    bool fits = true;
    for (size_t i = 0; i < input_shapes_.size() && fits; ++i) {
      fits = metadata_.inputs[i].ranges[p].contains(input_shapes_[i]);
    }
    if (fits) {
      return p;
    }
  }
  std::string given;
  for (size_t i = 0; i < input_shapes_.size(); ++i) {
    given += (i ? ", " : "") + metadata_.inputs[i].name + " " + input_shapes_[i].to_string();
  }
  return report_error(
      Error::InvalidArgument,
      "no optimization profile of the engine holds all inputs together (%s); each profile's ranges must hold every input at once",
      given.c_str());
}

Error DelegateExecutor::execute(EngineSource& source, Span<EValue*> args) {
  Error err = check_argument_count(args.size());
  if (err != Error::Ok) {
    return err;
  }
  const size_t num_inputs = metadata_.inputs.size();
  for (size_t i = 0; i < num_inputs; ++i) {
    if ((err = bind_input(i, args[i])) != Error::Ok) {
      return err;
    }
  }
  Result<uint32_t> profile = select_profile();
  if (!profile.ok()) {
    return profile.error();
  }
  Result<Engine*> engine = source.acquire();
  if (!engine.ok()) {
    return engine.error();
  }
  err = (*engine)->infer_output_shapes(
      *profile,
      {input_shapes_.data(), input_shapes_.size()},
      {output_shapes_.data(), output_shapes_.size()});
  if (err != Error::Ok) {
    return err;
  }
  for (size_t i = 0; i < metadata_.outputs.size(); ++i) {
    if ((err = bind_output(i, args[num_inputs + i])) != Error::Ok) {
      return err;
    }
  }
  return (*engine)->run(
      {inputs_.data(), inputs_.size()}, {outputs_.data(), outputs_.size()});
}

} // namespace executorch_tensorrt
