#include "execute/delegate_executor.h"

#include <cstring>
#include <limits>
#include <string>

#include <executorch/runtime/core/event_tracer_hooks_delegate.h>
#include <executorch/runtime/core/exec_aten/util/dim_order_util.h>
#include <executorch/runtime/core/exec_aten/util/scalar_type_util.h>
#include <executorch/runtime/core/exec_aten/util/tensor_util.h>

#include "common/error_report.h"

namespace executorch_tensorrt {

using executorch::aten::SizesType;
using executorch::aten::Tensor;
using executorch::runtime::EValue;
using executorch::runtime::EventTracer;
using executorch::runtime::EventTracerEntry;
using executorch::runtime::etensor::DeviceType;

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

bool on_device(const Tensor& tensor) {
  return tensor.unsafeGetTensorImpl()->device_type() == DeviceType::CUDA;
}

// Staging bytes one tensor needs: its own aligned slot, at least one
// alignment unit so an empty tensor still gets a distinct non-null address.
size_t staging_slot(size_t nbytes) {
  return align_staging(nbytes == 0 ? 1 : nbytes);
}

// The staging a call needs when every tensor is on the host at the largest
// shape any profile admits (saturating: the parser refused every shape whose
// bytes cannot be counted, and a sum too large must not wrap to a small one).
size_t profile_max_staging_bytes(const EngineMetadata& metadata) {
  size_t total = 0;
  auto add = [&total](const TensorSpec& spec) {
    uint64_t largest = 0;
    for (const ShapeRange& range : spec.ranges) {
      uint64_t elements = 0, bytes = 0;
      if (!checked_shape_bytes(range.max, spec.dtype, &elements, &bytes)) {
        bytes = kSaturatedSize;
      }
      largest = bytes > largest ? bytes : largest;
    }
    total = add_staging(total, staging_slot(static_cast<size_t>(largest)));
  };
  for (const TensorSpec& spec : metadata.inputs) {
    add(spec);
  }
  for (const TensorSpec& spec : metadata.outputs) {
    add(spec);
  }
  return total;
}

// An ETDump delegate event for one phase of the call; ends when it goes out
// of scope (no-op without a tracer).
class TracedPhase {
 public:
  TracedPhase(EventTracer* tracer, const char* name)
      : tracer_(tracer),
        entry_(executorch::runtime::event_tracer_start_profiling_delegate(
            tracer, name, static_cast<executorch::runtime::DebugHandle>(-1))) {}
  TracedPhase(const TracedPhase&) = delete;
  TracedPhase& operator=(const TracedPhase&) = delete;
  ~TracedPhase() {
    executorch::runtime::event_tracer_end_profiling_delegate(tracer_, entry_);
  }

 private:
  EventTracer* tracer_;
  EventTracerEntry entry_;
};

} // namespace

bool call_waits_on_host(bool caller_stream_given, bool stages_host_tensors, bool failed) {
  return failed || stages_host_tensors || !caller_stream_given;
}

namespace {

std::vector<ProfileSlot> slots_or_engine_zero(std::vector<ProfileSlot> slots, uint32_t num_profiles) {
  if (slots.empty()) {
    for (uint32_t p = 0; p < num_profiles; ++p) {
      slots.push_back(ProfileSlot{0, p});
    }
  }
  return slots;
}

} // namespace

