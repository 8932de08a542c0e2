#pragma once

#include <vector>

#include <executorch/runtime/core/event_tracer.h>
#include <executorch/runtime/core/evalue.h>
#include <executorch/runtime/core/result.h>

#include "engines/delegate_metadata.h"
#include "options/delegate_options.h"
#include "engines/engine_source.h"
#include "execute/cuda_graph_cache.h"
#include "execute/execute_counters.h"
#include "memory/staging_buffers.h"
#include "state/delegate_state.h"

namespace executorch_tensorrt {

// Checks one execute()'s arguments against the engine metadata, sizes the
// outputs and runs the engine. It holds no engine: with deferred
// initialization the engine is created at the first valid call and may be
// released and recreated later (offload). Scratch space is sized once at
// construction so the steady-state call does not allocate host memory.
//
// Binding: an ExecuTorch tensor whose TensorImpl is on the CUDA device is
// bound to the engine as is (zero copy); a host tensor is staged through the
// delegate's device buffers (StagingBuffers, policy `output_buffers`).
//
// Streams and completion (execute/caller_stream.h): under a
// CallerStreamGuard all work runs on the caller's stream, else on the
// engine's own. A call with host tensors waits for its work before
// returning, so the next operator (a CPU kernel, ExecuTorch's et_copy
// kernels) reads finished outputs; a call whose tensors are all on the
// device and that runs on the caller's stream returns as soon as its work is
// enqueued (call_waits_on_host). With `cuda_graphs` the engine's enqueue is
// replayed from a CUDA graph (cuda_graph_cache.h).
//
// Several engines: a delegate may hold several engines (or profiles) covering
// different batch ranges. Each call runs on the slot choose_slot() picks (the
// smallest that holds the request); the staging buffers are shared by all of
// them, so they grow to the largest request seen, whichever engine served it.
// Whether a call waits on the host for its work before returning. Pure: a
// call returns with work in flight only when it ran on the caller's stream
// (which orders whatever the caller does next) and every tensor is on the
// device; host outputs must be finished, and a failed call must leave
// nothing in flight.
bool call_waits_on_host(bool caller_stream_given, bool stages_host_tensors, bool failed);

// Whether an output of data-dependent shape, as the engine produced it,
// fits what the program planned for it: Ok when the engine reported a shape
// of the bound's rank, each dim within `bound` (the blob's upper bound for
// the call's profile), needing at most `capacity` bytes (the output
// tensor's planned memory). Otherwise an error naming the output, what the
// engine produced, the bound and what to do. Pure, for tables of cases.
Error check_produced_output(
    const TensorSpec& spec, size_t index, const ProducedOutput& produced, const Shape& bound, uint64_t capacity);

class DelegateExecutor {
 public:
  // `metadata` is the delegate's combined signature (DelegateMetadata::io);
  // `slots` maps its profiles to (engine, profile) pairs. Without slots,
  // every profile belongs to engine 0.
  explicit DelegateExecutor(const EngineMetadata& metadata, std::vector<ProfileSlot> slots = {});
  ~DelegateExecutor() = default;

  // Which engine served a batch size (dim 0 of the first input; -1 when the
  // first input has rank 0 or there is none), for reports.
  struct BatchServed {
    int64_t batch = 0;
    uint32_t engine = 0;
    uint32_t profile = 0;
    uint64_t calls = 0;
  };
  static constexpr size_t kMaxBatchesRecorded = 32;

  // `args` holds the delegate's inputs then outputs, in metadata order. The
  // arguments are checked first; only a valid call asks `source` for the
  // engine. `tracer` (may be null) receives the delegate events "stage_in",
  // "enqueue" and "stage_out" (ETDump).
  Error execute(
      EngineSource& source,
      Span<executorch::runtime::EValue*> args,
      executorch::runtime::EventTracer* tracer = nullptr);

  // pinned (default) or pageable; applies from the next staging allocation.
  void set_host_staging(HostStaging staging) {
    staging_.set_host_staging(staging);
  }
  // On: replay CUDA graphs; off drops them. Applies from the next call.
  void set_cuda_graphs(bool enable) {
    graphs_.set_enabled(enable);
  }
  // "off", "ok" or why calls run without a graph.
  std::string cuda_graph_status() const {
    return graphs_.status();
  }

