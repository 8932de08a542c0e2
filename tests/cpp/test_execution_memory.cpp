// Shared execution memory (backend/execution_memory_pool.*) and the choice
// of engine/profile per batch (backend/delegate_metadata.*), as tables of
// cases and with engines on the simulated device.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <engines/delegate_metadata.h>
#include <engines/engine_runtime_registry.h>
#include <common/error_report.h>
#include <memory/execution_memory_pool.h>

#include "../engine/test_device_memory.h"
#include "simulated_device_engine.h"

namespace executorch_tensorrt {
namespace {

// ---------------------------------------------------------------- sizing

TEST(PoolSize, IsTheLargestNeedNotTheSum) {
  struct Row {
    std::vector<int64_t> needs;
    int64_t pool;
  };
  const Row rows[] = {
      {{}, 0},
      {{0}, 0},
      {{512}, 512},
      {{100, 300, 200}, 300},
      {{300, 300}, 300},
      {{-1, 64}, 64}, // an unknown need counts as 0
      {{int64_t{1} << 40, 1}, int64_t{1} << 40},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(pool_bytes_for(row.needs), row.pool);
  }
}

// ---------------------------------------------------------------- slot choice

Shape batch_shape(int64_t batch, int64_t width = 4) {
  Shape shape;
  shape.rank = 2;
  shape.dims[0] = batch;
  shape.dims[1] = width;
  return shape;
}

// One input x: [batch, 4]; one slot per (lo, hi) batch range, in this order.
EngineMetadata ranges(std::initializer_list<std::pair<int64_t, int64_t>> batch_ranges) {
  EngineMetadata io;
  io.inputs.push_back(TensorSpec{"x", 6, {}});
  for (const auto& [lo, hi] : batch_ranges) {
    io.inputs[0].ranges.push_back(ShapeRange{batch_shape(lo), batch_shape(hi), batch_shape(hi)});
  }
  io.num_profiles = static_cast<uint32_t>(io.inputs[0].ranges.size());
  return io;
}

std::optional<uint32_t> choose(const EngineMetadata& io, int64_t batch) {
  const Shape shape = batch_shape(batch);
  return choose_slot(io, {&shape, 1});
}

TEST(SlotChoice, PicksTheSmallestEngineWhoseMaximumHoldsTheBatch) {
  // One engine per batch range, as batch_engines="per_range" exports them.
  const EngineMetadata per_range = ranges({{1, 8}, {9, 32}, {33, 128}});
  struct Row {
    int64_t batch;
    std::optional<uint32_t> slot;
  };
  const Row rows[] = {
      {0, std::nullopt}, {1, 0u}, {7, 0u}, {8, 0u}, {9, 1u}, {10, 1u}, {31, 1u}, {32, 1u},
      {33, 2u}, {34, 2u}, {127, 2u}, {128, 2u}, {129, std::nullopt},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(choose(per_range, row.batch), row.slot) << "batch " << row.batch;
  }
}

TEST(SlotChoice, OverlappingRangesPreferTheSmallerAndOrderDoesNotMatter) {
  // A small engine and one for the maximum batch: the small one serves what
  // it can, whichever comes first in the blob.
  for (const EngineMetadata& io : {ranges({{1, 8}, {1, 64}}), ranges({{1, 64}, {1, 8}})}) {
    const uint32_t small = io.inputs[0].ranges[0].max.dims[0] == 8 ? 0 : 1;
    EXPECT_EQ(choose(io, 1), small);
    EXPECT_EQ(choose(io, 8), small);
    EXPECT_EQ(choose(io, 9), 1 - small);
    EXPECT_EQ(choose(io, 64), 1 - small);
    EXPECT_EQ(choose(io, 65), std::nullopt);
  }
  // Equal capacity: the first in slot order.
  EXPECT_EQ(choose(ranges({{1, 16}, {4, 16}}), 8), 0u);
}

TEST(SlotChoice, EveryInputMustFitTheSameSlotAndCapacitySumsTheInputs) {
  EngineMetadata io = ranges({{1, 8}, {1, 32}});
  io.inputs.push_back(TensorSpec{"y", 6, {}});
  // y: slot 0 takes width 4..4, slot 1 takes width 4..16.
  io.inputs[1].ranges.push_back(ShapeRange{batch_shape(1, 4), batch_shape(8, 4), batch_shape(8, 4)});
  io.inputs[1].ranges.push_back(ShapeRange{batch_shape(1, 4), batch_shape(32, 16), batch_shape(32, 16)});
  EXPECT_EQ(slot_capacity(io, 0), 8u * 4 + 8u * 4);
  EXPECT_EQ(slot_capacity(io, 1), 32u * 4 + 32u * 16);
  const Shape fits_small[] = {batch_shape(2), batch_shape(2, 4)};
  const Shape needs_large[] = {batch_shape(2), batch_shape(2, 16)};
  EXPECT_EQ(choose_slot(io, {fits_small, 2}), 0u);
  EXPECT_EQ(choose_slot(io, {needs_large, 2}), 1u);
}

TEST(SlotChoice, CapacitySaturatesInsteadOfOverflowing) {
  EngineMetadata io = ranges({{1, int64_t{1} << 62}, {1, 8}});
  io.inputs[0].ranges[0].max.dims[1] = int64_t{1} << 62;
  EXPECT_EQ(slot_capacity(io, 0), ~uint64_t{0});
  EXPECT_EQ(choose(io, 4), 1u);
}

// ---------------------------------------------------------------- the pool

// An engine that only records what the pool binds to it.
class PoolMember final : public SimulatedDeviceEngine {
 public:
  explicit PoolMember(int64_t need) : need_(need) {}
  int64_t execution_memory_bytes() const override {
    return need_;
  }
  Error bind_execution_memory(void* memory, int64_t bytes) override {
    bound = memory;
    bound_bytes = bytes;
    return Error::Ok;
  }
  Error infer_output_shapes(uint32_t, Span<const Shape>, Span<Shape>) override {
    return Error::Ok;
  }
  void* bound = nullptr;
  int64_t bound_bytes = -1;

