#pragma once

// Which loaded program a delegate belongs to. ExecuTorch gives init() no
// program identity and its set_option()/get_option() are backend-wide, so a
// host that wants per-program options (our Python loader, the runner) sets a
// tag on the loading thread; init() records it and set_option/get_option can
// be restricted to it with the `program` option.

#include <cstdint>

namespace executorch_tensorrt {

// 0: untagged (programs loaded by hosts that do not tag).
int64_t current_program_tag();

// Sets the loading thread's tag for its lifetime, restoring the previous one.
class ProgramTagScope {
 public:
  explicit ProgramTagScope(int64_t tag);
  ~ProgramTagScope();
  ProgramTagScope(const ProgramTagScope&) = delete;
  ProgramTagScope& operator=(const ProgramTagScope&) = delete;

 private:
  int64_t previous_;
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
class MethodInstanceScope {
 public:
  explicit MethodInstanceScope(int32_t instance);
  ~MethodInstanceScope();
  MethodInstanceScope(const MethodInstanceScope&) = delete;
  MethodInstanceScope& operator=(const MethodInstanceScope&) = delete;

 private:
  int32_t previous_;
};

} // namespace executorch_tensorrt
