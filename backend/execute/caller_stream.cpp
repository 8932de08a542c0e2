#include "execute/caller_stream.h"

namespace executorch_tensorrt {
namespace {

// One value per thread, defined once in the delegate library, so the Python
// loader, the runner and a user's program all reach the same selection.
thread_local CallerStream t_caller_stream;

} // namespace

CallerStream current_caller_stream() {
  return t_caller_stream;
}

CallerStreamGuard::CallerStreamGuard(void* stream) : previous_(t_caller_stream) {
  t_caller_stream = CallerStream{true, stream};
}

CallerStreamGuard::~CallerStreamGuard() {
  t_caller_stream = previous_;
}

} // namespace executorch_tensorrt
