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

} // namespace executorch_tensorrt