DelegateExecutor::DelegateExecutor(const EngineMetadata& metadata, std::vector<ProfileSlot> slots)
    : metadata_(metadata),
      slots_(slots_or_engine_zero(std::move(slots), metadata.num_profiles)),
      profile_max_staging_bytes_(profile_max_staging_bytes(metadata)),
      input_shapes_(metadata.inputs.size()),
      output_shapes_(metadata.outputs.size()),
      input_bindings_(metadata.inputs.size()),
      output_bindings_(metadata.outputs.size()),
      inputs_(metadata.inputs.size()),
      outputs_(metadata.outputs.size()),
      graphs_(metadata.inputs.size() + metadata.state_inputs.size(), metadata.outputs.size() + metadata.state_outputs.size()) {
  for (size_t i = 0; i < inputs_.size(); ++i) {
    inputs_[i].spec = &metadata.inputs[i];
  }
  for (size_t i = 0; i < outputs_.size(); ++i) {
    outputs_[i].spec = &metadata.outputs[i];
  }
  // Recording batch sizes must not allocate on the execute path.
  batches_served_.reserve(kMaxBatchesRecorded);
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
  // A tensor whose sizes multiply past 64 bits reports a wrapped nbytes: the
  // engine would read past its data.
  uint64_t elements = 0, bytes = 0;
  if (!checked_shape_bytes(shape, dtype, &elements, &bytes) || bytes != tensor.nbytes()) {
    return report_error(
        Error::InvalidArgument,
        "input '%s' (#%zu): shape %s of %s does not match the tensor's %zu bytes (a size that cannot be counted "
        "in 64 bits, or an inconsistent tensor)",
        spec.name.c_str(), index, shape.to_string().c_str(), dtype_name(spec.dtype), tensor.nbytes());
  }
  Error err = check_device("input", spec, index, tensor);
  if (err != Error::Ok) {
    return err;
  }
  input_shapes_[index] = shape;
  input_bindings_[index].tensor = &arg->toTensor();
  input_bindings_[index].on_device = on_device(tensor);
  DeviceTensor& bound = inputs_[index];
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
  Error err = check_device("output", spec, index, tensor);
  if (err != Error::Ok) {
    return err;
  }
  output_bindings_[index].tensor = &tensor;
  output_bindings_[index].on_device = on_device(tensor);
  DeviceTensor& bound = outputs_[index];
  bound.nbytes = tensor.nbytes();
  bound.shape = shape;
  return Error::Ok;
}

// What the engine says it will produce must be what the blob promises for
// the slot: a shape out of range (or one whose bytes cannot be counted)
// would have the engine write past the output's planned memory.
Error DelegateExecutor::check_output_shapes(uint32_t slot) const {
  for (size_t i = 0; i < metadata_.outputs.size(); ++i) {
    const TensorSpec& spec = metadata_.outputs[i];
    const Shape& shape = output_shapes_[i];
    uint64_t elements = 0, bytes = 0;
    if (slot < spec.ranges.size() && spec.ranges[slot].contains(shape) &&
        checked_shape_bytes(shape, spec.dtype, &elements, &bytes)) {
      continue;
    }
    return report_error(
        Error::InvalidProgram,
        "output '%s' (#%zu): the engine produces %s for engine %u profile %u, the blob promises %s; the engine does "
        "not match its blob, re-export the model",
        spec.name.c_str(),
        i,
        shape.to_string().c_str(),
        slots_[slot].engine,
        slots_[slot].profile,
        slot < spec.ranges.size() ? spec.ranges[slot].to_string().c_str() : "no range");
  }
  return Error::Ok;
}

// Outputs whose shape the engine knows only after the run take the blob's
// upper bound for the slot in those dims: they are bound (and their
// ExecuTorch tensors sized) at the most the program planned for them.
void DelegateExecutor::bound_data_dependent_outputs(uint32_t slot) {
  has_data_dependent_outputs_ = false;
  for (size_t i = 0; i < metadata_.outputs.size(); ++i) {
    const TensorSpec& spec = metadata_.outputs[i];
    Shape& shape = output_shapes_[i];
    bool data_dependent = false;
    for (uint8_t d = 0; d < shape.rank && slot < spec.ranges.size() && shape.rank == spec.ranges[slot].max.rank; ++d) {
      if (shape.dims[d] == kDataDependentDim) {
        shape.dims[d] = spec.ranges[slot].max.dims[d];
        data_dependent = true;
      }
    }
    output_bindings_[i].data_dependent = data_dependent;
    has_data_dependent_outputs_ = has_data_dependent_outputs_ || data_dependent;
  }
}

