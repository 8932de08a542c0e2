#pragma once

// Simulated device memory for the test engine: host memory handed out by a
// counting allocator, so tests can assert how many "device" bytes and
// allocations the delegate causes (zero at a deferred load, none per execute
// with reused buffers, back to zero after offload) on a machine without a GPU.

#include <cstddef>
#include <cstdint>

namespace executorch_tensorrt {
namespace test_engine {

// Allocates `bytes` of simulated device memory (nullptr when out of the
// simulated capacity, see etrt_test_device_set_capacity). Zero bytes gives a
// valid unique pointer.
void* device_allocate(size_t bytes);
void device_free(void* pointer);
// True when `pointer` lies inside a live simulated device allocation.
bool is_device_pointer(const void* pointer);

// Counted host<->device copies; false (nothing copied) when the device side
// is not a live simulated allocation large enough for `bytes`.
bool device_copy_from_host(void* device, const void* host, size_t bytes);
bool device_copy_to_host(void* host, const void* device, size_t bytes);
// A counted copy between two live simulated allocations.
bool device_copy_on_device(void* destination, const void* source, size_t bytes);

} // namespace test_engine
} // namespace executorch_tensorrt

extern "C" {
int64_t etrt_test_device_bytes_in_use();
int64_t etrt_test_device_peak_bytes();
// Allocations made since the last reset (not live ones).
int64_t etrt_test_device_allocation_count();
int64_t etrt_test_device_live_allocations();
// Simulated device memory for tests driving device pointers from Python.
void* etrt_test_device_allocate(int64_t bytes);
void etrt_test_device_free(void* pointer);
// Host<->device copies made since the last reset, by anyone (the delegate's
// staging or ExecuTorch's et_copy kernels through the CUDA DeviceAllocator
// the test engine registers).
int64_t etrt_test_device_h2d_copies();
int64_t etrt_test_device_h2d_bytes();
int64_t etrt_test_device_d2h_copies();
int64_t etrt_test_device_d2h_bytes();
int64_t etrt_test_device_d2d_copies();
// Resets the allocation and copy counts and the peak (to the bytes in use now).
void etrt_test_device_reset_counters();
// Limits bytes in use (0: unlimited) to simulate a small GPU.
void etrt_test_device_set_capacity(int64_t bytes);
}
