#include "execute/cuda_graph_cache.h"

#include <executorch/runtime/platform/log.h>

#include "common/error_report.h"

namespace executorch_tensorrt {

bool GraphKey::operator==(const GraphKey& other) const {
  return engine == other.engine && generation == other.generation && profile == other.profile &&
      execution_memory == other.execution_memory && shapes == other.shapes && addresses == other.addresses;
}

GraphStep choose_graph_step(bool cached, bool warm, bool refused) {
  if (cached) {
    return GraphStep::kReplay;
  }
  return warm && !refused ? GraphStep::kCapture : GraphStep::kEnqueue;
}

CudaGraphCache::CudaGraphCache(size_t num_inputs, size_t num_outputs) {
  current_.shapes.resize(num_inputs);
  current_.addresses.resize(num_inputs + num_outputs);
  previous_ = current_;
  entries_.reserve(kMaxCudaGraphs);
}

void CudaGraphCache::set_enabled(bool enabled) {
  if (!enabled) {
    clear();
  }
  enabled_ = enabled;
}

void CudaGraphCache::clear() {
  entries_.clear();
  previous_valid_ = false;
  refused_engine_ = nullptr;
  graphless_calls_ = 0;
}

std::string CudaGraphCache::status() const {
  if (!enabled_) {
    return "off";
  }
  return reason_.empty() ? std::string("ok") : reason_;
}

void CudaGraphCache::note_reason(std::string reason) {
  if (reason_.empty()) {
    ET_LOG(Info, "ExecutorchTensorRTBackend: cuda_graphs: %s", reason.c_str());
    reason_ = std::move(reason);
  }
}

void CudaGraphCache::fill_key(const Engine& engine, uint32_t profile, const void* execution_memory,
                              Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) {
  current_.engine = &engine;
  current_.generation = engine.context_generation();
  current_.profile = profile;
  current_.execution_memory = execution_memory;
  for (size_t i = 0; i < inputs.size(); ++i) {
    current_.shapes[i] = inputs[i].shape;
    current_.addresses[i] = inputs[i].data;
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    current_.addresses[inputs.size() + i] = outputs[i].data;
  }
}

CudaGraphCache::Entry* CudaGraphCache::find() {
  for (Entry& entry : entries_) {
    if (entry.key == current_) {
      return &entry;
    }
  }
  return nullptr;
}

Error CudaGraphCache::capture_and_launch(
    Engine& engine, Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs, ExecuteCounters& counters) {
  Result<std::unique_ptr<CapturedEnqueue>> graph = engine.capture_enqueue(inputs, outputs);
  if (!graph.ok()) {
    // This context will not be captured (e.g. its weights stream): run it
    // plainly from now on, until a new context.
    refused_engine_ = &engine;
    refused_generation_ = current_.generation;
    note_reason(std::string("the engine cannot be captured: ") + last_error_message());
    return engine.enqueue(inputs, outputs);
  }
  ++counters.graph_captures;
  if (entries_.size() == kMaxCudaGraphs) {
    size_t oldest = 0;
    for (size_t i = 1; i < entries_.size(); ++i) {
      oldest = entries_[i].last_used < entries_[oldest].last_used ? i : oldest;
    }
    entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(oldest));
  }
  entries_.push_back(Entry{current_, std::move(*graph), ++clock_});
  ++counters.graph_replays;
  return entries_.back().graph->launch();
}

Error CudaGraphCache::run(
    Engine& engine,
    uint32_t profile,
    const void* execution_memory,
    Span<const DeviceTensor> inputs,
    Span<const DeviceTensor> outputs,
    ExecuteCounters& counters) {
  if (!enabled_) {
    return engine.enqueue(inputs, outputs);
  }
  fill_key(engine, profile, execution_memory, inputs, outputs);
  // Graphs of a context that is gone must never launch.
  for (size_t i = 0; i < entries_.size();) {
    const GraphKey& key = entries_[i].key;
    const bool stale = key.engine == &engine && key.generation != current_.generation;
    if (stale) {
      entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  Entry* cached = find();
  const bool warm = previous_valid_ && previous_ == current_;
  const bool refused = refused_engine_ == &engine && refused_generation_ == current_.generation;
  Error err = Error::Ok;
  switch (choose_graph_step(cached != nullptr, warm, refused)) {
    case GraphStep::kReplay:
      cached->last_used = ++clock_;
      ++counters.graph_replays;
      err = cached->graph->launch();
      graphless_calls_ = 0;
      break;
    case GraphStep::kCapture:
      err = capture_and_launch(engine, inputs, outputs, counters);
      graphless_calls_ = 0;
      break;
    case GraphStep::kEnqueue:
      err = engine.enqueue(inputs, outputs);
      if (!refused && ++graphless_calls_ == kGraphlessCallsReported) {
        note_reason(
            "the bindings (input shapes or tensor addresses) changed at each of " +
            std::to_string(kGraphlessCallsReported) +
            " calls in a row, so no graph was replayed; keep inputs and outputs at fixed addresses "
            "(output_buffers=reuse; in Python, reuse_outputs=True and the same input tensors)");
      }
      break;
  }
  // Copy-assigning vectors of the same size reuses their storage: no
  // allocation per call.
  previous_ = current_;
  previous_valid_ = true;
  return err;
}

} // namespace executorch_tensorrt
