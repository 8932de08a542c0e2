#include "memory/execution_memory_pool.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <tuple>

#include <executorch/runtime/platform/log.h>

#include "common/error_report.h"

namespace executorch_tensorrt {

int64_t pool_bytes_for(const std::vector<int64_t>& needs) {
  int64_t largest = 0;
  for (int64_t need : needs) {
    largest = std::max(largest, need);
  }
  return largest;
}

ExecutionMemoryPool::ExecutionMemoryPool(uint64_t id, ExecutionMemoryScope scope) : id_(id), scope_(scope) {}

ExecutionMemoryPool::~ExecutionMemoryPool() {
  // Members leave before their engines go (DeferredEngine), and the last
  // leave frees the memory; anything still held has no engine to free it.
  if (memory_ != nullptr) {
    ET_LOG(Error, "executorch-tensorrt: execution memory pool %llu destroyed while holding memory",
           static_cast<unsigned long long>(id_));
  }
}

ptrdiff_t ExecutionMemoryPool::find_locked(const Engine& member) const {
  const auto found = std::find(members_.begin(), members_.end(), &member);
  return found == members_.end() ? -1 : found - members_.begin();
}

int64_t ExecutionMemoryPool::largest_need_locked() const {
  return pool_bytes_for(needs_);
}

void ExecutionMemoryPool::free_memory_locked() {
  if (memory_ != nullptr) {
    allocated_by_->free_device(memory_);
  }
  memory_ = nullptr;
  capacity_ = 0;
  allocated_by_ = nullptr;
}

void ExecutionMemoryPool::join(Engine& member, int64_t need) {
  std::lock_guard<std::mutex> lock(mutex_);
  const ptrdiff_t index = find_locked(member);
  if (index >= 0) {
    needs_[index] = need;
    return;
  }
  members_.push_back(&member);
  needs_.push_back(need);
}

void ExecutionMemoryPool::leave(Engine& member) {
  std::lock_guard<std::mutex> lock(mutex_);
  const ptrdiff_t index = find_locked(member);
  if (index >= 0) {
    members_.erase(members_.begin() + index);
    needs_.erase(needs_.begin() + index);
  }
  if (last_runner_ == &member) {
    last_runner_ = nullptr; // its context is released after its work finished
  }
  // The memory must not outlive the engine that allocated it, and a pool
  // larger than what is left would hold memory nobody needs.
  if (allocated_by_ == &member || capacity_ > largest_need_locked()) {
    free_memory_locked();
  }
}

Result<ExecutionMemoryLease> ExecutionMemoryPool::lease(Engine& member) {
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    lock.lock(); // another member is running: its run must finish first
    ++waits_;
  }
  if (find_locked(member) < 0) {
    return report_error(Error::InvalidState, "internal: an engine ran on an execution memory pool it did not join");
  }
  Error err = ensure_capacity_locked(member);
  if (err != Error::Ok) {
    return err;
  }
  err = member.bind_execution_memory(memory_, capacity_);
  if (err != Error::Ok) {
    return err;
  }
  const Engine* previous = last_runner_ != &member ? last_runner_ : nullptr;
  last_runner_ = &member;
  ++leases_;
  return ExecutionMemoryLease(std::move(lock), memory_, previous);
}

Error ExecutionMemoryPool::reserve(Engine& member) {
  std::lock_guard<std::mutex> lock(mutex_);
  return ensure_capacity_locked(member);
}

Error ExecutionMemoryPool::ensure_capacity_locked(Engine& member) {
  const int64_t needed = largest_need_locked();
  if (needed > capacity_ || (memory_ == nullptr && needed > 0)) {
    // No member is running (we hold the lock), so the old memory is idle.
    free_memory_locked();
    Result<void*> memory = member.allocate_device(static_cast<size_t>(needed));
    if (!memory.ok()) {
      return report_error(
          memory.error(),
          "cannot allocate the %lld-byte shared execution memory (the largest need of the %zu engines sharing it); "
          "free device memory, offload other programs, or lower their weight-streaming budgets",
          static_cast<long long>(needed),
          members_.size());
    }
    memory_ = *memory;
    capacity_ = needed;
    allocated_by_ = &member;
    ++allocations_;
  }
  return Error::Ok;
}

ExecutionMemoryPoolReport ExecutionMemoryPool::report() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ExecutionMemoryPoolReport report;
  report.id = id_;
  report.scope = scope_;
  report.capacity_bytes = capacity_;
  report.largest_need_bytes = largest_need_locked();
  // Saturating: the needs are what engines report.
  for (int64_t need : needs_) {
    const int64_t add = need > 0 ? need : 0;
    report.summed_need_bytes = report.summed_need_bytes > INT64_MAX - add ? INT64_MAX : report.summed_need_bytes + add;
  }
  report.members = members_.size();
  report.leases = leases_;
  report.waits = waits_;
  report.allocations = allocations_;
  return report;
}

bool ExecutionMemoryPoolKey::operator<(const ExecutionMemoryPoolKey& other) const {
  return std::tie(scope, owner, device_index, flavour, lane) <
      std::tie(other.scope, other.owner, other.device_index, other.flavour, other.lane);
}

bool ExecutionMemoryPoolKey::operator==(const ExecutionMemoryPoolKey& other) const {
  return !(*this < other) && !(other < *this);
}

std::optional<ExecutionMemoryPoolKey> lane_pool_key(
    ExecutionMemoryScope scope,
    uint64_t program,
    int32_t device_index,
    uint8_t flavour,
    uint32_t lane) {
  if (scope == ExecutionMemoryScope::kPrivate) {
    return std::nullopt;
  }
  ExecutionMemoryPoolKey key;
  key.scope = scope;
  key.owner = scope == ExecutionMemoryScope::kProgram ? program : 0;
  key.device_index = device_index;
  key.flavour = flavour;
  key.lane = lane;
  return key;
}

std::shared_ptr<ExecutionMemoryPool> execution_memory_pool_for(const ExecutionMemoryPoolKey& key) {
  static std::mutex registry_mutex;
  static std::map<ExecutionMemoryPoolKey, std::weak_ptr<ExecutionMemoryPool>> pools;
  static uint64_t next_id = 1;
  std::lock_guard<std::mutex> lock(registry_mutex);
  std::shared_ptr<ExecutionMemoryPool> pool = pools[key].lock();
  if (!pool) {
    // Forget pools whose last holder is gone before adding one.
    for (auto it = pools.begin(); it != pools.end();) {
      it = it->second.expired() ? pools.erase(it) : std::next(it);
    }
    pool = std::make_shared<ExecutionMemoryPool>(next_id++, key.scope);
    pools[key] = pool;
  }
  return pool;
}

} // namespace executorch_tensorrt
