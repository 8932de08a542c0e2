#include "state/delegate_state.h"

#include <cstring>
#include <map>
#include <utility>

#include "common/error_report.h"
#include "engines/engine_runtime_registry.h"
#include "engines/named_data.h"

namespace executorch_tensorrt {

using executorch::runtime::FreeableBuffer;
using executorch::runtime::NamedDataMap;

namespace {

// The live buffers by (program, name); a delegate holds its own strongly, so
// a buffer goes with the last delegate of its program owning it.
std::mutex g_registry_mutex;
std::map<std::pair<uint64_t, std::string>, std::weak_ptr<StateBuffer>>& registry() {
  static auto* buffers = new std::map<std::pair<uint64_t, std::string>, std::weak_ptr<StateBuffer>>();
  return *buffers;
}

std::string described(const StateSpec& spec) {
  return std::string(spec.read_only ? "weight '" : "state buffer '") + spec.name + "' (named data key '" +
      spec.initial_key + "')";
}

Result<FreeableBuffer> initial_value(const StateSpec& spec, const NamedDataMap* named_data) {
  if (spec.initial == StateInitialValue::kZeros) {
    return FreeableBuffer();
  }
  const char* remedy = spec.read_only
      ? "load the program with the .ptd it was exported with (Python: load(pte, data_path=...); runner: "
        "--data-path), or re-export it"
      : "load the program with its named data (the .ptd beside it, if it was written separately), or re-export it";
  if (named_data == nullptr) {
    return report_error(
        Error::NotFound,
        "%s: its value is in the program's named data, but ExecuTorch passed the delegate none; %s",
        described(spec).c_str(), remedy);
  }
  Error err = check_named_layout(*named_data, spec.initial_key, spec.dtype, spec.shape, described(spec), remedy);
  if (err != Error::Ok) {
    return err;
  }
  Result<FreeableBuffer> data = named_data->get_data(spec.initial_key.c_str());
  if (!data.ok()) {
    return report_error(
        Error::NotFound, "%s is missing from the program's named data; %s", described(spec).c_str(), remedy);
  }
  if (data->size() != spec.nbytes) {
    return report_error(
        Error::InvalidProgram,
        "%s holds %zu bytes in the program's named data, the engine was built for %s %s (%llu bytes); %s",
        described(spec).c_str(), data->size(), dtype_name(spec.dtype), spec.shape.to_string().c_str(),
        static_cast<unsigned long long>(spec.nbytes), remedy);
  }
  return data;
}

// Where a buffer is registered: a read-only one by its key (see the header),
// behind a byte no buffer name starts with.
std::pair<uint64_t, std::string> registry_key(uint64_t owner, const StateSpec& spec) {
  return {owner, spec.read_only ? "\x01" + spec.initial_key : spec.name};
}

std::string known_names(std::optional<uint64_t> owner) {
  std::string names;
  for (const auto& buffer : program_states(owner)) {
    names += (names.empty() ? "" : ", ") + buffer->spec.name;
  }
  return names.empty() ? std::string("none") : names;
}

} // namespace

StateBuffer::StateBuffer(uint64_t owner_, StateSpec spec_, FreeableBuffer initial, EngineRuntime& runtime, int32_t device)
    : owner(owner_), spec(std::move(spec_)), initial_(std::move(initial)), runtime_(runtime), device_(device) {}

StateBuffer::~StateBuffer() {
  if (memory_ != nullptr) {
    runtime_.free_persistent(device_, memory_);
  }
}

Result<void*> StateBuffer::prepare_locked(Engine& engine, ExecuteCounters& counters) {
  if (memory_ == nullptr) {
    Result<void*> memory = runtime_.allocate_persistent(device_, spec.nbytes == 0 ? 1 : spec.nbytes);
    if (!memory.ok()) {
      return report_error(
          memory.error(), "state buffer '%s': cannot allocate its %llu bytes on device %d", spec.name.c_str(),
          static_cast<unsigned long long>(spec.nbytes), static_cast<int>(device_));
    }
    memory_ = *memory;
    filled_ = false;
  }
  if (!filled_) {
    const bool zeros = initial_.size() == 0;
    if (zeros && zeros_.size() != spec.nbytes) {
      zeros_.assign(spec.nbytes, 0);
    }
    // The host bytes live as long as the buffer: past the copy's completion.
    const auto* source = zeros ? zeros_.data() : static_cast<const uint8_t*>(initial_.data());
    Error err = spec.nbytes == 0 ? Error::Ok : engine.copy_to_device(memory_, source, spec.nbytes);
    if (err != Error::Ok) {
      return err;
    }
    ++counters.state_host_copies;
    filled_ = true;
  }
  return memory_;
}

void StateBuffer::reset() {
  if (spec.read_only) {
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  filled_ = false;
}

Result<std::vector<uint8_t>> StateBuffer::read() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!filled_) {
    if (initial_.size() == 0) {
      return std::vector<uint8_t>(spec.nbytes, 0);
    }
    const auto* bytes = static_cast<const uint8_t*>(initial_.data());
    return std::vector<uint8_t>(bytes, bytes + initial_.size());
  }
  std::vector<uint8_t> bytes(spec.nbytes);
  Error err = runtime_.read_persistent(device_, bytes.data(), memory_, spec.nbytes);
  if (err != Error::Ok) {
    return report_error(err, "state buffer '%s': reading it back from the device failed", spec.name.c_str());
  }
  return bytes;
}