Error check_produced_output(
    const TensorSpec& spec, size_t index, const ProducedOutput& produced, const Shape& bound, uint64_t capacity) {
  if (!produced.reported) {
    return report_error(
        Error::InvalidProgram,
        "output '%s' (#%zu): the engine gave a data-dependent dim (-1) but did not report the shape it produced; "
        "the engine does not match its blob, re-export the model",
        spec.name.c_str(), index);
  }
  uint64_t elements = 0, bytes = produced.bytes;
  bool within = produced.bytes <= capacity;
  if (produced.shape_known) {
    if (produced.shape.rank != bound.rank) {
      return report_error(
          Error::Internal,
          "output '%s' (#%zu): the engine produced %s, of another rank than the planned %s",
          spec.name.c_str(), index, produced.shape.to_string().c_str(), bound.to_string().c_str());
    }
    within = checked_shape_bytes(produced.shape, spec.dtype, &elements, &bytes) && bytes <= capacity;
    for (uint8_t d = 0; d < bound.rank; ++d) {
      within = within && produced.shape.dims[d] <= bound.dims[d];
    }
  }
  if (within && produced.shape_known) {
    return Error::Ok;
  }
  const std::string what = produced.shape_known
      ? produced.shape.to_string() + " (" + std::to_string(bytes) + " bytes)"
      : "a tensor of " + std::to_string(produced.bytes) + " bytes";
  if (!within) {
    return report_error(
        Error::OutOfResources,
        "output '%s' (#%zu): the engine produced %s, more than the program planned for this data-dependent "
        "output: at most %s (%llu bytes); nothing was written. Export with a larger upper bound for its size "
        "(torch._check(n <= N) on it in the model, or a larger torch.export Dim max for the inputs it depends on)",
        spec.name.c_str(), index, what.c_str(), bound.to_string().c_str(), static_cast<unsigned long long>(capacity));
  }
  return report_error(
      Error::Internal,
      "output '%s' (#%zu): the engine reported %s but not its shape",
      spec.name.c_str(), index, what.c_str());
}

namespace {

// Gives `tensor` the shape an engine produced (dims checked against the
// bound, which fits ExecuTorch's sizes: bind_output resized to it).
Error resize_to(Tensor& tensor, const Shape& shape) {
  SizesType sizes[kMaxRank];
  for (uint8_t d = 0; d < shape.rank; ++d) {
    sizes[d] = static_cast<SizesType>(shape.dims[d]);
  }
  return executorch::runtime::resize_tensor(tensor, {sizes, static_cast<size_t>(shape.rank)});
}

} // namespace

// After the enqueue: each output of data-dependent shape takes the shape
// the engine produced, within its planned capacity (the bytes bound), or the
// call fails naming it, also when the engine refused the run because the
// output did not fit. Host outputs are then copied back at that size.
Error DelegateExecutor::size_data_dependent_outputs(const Engine& engine, Error enqueued) {
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (!output_bindings_[i].data_dependent) {
      continue;
    }
    const ProducedOutput produced = engine.produced_output(i);
    const uint64_t capacity = outputs_[i].nbytes;
    if (enqueued != Error::Ok && !(produced.reported && produced.bytes > capacity)) {
      continue; // the run failed for another reason: that error is the one to report
    }
    const TensorSpec& spec = metadata_.outputs[i];
    Error err = check_produced_output(spec, i, produced, outputs_[i].shape, capacity);
    if (err != Error::Ok) {
      return err;
    }
    if ((err = resize_to(*output_bindings_[i].tensor, produced.shape)) != Error::Ok) {
      return report_error(
          err, "output '%s' (#%zu): cannot resize the program's tensor to %s, what the engine produced",
          spec.name.c_str(), i, produced.shape.to_string().c_str());
    }
    uint64_t elements = 0, bytes = 0;
    checked_shape_bytes(produced.shape, spec.dtype, &elements, &bytes); // checked above
    outputs_[i].shape = produced.shape;
    outputs_[i].nbytes = static_cast<size_t>(bytes);
  }
  return enqueued;
}

