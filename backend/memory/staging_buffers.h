#pragma once

// Device memory for the host-side tensors of a call. Everything one call
// stages (host inputs, host outputs) is carved out of ONE device allocation,
// so the policy comes down to when that allocation is made:
//   reuse: kept across calls; replaced by a larger one only when a call
//          needs more than it holds (the batch grew), never for less;
//   fresh: made for every call and released when the call completes;
//   reuse_profile_max: reuse whose first allocation is the reserve (the
//          staging need at every profile's maximum shapes).

#include <cstddef>
#include <cstdint>

#include "options/delegate_options.h"
#include "engines/engine_runtime.h"
#include "execute/execute_counters.h"

namespace executorch_tensorrt {

// Offsets inside the staging allocation: every slot starts on this boundary
// (TensorRT and vectorized CUDA kernels want at least 256-byte alignment,
// which cudaMalloc itself gives).
inline constexpr size_t kStagingAlignment = 256;

// Sizes here saturate at SIZE_MAX instead of wrapping: a saturated request
// fails to allocate with its size in the message, where a wrapped one would
// silently hand out a buffer too small for the call.
inline constexpr size_t kSaturatedSize = SIZE_MAX;

inline size_t align_staging(size_t nbytes) {
  if (nbytes > kSaturatedSize - (kStagingAlignment - 1)) {
    return kSaturatedSize;
  }
  return (nbytes + kStagingAlignment - 1) / kStagingAlignment * kStagingAlignment;
}

inline size_t add_staging(size_t a, size_t b) {
  return a > kSaturatedSize - b ? kSaturatedSize : a + b;
}

// The staging capacity a call must be given under `policy`. Pure, for tables
// of cases: reuse (and reuse_profile_max) keeps `held` when it suffices, otherwise asks for `needed`
// (or `reserve` when a larger reservation, e.g. the profile maximum, was
// requested); fresh always asks for exactly `needed`. 0 means "no new
// allocation".
size_t staging_allocation_size(OutputBufferPolicy policy, size_t held, size_t needed, size_t reserve);

class StagingBuffers {
 public:
  StagingBuffers() = default;
  StagingBuffers(const StagingBuffers&) = delete;
  StagingBuffers& operator=(const StagingBuffers&) = delete;
  ~StagingBuffers(); // releases nothing through an engine: see release()

  void set_policy(OutputBufferPolicy policy) {
    policy_ = policy;
  }
  OutputBufferPolicy policy() const {
    return policy_;
  }
  // With reuse, the first allocation is at least this large (the staging
  // need at every profile's maximum shapes), so no later call grows it.
  void set_reserve_bytes(size_t bytes) {
    reserve_bytes_ = bytes;
  }

  // Device memory of at least `needed` bytes for this call, from `engine`.
  // An allocation this replaces is kept until end_call(): it may still be
  // the target of work enqueued earlier. The engines of one delegate share
  // the buffers: each is freed through the engine that allocated it, and
  // the delegate releases them before destroying any of its engines.
  Result<char*> begin_call(Engine& engine, size_t needed, ExecuteCounters& counters);

  // After the call's work has completed: frees what the call retired (and,
  // under `fresh`, the call's own allocation).
  void end_call(ExecuteCounters& counters);

  // Frees every device buffer (call before the engine that allocated them
  // is destroyed; the next call allocates again).
  void release(ExecuteCounters& counters);

  size_t capacity() const {
    return capacity_;
  }
  bool holds_memory() const {
    return base_ != nullptr || retired_ != nullptr;
  }

 private:
  void free_buffer(char*& pointer, Engine*& owner, ExecuteCounters& counters);

  OutputBufferPolicy policy_ = OutputBufferPolicy::kReuse;
  size_t reserve_bytes_ = 0;
  char* base_ = nullptr;
  Engine* base_owner_ = nullptr; // the engine base_ came from
  size_t capacity_ = 0;
  char* retired_ = nullptr;
  Engine* retired_owner_ = nullptr;
};

} // namespace executorch_tensorrt
