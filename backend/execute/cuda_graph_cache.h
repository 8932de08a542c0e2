#pragma once

// CUDA graphs for one execution context (policy `cuda_graphs`).
//
// Launching an engine's kernels one by one costs host time per kernel; a
// captured graph launches them all at once. A graph replays exactly the work
// it was captured from, so it is keyed by everything that work depends on:
// the engine and its context generation, the profile, the input shapes and
// every bound address (inputs, outputs, execution memory). A call whose key
// matches a graph replays it; the SECOND call with a new key captures one
// (the first runs plainly: TensorRT's first enqueue after a shape change may
// set up state that a capture cannot hold); the least recently used graph
// makes room when kMaxCudaGraphs are held. A call that cannot be captured
// runs plainly, and the reason is reported once.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engines/engine_runtime.h"
#include "execute/execute_counters.h"

namespace executorch_tensorrt {

inline constexpr size_t kMaxCudaGraphs = 8; // per execution context
// Calls in a row that neither replay nor capture before that is reported.
inline constexpr uint32_t kGraphlessCallsReported = 8;

// What a captured enqueue depends on.
struct GraphKey {
  const Engine* engine = nullptr;
  uint64_t generation = 0;
  uint32_t profile = 0;
  const void* execution_memory = nullptr;
  std::vector<Shape> shapes; // inputs
  std::vector<const void*> addresses; // inputs then outputs
  bool operator==(const GraphKey& other) const;
};

enum class GraphStep : uint8_t { kEnqueue, kCapture, kReplay };

// With graphs on, what a call does. Pure, for tables of cases: `cached` a
// graph for the key exists, `warm` the previous call had the same key,
// `refused` the engine refused to capture this context.
GraphStep choose_graph_step(bool cached, bool warm, bool refused);

class CudaGraphCache {
 public:
  CudaGraphCache(size_t num_inputs, size_t num_outputs);

  // Off drops every graph; applies from the next call.
  void set_enabled(bool enabled);
  bool enabled() const {
    return enabled_;
  }

  // One enqueue of `engine` with these bindings: a replay, a capture then
  // its launch, or a plain enqueue (graphs off, not warm, or refused).
  Error run(
      Engine& engine,
      uint32_t profile,
      const void* execution_memory,
      Span<const DeviceTensor> inputs,
      Span<const DeviceTensor> outputs,
      ExecuteCounters& counters);

  // Drops every graph (before the context they were captured from goes).
  void clear();

  // "off", "ok", or why calls run without a graph (the first reason seen).
  std::string status() const;

 private:
  struct Entry {
    GraphKey key;
    std::unique_ptr<CapturedEnqueue> graph;
    uint64_t last_used = 0;
  };
  void fill_key(const Engine& engine, uint32_t profile, const void* execution_memory,
                Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs);
  Entry* find();
  Error capture_and_launch(Engine& engine, Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs,
                           ExecuteCounters& counters);
  void note_reason(std::string reason);

  bool enabled_ = false;
  GraphKey current_; // this call's key, sized once: no allocation per call
  GraphKey previous_; // the last call's key, for warm-up
  bool previous_valid_ = false;
  std::vector<Entry> entries_;
  uint64_t clock_ = 0;
  uint64_t refused_generation_ = 0;
  const Engine* refused_engine_ = nullptr; // with refused_generation_: the context that refused
  uint32_t graphless_calls_ = 0;
  std::string reason_;
};

} // namespace executorch_tensorrt
