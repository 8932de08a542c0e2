#pragma once

// The delegates alive in this process, so backend-wide set_option() and
// get_option() (ExecuTorch passes them no handle) can reach them, restricted
// to one program by its tag (program_tag.h).

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "execute/execute_counters.h"
#include "memory/execution_memory_pool.h"
#include "engines/loaded_delegate.h"

namespace executorch_tensorrt {

void register_live_delegate(LoadedDelegate* delegate);
void unregister_live_delegate(LoadedDelegate* delegate);

// Calls `visit` for each live delegate of program `tag` (every program when
// nullopt), in load order, holding the registry lock so none is destroyed
// meanwhile. Returns the number visited.
size_t for_each_live_delegate(std::optional<int64_t> tag, const std::function<void(LoadedDelegate&)>& visit);

// One engine of a delegate.
struct EngineReport {
  std::string state; // host | deserialized | device
  int64_t device_bytes = 0; // held by the engine (weights, owned context memory)
  // Its execution-context memory need: from the engine once it exists, else
  // the exporter's measure (-1: not known yet).
  int64_t execution_memory_bytes = -1;
  std::string input_ranges; // its profiles' ranges, e.g. "x [1, 4]..[8, 4]"
};

// One delegate's state, for get_option(), Python and the runner's --verbose.
struct DelegateReport {
  int64_t program_tag = 0;
  std::string state; // the most advanced of its engines: host | deserialized | device
  int64_t device_bytes = 0; // summed over its engines (a shared pool is reported apart)
  int64_t host_bytes = 0;
  std::string init_policy;
  std::string output_buffers;
  std::string host_staging;
  bool cuda_graphs = false;
  std::string cuda_graph_status; // off | ok | why calls run without a graph
  int64_t budget_bytes = 0; // valid when the source is not "not_streamable"
  std::string budget_source; // load_option | compile_spec | automatic | not_streamable | unresolved
  double last_init_ms = 0.0;
  uint32_t initializations = 0;
  ExecuteCounters counters; // the execute path's allocations and copies
  int64_t state_bytes = 0; // device bytes of its state buffers and input weights (shared ones counted by each owner)
  std::string execution_memory; // private | program | process
  int64_t execution_memory_bytes = -1; // the largest need of its engines (-1: none known)
  std::optional<ExecutionMemoryPoolReport> pool; // when drawing on a shared pool
  std::vector<EngineReport> engines;
  std::vector<DelegateExecutor::BatchServed> batches_served;
  uint32_t execution_contexts = 1; // lanes: calls that may run at once
  uint32_t contexts_in_use = 0; // calls running when the report began
  uint32_t contexts_in_use_peak = 0; // the most at once since load
  uint32_t contexts_created = 0; // execution contexts that exist, over engines and lanes
  // External weights its engines were refitted with (every engine of the
  // delegate takes the same list; the most any engine took).
  uint32_t refitted_weights = 0;
  uint64_t refitted_weight_bytes = 0;
  uint32_t engines_shared = 0; // engines running on another delegate's deserialized engine
  std::vector<ExecutionMemoryPoolReport> lane_pools; // each lane's shared pool (empty under private)
};

DelegateReport report_delegate(LoadedDelegate& delegate);
std::vector<DelegateReport> delegate_reports(std::optional<int64_t> tag);

} // namespace executorch_tensorrt
