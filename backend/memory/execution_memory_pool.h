#pragma once

// Execution memory shared by engines whose runs cannot overlap.
//
// Every TensorRT execution context needs device memory for its activations.
// With the default strategy each context keeps its own, so a program of N
// engines (graph breaks, per-layer engines, one engine per batch range) holds
// the SUM of their needs although only one of them runs at a time. A pool
// holds ONE allocation sized to the LARGEST need of its members, and hands it
// to the member about to run (user-managed context memory).
//
// The safety rule -- two contexts may use the same memory only when their
// runs cannot overlap -- is enforced here, not left to callers: the memory is
// bound to a context only under an ExecutionMemoryLease, and the lease holds
// the pool's lock while the run it was taken for is enqueued. A run may still
// be in flight on the GPU when its lease goes (a call on the caller's stream
// returns without a host wait), so a lease handed to another member names
// the previous one, and the run orders its stream after that member's work
// (Engine::order_after, an event: no host wait). Members on different
// streams or threads are thereby serialized; engines that must be free to
// overlap (programs running concurrently under the `program` scope) are in
// different pools.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "options/delegate_options.h"
#include "engines/engine_runtime.h"

namespace executorch_tensorrt {

// The pool's size for a set of member needs: the largest (not the sum). Pure,
// for tables of cases; negative needs count as 0.
int64_t pool_bytes_for(const std::vector<int64_t>& needs);

class ExecutionMemoryPool;

// Exclusive use of a pool's memory for one run. Holds the pool's lock: no
// other member can bind or run until it is destroyed. Empty (no pool) for
// engines with private memory.
class ExecutionMemoryLease {
 public:
  ExecutionMemoryLease() = default;
  ExecutionMemoryLease(ExecutionMemoryLease&&) = default;
  ExecutionMemoryLease& operator=(ExecutionMemoryLease&&) = default;
  bool holds_pool() const {
    return lock_.owns_lock();
  }
  // The pool's memory bound for this run (null without a pool).
  const void* memory() const {
    return memory_;
  }
  // The member that used the memory before this run, when it was another:
  // its work may still be in flight, so this run's stream must be ordered
  // after it (Engine::order_after) once the run's stream is chosen.
  const Engine* previous_user() const {
    return previous_user_;
  }

 private:
  friend class ExecutionMemoryPool;
  ExecutionMemoryLease(std::unique_lock<std::mutex> lock, const void* memory, const Engine* previous_user)
      : lock_(std::move(lock)), memory_(memory), previous_user_(previous_user) {}
  std::unique_lock<std::mutex> lock_;
  const void* memory_ = nullptr;
  const Engine* previous_user_ = nullptr;
};

// What a pool holds now, for reports.
struct ExecutionMemoryPoolReport {
  uint64_t id = 0; // unique in the process
  ExecutionMemoryScope scope = ExecutionMemoryScope::kProgram;
  int64_t capacity_bytes = 0; // allocated now
  int64_t largest_need_bytes = 0; // of the members with a context
  int64_t summed_need_bytes = 0; // what private memory would hold
  size_t members = 0; // contexts drawing on the pool now
  uint64_t leases = 0; // runs so far
  uint64_t waits = 0; // runs that had to wait for another member's run
  uint64_t allocations = 0; // device allocations made (growth after a larger member joined)
};

class ExecutionMemoryPool {
 public:
  ExecutionMemoryPool(uint64_t id, ExecutionMemoryScope scope);
  ~ExecutionMemoryPool(); // every member has left, so the memory is already freed
  ExecutionMemoryPool(const ExecutionMemoryPool&) = delete;
  ExecutionMemoryPool& operator=(const ExecutionMemoryPool&) = delete;

  // `member` created a user-managed context needing `need` bytes. Waits for
  // a run in flight. Memory is allocated at the next lease, not here.
  void join(Engine& member, int64_t need);

  // `member` is about to release its context (offload, new budget) or be
  // destroyed. Waits for a run in flight; frees the memory when `member`
  // allocated it or when the largest remaining need is smaller, so the pool
  // never holds more than its members need.
  void leave(Engine& member);

  // Locks the pool for one run of `member` (waiting for another member's run
  // to finish), grows the memory to the largest need when a larger member
  // joined since, and binds it to `member`'s context. The caller keeps the
  // lease until the run has completed.
  Result<ExecutionMemoryLease> lease(Engine& member);

  // Allocates the memory for the members' largest need now rather than at
  // the next run (init_policy eager: memory is spent, and a shortage
  // reported, at load).
  Error reserve(Engine& member);

  ExecutionMemoryPoolReport report() const;

 private:
  // The member's index in members_/needs_, or -1.
  ptrdiff_t find_locked(const Engine& member) const;
  int64_t largest_need_locked() const;
  // Grows the memory to the largest need, allocating through `member`.
  Error ensure_capacity_locked(Engine& member);
  void free_memory_locked();

  const uint64_t id_;
  const ExecutionMemoryScope scope_;
  mutable std::mutex mutex_;
  // Parallel: members_[i] needs needs_[i] bytes. Kept apart so the largest
  // need is read without building a list on every run.
  std::vector<Engine*> members_;
  std::vector<int64_t> needs_;
  void* memory_ = nullptr;
  int64_t capacity_ = 0;
  Engine* allocated_by_ = nullptr; // a member: frees must go through it
  const Engine* last_runner_ = nullptr; // the member whose run was leased last
  uint64_t leases_ = 0;
  uint64_t waits_ = 0;
  uint64_t allocations_ = 0;
};

// Identifies the engines that may share: same scope owner, device and
// runtime flavour (memory from one runtime's allocator is not another's).
struct ExecutionMemoryPoolKey {
  ExecutionMemoryScope scope = ExecutionMemoryScope::kProgram;
  uint64_t owner = 0; // the program (kProgram); 0 for kProcess
  int32_t device_index = 0;
  uint8_t flavour = 0;
  uint32_t lane = 0; // the delegate's lane of execution contexts
  bool operator<(const ExecutionMemoryPoolKey& other) const;
  bool operator==(const ExecutionMemoryPoolKey& other) const;
};

// The pool the contexts of `lane` of a delegate draw on (nullopt: private
// memory, under kPrivate). A lane runs one call at a time, so the contexts
// of one lane (a delegate's several engines) cannot overlap and share; the
// lanes of a delegate run at once, so each lane has its own pool: contexts
// that may overlap never share memory. (Pools of the same lane of different
// programs, under kProcess, are shared; their lease serializes those runs.)
// Pure, for tables of cases.
std::optional<ExecutionMemoryPoolKey> lane_pool_key(
    ExecutionMemoryScope scope,
    uint64_t program,
    int32_t device_index,
    uint8_t flavour,
    uint32_t lane);

// The pool for `key`, created on first use and destroyed with its last
// holder. Never called with kPrivate.
std::shared_ptr<ExecutionMemoryPool> execution_memory_pool_for(const ExecutionMemoryPoolKey& key);

} // namespace executorch_tensorrt