  // reuse (default), fresh or reuse_profile_max; applies from the next call.
  void set_output_buffer_policy(OutputBufferPolicy policy);
  OutputBufferPolicy output_buffer_policy() const {
    return requested_policy_;
  }
  // With reuse, size the staging buffer for every profile's maximum shapes at
  // the first call, so that no later call grows it.
  void reserve_for_profile_maximum(bool enable);

  // The buffers the delegate owns (null: none); bound to the engine's state
  // tensors at every call. Set before the first call; outlives the executor.
  void set_states(DelegateStates* states);

  // Frees every device buffer and CUDA graph this executor owns. Must be
  // called while the engine those came from is still alive (before offload
  // destroys it); the next execute allocates again.
  void release_device_buffers();

  // What this delegate's execute path did so far.
  const ExecuteCounters& counters() const {
    return counters_;
  }
  void reset_counters() {
    counters_ = ExecuteCounters{};
  }
  // The first kMaxBatchesRecorded distinct batch sizes, in the order first
  // seen, with the engine that served each last.
  const std::vector<BatchServed>& batches_served() const {
    return batches_served_;
  }

 private:
  struct Binding {
    executorch::aten::Tensor* tensor = nullptr;
    bool on_device = false;
    size_t staging_offset = 0; // when staged
    // Outputs: the shape is known only after the run; bound at its planned
    // capacity (bytes of the blob's upper bound) and resized after it.
    bool data_dependent = false;
  };

  Error check_argument_count(size_t count) const;
  Error bind_input(size_t index, executorch::runtime::EValue* arg);
  Result<uint32_t> select_slot() const;
  Error check_output_shapes(uint32_t slot) const;
  void bound_data_dependent_outputs(uint32_t slot);
  Error size_data_dependent_outputs(const Engine& engine, Error enqueued);
  void record_batch(const ProfileSlot& slot);
  Error bind_output(size_t index, executorch::runtime::EValue* arg);
  Error check_device(const char* role, const TensorSpec& spec, size_t index, const executorch::aten::Tensor& tensor) const;
  size_t plan_staging();
  Error run(Engine& engine, uint32_t profile, const ExecutionMemoryLease& memory, executorch::runtime::EventTracer* tracer);
  Error stage_in(Engine& engine, const StagingBuffer& staging);
  Error stage_out(Engine& engine, const StagingBuffer& staging);
  void finish_stage_out(const StagingBuffer& staging);
  Error bind_states(Engine& engine);
  Error update_states(Engine& engine);
  void release_state_scratch();

  const EngineMetadata& metadata_;
  const std::vector<ProfileSlot> slots_;
  const size_t profile_max_staging_bytes_;
  std::vector<Shape> input_shapes_;
  std::vector<Shape> output_shapes_;
  std::vector<Binding> input_bindings_;
  std::vector<Binding> output_bindings_;
  std::vector<DeviceTensor> inputs_;
  std::vector<DeviceTensor> outputs_;
  StagingBuffers staging_;
  size_t staged_inputs_end_ = 0; // staging bytes of this call's host inputs (they come first)
  bool has_data_dependent_outputs_ = false; // this call's (bound_data_dependent_outputs)
  CudaGraphCache graphs_;
  OutputBufferPolicy requested_policy_ = OutputBufferPolicy::kReuse;
  ExecuteCounters counters_;
  std::vector<BatchServed> batches_served_; // capacity reserved up front
  // Owned state: the call's tensors with the state tensors after them, the
  // buffers' locks for the call, and per state the scratch memory its output
  // is bound to when the engine does not alias it (null: aliased or not yet).
  DelegateStates* states_ = nullptr;
  std::vector<DeviceTensor> all_inputs_;
  std::vector<DeviceTensor> all_outputs_;
  std::vector<std::unique_lock<std::mutex>> state_locks_;
  std::vector<void*> state_scratch_;
  Engine* scratch_owner_ = nullptr;
};

} // namespace executorch_tensorrt
