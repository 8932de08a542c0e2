#include "test_device_memory.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace executorch_tensorrt {
namespace test_engine {
namespace {

struct DeviceMemoryState {
  std::mutex mutex;
  std::map<const char*, size_t> live; // start -> size
  int64_t bytes_in_use = 0;
  int64_t peak_bytes = 0;
  int64_t allocation_count = 0;
  int64_t capacity = 0;
  int64_t h2d_copies = 0;
  int64_t h2d_bytes = 0;
  int64_t d2h_copies = 0;
  int64_t d2h_bytes = 0;
  int64_t d2d_copies = 0;
};

DeviceMemoryState& state() {
  static DeviceMemoryState* instance = new DeviceMemoryState(); // never destroyed: used from static destructors
  return *instance;
}

} // namespace

void* device_allocate(size_t bytes) {
  DeviceMemoryState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  // Unsigned, so a request near SIZE_MAX is refused, not wrapped negative.
  if (s.capacity > 0 && (s.bytes_in_use > s.capacity || bytes > static_cast<uint64_t>(s.capacity - s.bytes_in_use))) {
    return nullptr;
  }
  if (bytes >= (size_t{1} << 40)) { // 1 TiB: beyond the simulated device (ASan's malloc would abort)
    return nullptr;
  }
  char* pointer = static_cast<char*>(std::malloc(bytes == 0 ? 1 : bytes));
  if (pointer == nullptr) {
    return nullptr;
  }
  s.live[pointer] = bytes;
  s.bytes_in_use += static_cast<int64_t>(bytes);
  s.peak_bytes = s.bytes_in_use > s.peak_bytes ? s.bytes_in_use : s.peak_bytes;
  ++s.allocation_count;
  return pointer;
}

void device_free(void* pointer) {
  if (pointer == nullptr) {
    return;
  }
  DeviceMemoryState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.live.find(static_cast<const char*>(pointer));
  if (it == s.live.end()) {
    std::abort(); // freeing memory the allocator never gave out: a delegate bug
  }
  s.bytes_in_use -= static_cast<int64_t>(it->second);
  s.live.erase(it);
  std::free(pointer);
}

namespace {

// Whether [pointer, pointer + bytes) lies in one live allocation; the caller
// holds the mutex.
bool inside_allocation(DeviceMemoryState& s, const void* pointer, size_t bytes) {
  const char* p = static_cast<const char*>(pointer);
  auto it = s.live.upper_bound(p);
  if (it == s.live.begin()) {
    return false;
  }
  --it;
  const size_t extent = it->second == 0 ? 1 : it->second;
  return p >= it->first && p + (bytes == 0 ? 1 : bytes) <= it->first + extent;
}

} // namespace

bool is_device_pointer(const void* pointer) {
  DeviceMemoryState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return inside_allocation(s, pointer, 0);
}

bool device_copy_from_host(void* device, const void* host, size_t bytes) {
  DeviceMemoryState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!inside_allocation(s, device, bytes)) {
    return false;
  }
  std::memcpy(device, host, bytes);
  ++s.h2d_copies;
  s.h2d_bytes += static_cast<int64_t>(bytes);
  return true;
}

bool device_copy_to_host(void* host, const void* device, size_t bytes) {
  DeviceMemoryState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!inside_allocation(s, device, bytes)) {
    return false;
  }
  std::memcpy(host, device, bytes);
  ++s.d2h_copies;
  s.d2h_bytes += static_cast<int64_t>(bytes);
  return true;
}

bool device_copy_on_device(void* destination, const void* source, size_t bytes) {
  DeviceMemoryState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!inside_allocation(s, destination, bytes) || !inside_allocation(s, source, bytes)) {
    return false;
  }
  std::memmove(destination, source, bytes);
  ++s.d2d_copies;
  return true;
}

} // namespace test_engine
} // namespace executorch_tensorrt

extern "C" {
int64_t etrt_test_device_bytes_in_use() {
  auto& s = executorch_tensorrt::test_engine::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.bytes_in_use;
}
int64_t etrt_test_device_peak_bytes() {
  auto& s = executorch_tensorrt::test_engine::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.peak_bytes;
}
int64_t etrt_test_device_allocation_count() {
  auto& s = executorch_tensorrt::test_engine::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.allocation_count;
}
int64_t etrt_test_device_live_allocations() {
  auto& s = executorch_tensorrt::test_engine::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return static_cast<int64_t>(s.live.size());
}
void* etrt_test_device_allocate(int64_t bytes) {
  return bytes < 0 ? nullptr : executorch_tensorrt::test_engine::device_allocate(static_cast<size_t>(bytes));
}
void etrt_test_device_free(void* pointer) {
  executorch_tensorrt::test_engine::device_free(pointer);
}
int64_t etrt_test_device_h2d_copies() {
  auto& s = executorch_tensorrt::test_engine::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.h2d_copies;
}
int64_t etrt_test_device_h2d_bytes() {
  auto& s = executorch_tensorrt::test_engine::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.h2d_bytes;
}
int64_t etrt_test_device_d2h_copies() {
  auto& s = executorch_tensorrt::test_engine::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.d2h_copies;
}
int64_t etrt_test_device_d2h_bytes() {
  auto& s = executorch_tensorrt::test_engine::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.d2h_bytes;
}
void etrt_test_device_reset_counters() {
  auto& s = executorch_tensorrt::test_engine::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.allocation_count = 0;
  s.peak_bytes = s.bytes_in_use;
  s.h2d_copies = s.h2d_bytes = s.d2h_copies = s.d2h_bytes = s.d2d_copies = 0;
}
int64_t etrt_test_device_d2d_copies() {
  auto& s = executorch_tensorrt::test_engine::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.d2d_copies;
}
void etrt_test_device_set_capacity(int64_t bytes) {
  auto& s = executorch_tensorrt::test_engine::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.capacity = bytes;
}
}
