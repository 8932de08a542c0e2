#pragma once

#include <cstdint>

namespace executorch_tensorrt {

// What one delegate's execute path has done since it was created (or since
// reset): device allocations for staging, and the host<->device traffic it
// caused. Read by tests and benchmarks (DelegateExecutor::counters()).
struct ExecuteCounters {
  uint64_t executes = 0; // calls that reached the engine
  uint64_t allocations = 0; // device allocations for staging buffers
  uint64_t bytes_allocated = 0; // their total size
  uint64_t frees = 0;
  uint64_t h2d_copies = 0; // host inputs staged to the device
  uint64_t h2d_bytes = 0;
  uint64_t d2h_copies = 0; // device results copied to host outputs
  uint64_t d2h_bytes = 0;
  uint64_t device_inputs = 0; // inputs already on the device, bound zero-copy
  uint64_t device_outputs = 0; // outputs written straight into device tensors
  uint64_t host_waits = 0; // calls that waited on the host for the GPU
  uint64_t graph_captures = 0; // CUDA graphs captured
  uint64_t graph_replays = 0; // calls that replayed one
  uint64_t pinned_allocations = 0; // pinned host mirrors of the staging buffer
  uint64_t pinned_bytes = 0; // their total size
  // Owned state (backend/state/delegate_state.h): host-to-device copies of
  // it (its initial fill and each refill after a reset, never per call), and
  // updates made on the device (in place through an aliased output, or a
  // device-to-device copy from scratch).
  uint64_t state_host_copies = 0;
  uint64_t state_device_updates = 0;

  // Sums (a delegate's lanes).
  ExecuteCounters& operator+=(const ExecuteCounters& o) {
    executes += o.executes;
    allocations += o.allocations;
    bytes_allocated += o.bytes_allocated;
    frees += o.frees;
    h2d_copies += o.h2d_copies;
    h2d_bytes += o.h2d_bytes;
    d2h_copies += o.d2h_copies;
    d2h_bytes += o.d2h_bytes;
    device_inputs += o.device_inputs;
    device_outputs += o.device_outputs;
    host_waits += o.host_waits;
    graph_captures += o.graph_captures;
    graph_replays += o.graph_replays;
    pinned_allocations += o.pinned_allocations;
    pinned_bytes += o.pinned_bytes;
    state_host_copies += o.state_host_copies;
    state_device_updates += o.state_device_updates;
    return *this;
  }
};

} // namespace executorch_tensorrt
