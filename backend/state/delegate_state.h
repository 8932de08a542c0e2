#pragma once

// The mutable buffers a delegate owns (blob section `state`, README "State
// in place"): one device copy per (program, buffer name), shared by every
// delegate of the program that owns the buffer (prefill's and decode's), so
// it persists across calls and methods; two loads of a program have their
// own. The engine reads it and writes its new value in place when the
// engine says the output aliases the input (Engine::output_aliases_input),
// else into a scratch buffer copied back on the device after the run (never
// through the host). The device memory comes from the engine runtime
// (EngineRuntime::allocate_persistent), so it outlives any engine (offload).
//
// A read-only entry (StateSpec::read_only: a weight the engine takes as an
// input, external_weights without a refit) is shared the same way, keyed by
// its named-data key (which holds a digest of its bytes: two methods' lifted
// constants may share a name, never a key with other bytes); it is uploaded
// at the first call and never written, so reset() leaves it. Its device
// bytes count in the delegate's state_bytes.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <executorch/runtime/core/freeable_buffer.h>
#include <executorch/runtime/core/named_data_map.h>

#include "blob/delegate_blob.h"
#include "engines/engine_runtime.h"
#include "execute/execute_counters.h"

namespace executorch_tensorrt {

// One buffer's device copy.
class StateBuffer {
 public:
  // `initial`: the named data's bytes (held, not copied: under the mmap
  // loader no page is read before the upload); empty: zeros.
  StateBuffer(
      uint64_t owner,
      StateSpec spec,
      executorch::runtime::FreeableBuffer initial,
      EngineRuntime& runtime,
      int32_t device);
  ~StateBuffer();
  StateBuffer(const StateBuffer&) = delete;
  StateBuffer& operator=(const StateBuffer&) = delete;

  // The device memory holding the buffer for the call about to run on
  // `engine`: allocated at the first call, filled with the initial value at
  // the first call and after each reset() (a host-to-device copy on the
  // engine's stream, counted in `counters`). Caller holds mutex().
  Result<void*> prepare_locked(Engine& engine, ExecuteCounters& counters);
  // The next call starts again from the initial value (a read-only one is
  // never changed: nothing to do).
  void reset();
  // The buffer's bytes now (the initial value before the first call or
  // after a reset); waits for the device's work.
  Result<std::vector<uint8_t>> read();
  int64_t device_bytes() const;

  std::mutex& mutex() {
    return mutex_;
  }
  const uint64_t owner;
  const StateSpec spec;

 private:
  const executorch::runtime::FreeableBuffer initial_; // size 0: zeros
  std::vector<uint8_t> zeros_; // made at the first fill of a zero buffer
  EngineRuntime& runtime_;
  const int32_t device_;
  mutable std::mutex mutex_;
  void* memory_ = nullptr;
  bool filled_ = false;
};

// What one delegate's states are: the shared buffers, in the blob's order.
class DelegateStates {
 public:
  DelegateStates() = default;
  // Finds or creates the buffers of `owner` (program) for `specs`, reading
  // initial values from `named_data` (may be null). Refuses a missing or
  // mis-sized initial value, and a buffer another delegate of the program
  // records with another dtype or shape, naming it.
  static Result<std::unique_ptr<DelegateStates>> create(
      uint64_t owner,
      const std::vector<StateSpec>& specs,
      const executorch::runtime::NamedDataMap* named_data,
      Flavour flavour,
      int32_t device);

  bool empty() const {
    return buffers_.empty();
  }
  const std::vector<std::shared_ptr<StateBuffer>>& buffers() const {
    return buffers_;
  }
  int64_t device_bytes() const;
  // Resets the buffer `name` ("all": every one) if this delegate owns it.
  void reset(const std::string& name);

 private:
  std::vector<std::shared_ptr<StateBuffer>> buffers_;
};

// The state buffers program `owner` has now (every program when nullopt);
// not the read-only weights, which are not state to read or reset.
std::vector<std::shared_ptr<StateBuffer>> program_states(std::optional<uint64_t> owner);

// NotFound (reported, naming the known buffers) unless `name` is "all" or
// a buffer of program `owner` (every program when nullopt).
Error check_state_name(std::optional<uint64_t> owner, const std::string& name);

// Resets `name` ("all": every buffer) of program `owner` (every program
// when nullopt): the next call starts from the initial value. NotFound
// (reported, naming the known buffers) for a name no loaded delegate owns.
Error reset_program_state(std::optional<uint64_t> owner, const std::string& name);

// The bytes of buffer `name` of program `owner` now (row-major, its dtype
// and shape in the returned buffer's spec). Call between calls.
Result<std::vector<uint8_t>> read_program_state(uint64_t owner, const std::string& name, StateSpec* spec);

} // namespace executorch_tensorrt
