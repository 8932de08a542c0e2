#include "memory/staging_buffers.h"

#include <cstdlib>
#include <cstring>

#include "common/error_report.h"

namespace executorch_tensorrt {

size_t staging_allocation_size(OutputBufferPolicy policy, size_t held, size_t needed, size_t reserve) {
  if (needed == 0) {
    return 0; // every tensor of the call is already on the device
  }
  if (policy == OutputBufferPolicy::kFresh) {
    return needed;
  }
  if (held >= needed && held > 0) {
    return 0;
  }
  return reserve > needed ? reserve : needed;
}

bool stage_through_pinned(HostStaging staging, OutputBufferPolicy policy) {
  return staging == HostStaging::kPinned && policy != OutputBufferPolicy::kFresh;
}

StagingBuffers::~StagingBuffers() {
  // The owner of the executor must have called release() while the engine
  // was alive; memory still held here cannot be freed without it.
  if (holds_memory()) {
    ET_LOG(Error, "executorch-tensorrt: staging buffers outlived their engine (release_device_buffers() was not called)");
  }
}

Result<StagingBuffer> StagingBuffers::begin_call(Engine& engine, size_t needed, ExecuteCounters& counters) {
  const size_t size = staging_allocation_size(policy_, base_.capacity, needed, reserve_bytes_);
  if (size == 0) {
    return base_;
  }
  if (size == kSaturatedSize) {
    return report_error(
        Error::MemoryAllocationFailed,
        "the device memory to stage this call's host tensors exceeds a %zu-bit size (output_buffers=%s): "
        "the engine's largest shapes are too large to stage; re-export with smaller profile maxima",
        sizeof(size_t) * 8,
        output_buffer_policy_name(policy_));
  }
  Result<void*> fresh = engine.allocate_device(size);
  if (!fresh.ok()) {
    return report_error(
        fresh.error(),
        "cannot allocate %zu bytes of device memory to stage this call's host tensors (output_buffers=%s)",
        size,
        output_buffer_policy_name(policy_));
  }
  ++counters.allocations;
  counters.bytes_allocated += size;
  StagingBuffer next{static_cast<char*>(*fresh), nullptr, &engine, size};
  if (stage_through_pinned(host_staging_, policy_)) {
    // No pinned memory (the runtime has none, or the host is out of it):
    // stage from the tensors' own memory, slower but correct.
    Result<void*> mirror = engine.allocate_host(size);
    if (mirror.ok()) {
      // Calls copy whole regions, alignment padding included: zero it on
      // both sides once, so no copy ever reads memory nobody wrote.
      std::memset(*mirror, 0, size);
      if (engine.copy_to_device(next.device, *mirror, size) == Error::Ok) {
        next.host = static_cast<char*>(*mirror);
        ++counters.pinned_allocations;
        counters.pinned_bytes += size;
      } else {
        engine.free_host(*mirror);
      }
    }
  }
  // The buffer replaced may still be read by the previous call's work only
  // if that call left work in flight; freeing it after this call completes
  // is always safe and keeps a (synchronizing) free off the enqueue path.
  if (base_.device != nullptr) {
    if (retired_.device != nullptr) {
      free_buffer(retired_, counters);
    }
    retired_ = base_;
  }
  base_ = next;
  return base_;
}

void StagingBuffers::end_call(ExecuteCounters& counters) {
  if (retired_.device != nullptr) {
    free_buffer(retired_, counters);
  }
  if (policy_ == OutputBufferPolicy::kFresh && base_.device != nullptr) {
    free_buffer(base_, counters);
  }
}

void StagingBuffers::release(ExecuteCounters& counters) {
  if (retired_.device != nullptr) {
    free_buffer(retired_, counters);
  }
  if (base_.device != nullptr) {
    free_buffer(base_, counters);
  }
}

void StagingBuffers::free_buffer(StagingBuffer& buffer, ExecuteCounters& counters) {
  buffer.owner->free_device(buffer.device);
  if (buffer.host != nullptr) {
    buffer.owner->free_host(buffer.host);
  }
  ++counters.frees;
  buffer = StagingBuffer{};
}

} // namespace executorch_tensorrt