// The slot (engine and profile) for this call's input shapes. Each input
// already fits some slot; together they must fit the same one.
Result<uint32_t> DelegateExecutor::select_slot() const {
  std::optional<uint32_t> slot = choose_slot(metadata_, {input_shapes_.data(), input_shapes_.size()});
  if (slot.has_value()) {
    return *slot;
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

void DelegateExecutor::record_batch(const ProfileSlot& slot) {
  const int64_t batch = !input_shapes_.empty() && input_shapes_[0].rank > 0 ? input_shapes_[0].dims[0] : -1;
  for (BatchServed& served : batches_served_) {
    if (served.batch == batch) {
      served.engine = slot.engine;
      served.profile = slot.profile;
      ++served.calls;
      return;
    }
  }
  if (batches_served_.size() < kMaxBatchesRecorded) {
    batches_served_.push_back(BatchServed{batch, slot.engine, slot.profile, 1});
  }
}

Error DelegateExecutor::check_device(
    const char* role, const TensorSpec& spec, size_t index, const Tensor& tensor) const {
  const auto device = tensor.unsafeGetTensorImpl()->device();
  if (device.type() == DeviceType::CPU ||
      (device.type() == DeviceType::CUDA && device.index() == metadata_.device_index)) {
    return Error::Ok;
  }
  return report_error(
      Error::InvalidArgument,
      "%s '%s' (#%zu): expected a host tensor or one on cuda:%d, got a tensor on device type %d index %d; "
      "move it to the engine's device",
      role, spec.name.c_str(), index, static_cast<int>(metadata_.device_index),
      static_cast<int>(device.type()), static_cast<int>(device.index()));
}

void DelegateExecutor::set_output_buffer_policy(OutputBufferPolicy policy) {
  // reuse_profile_max is reuse with the buffer sized for the profile maximum.
  const bool profile_max = policy == OutputBufferPolicy::kReuseProfileMax;
  staging_.set_policy(policy);
  reserve_for_profile_maximum(profile_max);
  requested_policy_ = policy;
}

void DelegateExecutor::reserve_for_profile_maximum(bool enable) {
  staging_.set_reserve_bytes(enable ? profile_max_staging_bytes_ : 0);
}

void DelegateExecutor::release_device_buffers() {
  graphs_.clear();
  staging_.release(counters_);
  release_state_scratch();
}

void DelegateExecutor::set_states(DelegateStates* states) {
  states_ = states != nullptr && !states->empty() ? states : nullptr;
  if (states_ == nullptr) {
    return;
  }
  const size_t count = states_->buffers().size();
  // The execute path must not allocate host memory: sized once here.
  all_inputs_.reserve(metadata_.inputs.size() + count);
  all_outputs_.reserve(metadata_.outputs.size() + count);
  state_locks_.reserve(count);
  state_scratch_.assign(count, nullptr);
}

void DelegateExecutor::release_state_scratch() {
  for (void*& scratch : state_scratch_) {
    if (scratch != nullptr && scratch_owner_ != nullptr) {
      scratch_owner_->free_device(scratch);
    }
    scratch = nullptr;
  }
  scratch_owner_ = nullptr;
}

// The call's tensors, then each state's: its input bound to the buffer's
// device memory, its output (none for a read-only weight) to the same
// address when the engine aliases it, else to scratch memory (update_states
// copies it back on the device). Holds each written buffer's lock until the
// call ends; a read-only one is locked only while it is prepared.
Error DelegateExecutor::bind_states(Engine& engine) {
  all_inputs_.assign(inputs_.begin(), inputs_.end());
  all_outputs_.assign(outputs_.begin(), outputs_.end());
  const auto& buffers = states_->buffers();
  size_t written_index = 0;
  for (size_t k = 0; k < buffers.size(); ++k) {
    StateBuffer& buffer = *buffers[k];
    std::unique_lock<std::mutex> lock(buffer.mutex());
    Result<void*> memory = buffer.prepare_locked(engine, counters_);
    if (!memory.ok()) {
      return memory.error();
    }
    const TensorSpec& in = metadata_.state_inputs[k];
    const size_t nbytes = static_cast<size_t>(buffer.spec.nbytes);
    all_inputs_.push_back(DeviceTensor{&in, *memory, nbytes, buffer.spec.shape});
    if (buffer.spec.read_only) {
      continue;
    }
    state_locks_.push_back(std::move(lock));
    const TensorSpec& out = metadata_.state_outputs[written_index];
    void* written = *memory;
    if (!engine.output_aliases_input(out.name, in.name)) {
      if (scratch_owner_ != nullptr && scratch_owner_ != &engine) {
        release_state_scratch(); // another engine of the delegate serves this call
      }
      if (state_scratch_[k] == nullptr) {
        Result<void*> scratch = engine.allocate_device(nbytes == 0 ? 1 : nbytes);
        if (!scratch.ok()) {
          return scratch.error();
        }
        state_scratch_[k] = *scratch;
        scratch_owner_ = &engine;
        ++counters_.allocations;
        counters_.bytes_allocated += nbytes;
      }
      written = state_scratch_[k];
    }
    all_outputs_.push_back(DeviceTensor{&out, written, nbytes, buffer.spec.shape});
    ++written_index;
  }
  return Error::Ok;
}

// After the enqueue, on its stream: each state written to scratch is copied
// into the buffer on the device; an aliased one is already updated.
Error DelegateExecutor::update_states(Engine& engine) {
  const auto& buffers = states_->buffers();
  size_t written_index = outputs_.size();
  for (size_t k = 0; k < buffers.size(); ++k) {
    if (buffers[k]->spec.read_only) {
      continue;
    }
    const DeviceTensor& written = all_outputs_[written_index++];
    const DeviceTensor& state = all_inputs_[inputs_.size() + k];
    if (written.data != state.data && written.nbytes > 0) {
      Error err = engine.copy_device_to_device(state.data, written.data, written.nbytes);
      if (err != Error::Ok) {
        return report_error(
            err, "state buffer '%s': the device-to-device update after the run failed", buffers[k]->spec.name.c_str());
      }
    }
    ++counters_.state_device_updates;
  }
  return Error::Ok;
}

// Gives every host tensor of the call a slot in the staging buffer; returns
// the bytes needed.
size_t DelegateExecutor::plan_staging() {
  size_t offset = 0;
  auto place = [&offset](Binding& binding, const DeviceTensor& bound) {
    if (!binding.on_device) {
      binding.staging_offset = offset;
      offset = add_staging(offset, staging_slot(bound.nbytes));
    }
  };
  for (size_t i = 0; i < inputs_.size(); ++i) {
    place(input_bindings_[i], inputs_[i]);
  }
  staged_inputs_end_ = offset;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    place(output_bindings_[i], outputs_[i]);
  }
  return offset;
}

// Host inputs go to the device through the pinned mirror when there is
// one: each is copied into it on the host, then ONE asynchronous copy moves
// them all (plan_staging() lays the staged inputs out first, contiguously;
// the alignment padding between them was zeroed when the mirror was made),
// where pageable staging makes one synchronous copy per tensor.
Error DelegateExecutor::stage_in(Engine& engine, const StagingBuffer& staging) {
  for (size_t i = 0; i < inputs_.size(); ++i) {
    Binding& binding = input_bindings_[i];
    void* data = binding.tensor->mutable_data_ptr();
    if (binding.on_device) {
      inputs_[i].data = data;
      ++counters_.device_inputs;
      continue;
    }
    inputs_[i].data = staging.device + binding.staging_offset;
    ++counters_.h2d_copies;
    counters_.h2d_bytes += inputs_[i].nbytes;
    if (staging.host != nullptr) {
      std::memcpy(staging.host + binding.staging_offset, data, inputs_[i].nbytes);
      continue;
    }
    Error err = engine.copy_to_device(inputs_[i].data, data, inputs_[i].nbytes);
    if (err != Error::Ok) {
      return err;
    }
  }
  if (staging.host != nullptr && staged_inputs_end_ > 0) {
    Error err = engine.copy_to_device(staging.device, staging.host, staged_inputs_end_);
    if (err != Error::Ok) {
      return err;
    }
  }
  for (size_t i = 0; i < outputs_.size(); ++i) {
    Binding& binding = output_bindings_[i];
    if (binding.on_device) {
      outputs_[i].data = binding.tensor->mutable_data_ptr();
      ++counters_.device_outputs;
    } else {
      outputs_[i].data = staging.device + binding.staging_offset;
    }
  }
  return Error::Ok;
}

// Host outputs come back in ONE copy into the pinned mirror (the staged
// outputs follow the inputs contiguously), else one copy per tensor
// straight into the tensors.
Error DelegateExecutor::stage_out(Engine& engine, const StagingBuffer& staging) {
  size_t staged_end = staged_inputs_end_;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const Binding& binding = output_bindings_[i];
    if (binding.on_device) {
      continue;
    }
    ++counters_.d2h_copies;
    counters_.d2h_bytes += outputs_[i].nbytes;
    staged_end = binding.staging_offset + outputs_[i].nbytes;
    if (staging.host != nullptr) {
      continue;
    }
    Error err = engine.copy_to_host(binding.tensor->mutable_data_ptr(), outputs_[i].data, outputs_[i].nbytes);
    if (err != Error::Ok) {
      return err;
    }
  }
  if (staging.host != nullptr && staged_end > staged_inputs_end_) {
    return engine.copy_to_host(
        staging.host + staged_inputs_end_, staging.device + staged_inputs_end_, staged_end - staged_inputs_end_);
  }
  return Error::Ok;
}

