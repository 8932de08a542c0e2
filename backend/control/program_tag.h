#pragma once

// Which loaded program a delegate belongs to. ExecuTorch gives init() no
// program identity and its set_option()/get_option() are backend-wide, so a
// host that wants per-program options (our Python loader, the runner) sets a
// tag on the loading thread; init() records it and set_option/get_option can
// be restricted to it with the `program` option.

#include <cstdint>

namespace executorch_tensorrt {

// Sets a thread-local `slot` for a scope and restores its previous value.
template <typename T>
class ThreadValueScope {
 public:
  ThreadValueScope(T& slot, T value) : slot_(slot), previous_(slot) {
    slot_ = value;
  }
  ~ThreadValueScope() {
    slot_ = previous_;
  }
  ThreadValueScope(const ThreadValueScope&) = delete;
  ThreadValueScope& operator=(const ThreadValueScope&) = delete;

 private:
  T& slot_;
  const T previous_;
};

// The calling thread's own values (for the scopes below).
int64_t& program_tag_slot();
int32_t& method_instance_slot();

// 0: untagged (programs loaded by hosts that do not tag).
int64_t current_program_tag();

// Sets the loading thread's tag for its lifetime, restoring the previous one.
class ProgramTagScope : ThreadValueScope<int64_t> {
 public:
  explicit ProgramTagScope(int64_t tag) : ThreadValueScope(program_tag_slot(), tag) {}
};

// A new tag, unique in this process (fits ExecuTorch's 32-bit int options).
int64_t new_program_tag();

// Which method instance of its program the calling thread runs (-1: not
// said). A host that runs several instances of one program for
// `execution_contexts` (our Python loader) sets it around each call, so every
// delegate the call passes through uses the instance's own lane of execution
// contexts, and the lane's shared execution memory is used by that instance
// only (its runs never wait for another instance's). Without it a call takes
// the first free lane.
int32_t current_method_instance();

// Sets the calling thread's method instance for its lifetime, restoring the
// previous one.
class MethodInstanceScope : ThreadValueScope<int32_t> {
 public:
  explicit MethodInstanceScope(int32_t instance) : ThreadValueScope(method_instance_slot(), instance) {}
};

} // namespace executorch_tensorrt
