#pragma once

// Device memory for the host-side tensors of a call. Everything one call
// stages (host inputs, host outputs) is carved out of ONE device allocation,
// mirrored by ONE pinned host allocation of the same size when the engine
// gives pinned memory (host_staging=pinned): host tensors are copied into the
// mirror and the device copies run from it asynchronously, at pinned speed,
// instead of from pageable memory, which CUDA copies synchronously through a
// driver buffer. The policy comes down to when that allocation is made:
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

// Whether a call's staging allocation gets a pinned host mirror. Pure:
// `fresh` allocates for every call, and a pinned allocation per call
// (cudaHostAlloc maps pages, far slower than the copies it saves) would cost
// more than it gains, so fresh stages from the tensors' own memory.
bool stage_through_pinned(HostStaging staging, OutputBufferPolicy policy);

// One staging allocation: device memory and its pinned mirror (null when
// the call stages from the tensors' own memory).
struct StagingBuffer {
  char* device = nullptr;
  char* host = nullptr;
  Engine* owner = nullptr; // the engine both came from
  size_t capacity = 0;
};

class StagingBuffers {
 public:
  StagingBuffers() = default;
  StagingBuffers(const StagingBuffers&) = delete;
  StagingBuffers& operator=(const StagingBuffers&) = delete;
  ~StagingBuffers(); // releases nothing through an engine: see release()

  void set_policy(OutputBufferPolicy policy) {
    policy_ = policy;
  }
  // Takes effect at the next allocation (a buffer held keeps its mirror).
  void set_host_staging(HostStaging staging) {
    host_staging_ = staging;
  }
  OutputBufferPolicy policy() const {
    return policy_;
  }
  // With reuse, the first allocation is at least this large (the staging
  // need at every profile's maximum shapes), so no later call grows it.
  void set_reserve_bytes(size_t bytes) {
    reserve_bytes_ = bytes;
  }

  // Device memory of at least `needed` bytes for this call, from `engine`,
  // with its pinned mirror where stage_through_pinned() says so.
  // An allocation this replaces is kept until end_call(): it may still be
  // the target of work enqueued earlier. The engines of one delegate share
  // the buffers: each is freed through the engine that allocated it, and
  // the delegate releases them before destroying any of its engines.
  Result<StagingBuffer> begin_call(Engine& engine, size_t needed, ExecuteCounters& counters);

  // After the call's work has completed: frees what the call retired (and,
  // under `fresh`, the call's own allocation).
  void end_call(ExecuteCounters& counters);

  // Frees every device buffer (call before the engine that allocated them
  // is destroyed; the next call allocates again).
  void release(ExecuteCounters& counters);

  size_t capacity() const {
    return base_.capacity;
  }
  bool holds_memory() const {
    return base_.device != nullptr || retired_.device != nullptr;
  }

 private:
  void free_buffer(StagingBuffer& buffer, ExecuteCounters& counters);

  OutputBufferPolicy policy_ = OutputBufferPolicy::kReuse;
  HostStaging host_staging_ = HostStaging::kPinned;
  size_t reserve_bytes_ = 0;
  StagingBuffer base_;
  StagingBuffer retired_;
};

} // namespace executorch_tensorrt