// After the host wait: host outputs staged through the mirror reach their
// tensors.
void DelegateExecutor::finish_stage_out(const StagingBuffer& staging) {
  if (staging.host == nullptr) {
    return;
  }
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const Binding& binding = output_bindings_[i];
    if (!binding.on_device) {
      std::memcpy(binding.tensor->mutable_data_ptr(), staging.host + binding.staging_offset, outputs_[i].nbytes);
    }
  }
}

// Stage-in, enqueue, stage-out, then wait unless call_waits_on_host() says
// the call may return with its work in flight. On any failure after work
// was enqueued, still wait, so nothing writes into ExecuTorch's tensors or
// the staging buffer after execute() returns.
Error DelegateExecutor::run(Engine& engine, uint32_t profile, const ExecutionMemoryLease& memory, EventTracer* tracer) {
  const CallerStream caller = current_caller_stream();
  Error err = engine.use_stream(caller);
  // The previous user of a shared pool's memory may still be running on its
  // stream: this call's stream waits for it (an event, no host wait).
  if (err == Error::Ok && memory.previous_user() != nullptr) {
    err = engine.order_after(*memory.previous_user());
  }
  if (err != Error::Ok) {
    return err;
  }
  const void* execution_memory = memory.memory();
  // Every host tensor takes a slot of at least one alignment unit, so the
  // call stages host tensors exactly when it needs staging bytes.
  const size_t staging_bytes = plan_staging();
  Result<StagingBuffer> staging = staging_.begin_call(engine, staging_bytes, counters_);
  if (!staging.ok()) {
    return staging.error();
  }
  ++counters_.executes;
  {
    TracedPhase phase(tracer, "stage_in");
    err = stage_in(engine, *staging);
  }
  if (err == Error::Ok && states_ != nullptr) {
    err = bind_states(engine);
  }
  if (err == Error::Ok) {
    TracedPhase phase(tracer, "enqueue");
    const std::vector<DeviceTensor>& in = states_ != nullptr ? all_inputs_ : inputs_;
    const std::vector<DeviceTensor>& out = states_ != nullptr ? all_outputs_ : outputs_;
    err = graphs_.run(engine, profile, execution_memory, {in.data(), in.size()}, {out.data(), out.size()}, counters_);
    if (has_data_dependent_outputs_) {
      err = size_data_dependent_outputs(engine, err);
    }
  }
  if (err == Error::Ok && states_ != nullptr) {
    err = update_states(engine);
  }
  if (err == Error::Ok) {
    TracedPhase phase(tracer, "stage_out");
    err = stage_out(engine, *staging);
  }
  if (call_waits_on_host(caller.given, staging_bytes > 0, err != Error::Ok)) {
    ++counters_.host_waits;
    const Error synced = engine.synchronize(); // the first error is the one to report
    err = err != Error::Ok ? err : synced;
    if (err == Error::Ok) {
      finish_stage_out(*staging);
    }
  }
  staging_.end_call(counters_);
  state_locks_.clear();
  return err;
}

Error DelegateExecutor::execute(EngineSource& source, Span<EValue*> args, EventTracer* tracer) {
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
  Result<uint32_t> slot_index = select_slot();
  if (!slot_index.ok()) {
    return slot_index.error();
  }
  const ProfileSlot& slot = slots_[*slot_index];
  // Held until this call returns: with shared execution memory the lease
  // keeps every other engine of the pool from running until ours is done.
  Result<EngineLease> lease = source.acquire(slot.engine);
  if (!lease.ok()) {
    return lease.error();
  }
  Engine& engine = *lease->engine;
  err = engine.infer_output_shapes(
      slot.profile,
      {input_shapes_.data(), input_shapes_.size()},
      {output_shapes_.data(), output_shapes_.size()});
  if (err == Error::Ok) {
    bound_data_dependent_outputs(*slot_index);
  }
  if (err != Error::Ok || (err = check_output_shapes(*slot_index)) != Error::Ok) {
    return err;
  }
  for (size_t i = 0; i < metadata_.outputs.size(); ++i) {
    if ((err = bind_output(i, args[num_inputs + i])) != Error::Ok) {
      return err;
    }
  }
  record_batch(slot);
  return run(engine, slot.profile, lease->memory, tracer);
}

} // namespace executorch_tensorrt