int64_t StateBuffer::device_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return memory_ != nullptr ? static_cast<int64_t>(spec.nbytes) : 0;
}

Result<std::unique_ptr<DelegateStates>> DelegateStates::create(
    uint64_t owner,
    const std::vector<StateSpec>& specs,
    const NamedDataMap* named_data,
    Flavour flavour,
    int32_t device) {
  auto states = std::make_unique<DelegateStates>();
  if (specs.empty()) {
    return states;
  }
  Result<EngineRuntime*> runtime = engine_runtime_for(flavour);
  if (!runtime.ok()) {
    return runtime.error();
  }
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  for (const StateSpec& spec : specs) {
    std::weak_ptr<StateBuffer>& slot = registry()[registry_key(owner, spec)];
    std::shared_ptr<StateBuffer> buffer = slot.lock();
    if (buffer != nullptr) {
      if (buffer->spec.dtype != spec.dtype || !(buffer->spec.shape == spec.shape)) {
        return report_error(
            Error::InvalidProgram,
            "state buffer '%s' is %s %s in one delegate of the program and %s %s in another; re-export the model",
            spec.name.c_str(), dtype_name(buffer->spec.dtype), buffer->spec.shape.to_string().c_str(),
            dtype_name(spec.dtype), spec.shape.to_string().c_str());
      }
    } else {
      Result<FreeableBuffer> initial = initial_value(spec, named_data);
      if (!initial.ok()) {
        return initial.error();
      }
      buffer = std::make_shared<StateBuffer>(owner, spec, std::move(*initial), **runtime, device);
      slot = buffer;
    }
    states->buffers_.push_back(std::move(buffer));
  }
  return states;
}

int64_t DelegateStates::device_bytes() const {
  int64_t total = 0;
  for (const auto& buffer : buffers_) {
    total += buffer->device_bytes();
  }
  return total;
}

std::vector<std::shared_ptr<StateBuffer>> program_states(std::optional<uint64_t> owner) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  std::vector<std::shared_ptr<StateBuffer>> found;
  for (auto it = registry().begin(); it != registry().end();) {
    std::shared_ptr<StateBuffer> buffer = it->second.lock();
    if (buffer == nullptr) {
      it = registry().erase(it);
      continue;
    }
    if ((!owner.has_value() || buffer->owner == *owner) && !buffer->spec.read_only) {
      found.push_back(std::move(buffer));
    }
    ++it;
  }
  return found;
}

void DelegateStates::reset(const std::string& name) {
  for (const auto& buffer : buffers_) {
    if (name == "all" || buffer->spec.name == name) {
      buffer->reset();
    }
  }
}

Error check_state_name(std::optional<uint64_t> owner, const std::string& name) {
  if (name == "all") {
    return Error::Ok;
  }
  for (const auto& buffer : program_states(owner)) {
    if (buffer->spec.name == name) {
      return Error::Ok;
    }
  }
  return report_error(
      Error::NotFound, "reset_state: no loaded delegate owns a state buffer '%s'; known buffers: %s", name.c_str(),
      known_names(owner).c_str());
}

Error reset_program_state(std::optional<uint64_t> owner, const std::string& name) {
  Error err = check_state_name(owner, name);
  for (const auto& buffer : err == Error::Ok ? program_states(owner) : std::vector<std::shared_ptr<StateBuffer>>()) {
    if (name == "all" || buffer->spec.name == name) {
      buffer->reset();
    }
  }
  return err;
}

Result<std::vector<uint8_t>> read_program_state(uint64_t owner, const std::string& name, StateSpec* spec) {
  for (const auto& buffer : program_states(owner)) {
    if (buffer->spec.name == name) {
      *spec = buffer->spec;
      return buffer->read();
    }
  }
  return report_error(
      Error::NotFound, "read_state: the program has no state buffer '%s'; known buffers: %s", name.c_str(),
      known_names(owner).c_str());
}

} // namespace executorch_tensorrt