 protected:
  Error evaluate(Span<const DeviceTensor>, Span<const DeviceTensor>) override {
    return Error::Ok;
  }

 private:
  int64_t need_;
};

std::shared_ptr<ExecutionMemoryPool> fresh_pool() {
  static uint64_t owner = 1000;
  ExecutionMemoryPoolKey key;
  key.scope = ExecutionMemoryScope::kProgram;
  key.owner = ++owner;
  return execution_memory_pool_for(key);
}

TEST(ExecutionMemoryPool, HoldsTheLargestNeedAndBindsItToEachMember) {
  etrt_test_device_reset_counters();
  const int64_t before = etrt_test_device_bytes_in_use();
  auto pool = fresh_pool();
  PoolMember a(100), b(300), c(200);
  for (PoolMember* m : {&a, &b, &c}) {
    pool->join(*m, m->execution_memory_bytes());
  }
  EXPECT_EQ(etrt_test_device_bytes_in_use(), before); // nothing until a run
  for (PoolMember* m : {&a, &b, &c, &a}) {
    Result<ExecutionMemoryLease> lease = pool->lease(*m);
    ASSERT_TRUE(lease.ok()) << last_error_message();
    EXPECT_TRUE(lease->holds_pool());
  }
  EXPECT_EQ(etrt_test_device_bytes_in_use() - before, 300); // max, not 600
  EXPECT_EQ(etrt_test_device_allocation_count(), 1);
  EXPECT_EQ(a.bound, b.bound);
  EXPECT_EQ(b.bound, c.bound);
  EXPECT_EQ(a.bound_bytes, 300);
  ExecutionMemoryPoolReport report = pool->report();
  EXPECT_EQ(report.capacity_bytes, 300);
  EXPECT_EQ(report.largest_need_bytes, 300);
  EXPECT_EQ(report.summed_need_bytes, 600);
  EXPECT_EQ(report.members, 3u);
  EXPECT_EQ(report.leases, 4u);

  // The largest member leaves: the memory shrinks to what is left.
  pool->leave(b);
  EXPECT_EQ(etrt_test_device_bytes_in_use(), before);
  ASSERT_TRUE(pool->lease(c).ok());
  EXPECT_EQ(etrt_test_device_bytes_in_use() - before, 200);
  // A larger member joins: the next run grows it once.
  PoolMember d(1000);
  pool->join(d, 1000);
  ASSERT_TRUE(pool->lease(a).ok());
  EXPECT_EQ(etrt_test_device_bytes_in_use() - before, 1000);
  EXPECT_EQ(a.bound_bytes, 1000);
  for (PoolMember* m : {&a, &c, &d}) {
    pool->leave(*m);
  }
  EXPECT_EQ(etrt_test_device_bytes_in_use(), before);
}

TEST(ExecutionMemoryPool, MemoryNeverOutlivesTheMemberThatAllocatedIt) {
  const int64_t before = etrt_test_device_bytes_in_use();
  auto pool = fresh_pool();
  auto first = std::make_unique<PoolMember>(256);
  PoolMember second(256);
  pool->join(*first, 256);
  pool->join(second, 256);
  ASSERT_TRUE(pool->lease(*first).ok()); // allocated through `first`
  pool->leave(*first);
  first.reset(); // the engine is gone; its allocation went with its leave
  EXPECT_EQ(etrt_test_device_bytes_in_use(), before);
  ASSERT_TRUE(pool->lease(second).ok());
  EXPECT_EQ(etrt_test_device_bytes_in_use() - before, 256);
  pool->leave(second);
}

TEST(ExecutionMemoryPool, ALeaseExcludesEveryOtherMemberUntilReleased) {
  auto pool = fresh_pool();
  PoolMember a(64), b(64);
  pool->join(a, 64);
  pool->join(b, 64);
  std::atomic<bool> b_ran{false};
  std::thread other;
  {
    Result<ExecutionMemoryLease> held = pool->lease(a);
    ASSERT_TRUE(held.ok());
    other = std::thread([&] {
      Result<ExecutionMemoryLease> lease = pool->lease(b);
      b_ran = lease.ok();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(b_ran.load()) << "b ran while a held the memory";
  }
  other.join();
  EXPECT_TRUE(b_ran.load());
  EXPECT_EQ(pool->report().waits, 1u);
  pool->leave(a);
  pool->leave(b);
}

TEST(ExecutionMemoryPool, RefusesARunOfAnEngineThatDidNotJoin) {
  auto pool = fresh_pool();
  PoolMember stranger(64);
  EXPECT_FALSE(pool->lease(stranger).ok());
  EXPECT_NE(std::string(last_error_message()).find("did not join"), std::string::npos);
}

TEST(ExecutionMemoryPool, ReportsAnAllocationFailureWithTheSize) {
  const int64_t before = etrt_test_device_bytes_in_use();
  auto pool = fresh_pool();
  PoolMember huge(1 << 20);
  pool->join(huge, 1 << 20);
  etrt_test_device_set_capacity(before + 1024);
  Result<ExecutionMemoryLease> lease = pool->lease(huge);
  etrt_test_device_set_capacity(0);
  ASSERT_FALSE(lease.ok());
  EXPECT_NE(std::string(last_error_message()).find("1048576-byte shared execution memory"), std::string::npos)
      << last_error_message();
  pool->leave(huge);
}

// Lanes of a delegate run at once, so no two lanes share a pool; the
// contexts of one lane (a delegate's engines) do; private memory has none.
TEST(LanePoolKey, LanesThatMayOverlapNeverShareAPool) {
  struct Row {
    ExecutionMemoryScope scope;
    uint64_t program_a, program_b;
    uint32_t lane_a, lane_b;
    bool same_pool;
  };
  const ExecutionMemoryScope kProgram = ExecutionMemoryScope::kProgram, kProcess = ExecutionMemoryScope::kProcess;
  const Row rows[] = {
      {kProgram, 7, 7, 0, 0, true}, // one lane of a program: its engines share
      {kProgram, 7, 7, 0, 1, false}, // two lanes of a program: never
      {kProgram, 7, 7, 3, 2, false},
      {kProgram, 7, 8, 0, 0, false}, // two programs (they may run at once)
      {kProcess, 7, 8, 0, 0, true}, // the process scope shares across programs...
      {kProcess, 7, 8, 1, 1, true},
      {kProcess, 7, 7, 0, 1, false}, // ...but never across lanes
      {kProcess, 7, 8, 2, 3, false},
  };
  for (const Row& row : rows) {
    const auto a = lane_pool_key(row.scope, row.program_a, 0, 240, row.lane_a);
    const auto b = lane_pool_key(row.scope, row.program_b, 0, 240, row.lane_b);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_EQ(*a == *b, row.same_pool) << execution_memory_scope_name(row.scope) << " programs " << row.program_a
                                       << "/" << row.program_b << " lanes " << row.lane_a << "/" << row.lane_b;
    EXPECT_EQ(execution_memory_pool_for(*a) == execution_memory_pool_for(*b), row.same_pool);
  }
  for (uint32_t lane = 0; lane < 4; ++lane) {
    EXPECT_FALSE(lane_pool_key(ExecutionMemoryScope::kPrivate, 7, 0, 240, lane).has_value());
  }
}

TEST(ExecutionMemoryPool, ProgramsAndScopesGetTheirOwnPools) {
  ExecutionMemoryPoolKey program_a{ExecutionMemoryScope::kProgram, 7, 0, 240};
  ExecutionMemoryPoolKey program_b{ExecutionMemoryScope::kProgram, 8, 0, 240};
  ExecutionMemoryPoolKey process{ExecutionMemoryScope::kProcess, 0, 0, 240};
  ExecutionMemoryPoolKey other_device{ExecutionMemoryScope::kProcess, 0, 1, 240};
  auto a1 = execution_memory_pool_for(program_a);
  auto a2 = execution_memory_pool_for(program_a);
  auto b = execution_memory_pool_for(program_b);
  auto p1 = execution_memory_pool_for(process);
  auto p2 = execution_memory_pool_for(process);
  auto d = execution_memory_pool_for(other_device);
  EXPECT_EQ(a1, a2);
  EXPECT_NE(a1, b);
  EXPECT_EQ(p1, p2);
  EXPECT_NE(p1, d);
  EXPECT_NE(p1, a1);
  // A pool goes with its last holder; the key then makes a new one.
  const uint64_t old_id = b->report().id;
  b.reset();
  EXPECT_NE(execution_memory_pool_for(program_b)->report().id, old_id);
}

// ---------------------------------------------------------------- the test engine

// The end-to-end tests rely on the test engine refusing what TensorRT would
// not survive: a user-managed context running without memory, or with too
// little; and on it holding no activation memory of its own when user-managed.
TEST(TestEngineExecutionMemory, UserManagedContextsNeedEnoughBoundDeviceMemory) {
  const std::string program = "etrt-test-engine 1\nactivation 4096\ninput x\noutput y\ny = relu x\n";
  EngineMetadata meta;
  meta.flavour = Flavour::kTest;
  meta.inputs.push_back(TensorSpec{"x", 6, {ShapeRange{batch_shape(2), batch_shape(2), batch_shape(2)}}});
  meta.outputs.push_back(TensorSpec{"y", 6, {ShapeRange{batch_shape(2), batch_shape(2), batch_shape(2)}}});
  Result<EngineRuntime*> runtime = engine_runtime_for(Flavour::kTest);
  ASSERT_TRUE(runtime.ok());
  auto deserialized = (*runtime)->deserialize(reinterpret_cast<const uint8_t*>(program.data()), program.size(), meta);
  ASSERT_TRUE(deserialized.ok()) << last_error_message();
  Engine& engine = **deserialized;
  EXPECT_EQ(engine.execution_memory_bytes(), 4096);

  ASSERT_EQ(engine.create_execution_context(ContextMemory::kOwned), Error::Ok);
  EXPECT_EQ(engine.device_bytes(), 4096); // owns it
  EXPECT_NE(engine.bind_execution_memory(nullptr, 0), Error::Ok); // nothing to bind to an owning context
  engine.release_execution_context();
  ASSERT_EQ(engine.create_execution_context(ContextMemory::kUserManaged), Error::Ok);
  EXPECT_EQ(engine.device_bytes(), 0); // the pool's, not the engine's

  Shape shape = batch_shape(2);
  Shape out_shape;
  ASSERT_EQ(engine.infer_output_shapes(0, {&shape, 1}, {&out_shape, 1}), Error::Ok);
  void* io = test_engine::device_allocate(64);
  DeviceTensor in{&meta.inputs[0], io, 32, shape};
  DeviceTensor out{&meta.outputs[0], static_cast<char*>(io) + 32, 32, shape};
  auto run = [&] {
    clear_last_error();
    return engine.enqueue({&in, 1}, {&out, 1});
  };
  EXPECT_NE(run(), Error::Ok);
  EXPECT_NE(std::string(last_error_message()).find("without execution memory bound"), std::string::npos);
  void* small = test_engine::device_allocate(1024);
  ASSERT_EQ(engine.bind_execution_memory(small, 1024), Error::Ok);
  EXPECT_NE(run(), Error::Ok);
  EXPECT_NE(std::string(last_error_message()).find("1024 bytes of execution memory bound, the engine needs 4096"),
            std::string::npos);
  std::vector<char> host(4096);
  ASSERT_EQ(engine.bind_execution_memory(host.data(), 4096), Error::Ok);
  EXPECT_NE(run(), Error::Ok);
  EXPECT_NE(std::string(last_error_message()).find("not live device memory"), std::string::npos);
  void* enough = test_engine::device_allocate(4096);
  ASSERT_EQ(engine.bind_execution_memory(enough, 4096), Error::Ok);
  EXPECT_EQ(run(), Error::Ok) << last_error_message();
  engine.release_execution_context();
  for (void* p : {io, small, enough}) {
    test_engine::device_free(p);
  }
}

} // namespace
} // namespace executorch_tensorrt
