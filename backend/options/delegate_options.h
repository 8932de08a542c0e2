#pragma once

// The policies a delegate runs under, from their three sources: compile specs
// baked into the .pte at export, backend options given at load time, and
// set_option() after load. Parsing is kept apart from applying so both can be
// tested with tables of cases.

#include <cstdint>
#include <optional>
#include <string>

#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/backend/options.h>
#include <executorch/runtime/core/array_ref.h>
#include <executorch/runtime/core/result.h>
#include <executorch/runtime/core/span.h>

#include "option_table.h"
#include "options/weight_streaming_budget.h"

namespace executorch_tensorrt {

using executorch::runtime::Error;
using executorch::runtime::Result;

// Every policy a delegate can be given; unset fields defer to a lower source.
struct DelegateOptions {
  std::optional<uint64_t> weight_streaming_budget;
  std::optional<InitPolicy> init_policy;
  std::optional<OutputBufferPolicy> output_buffers;
  std::optional<ExecutionMemoryScope> execution_memory;
  std::optional<HostStaging> host_staging;
  std::optional<bool> cuda_graphs;
  std::optional<uint32_t> execution_contexts; // fixed at load: not a set_option
};

// Fields of `higher` win over those of `lower`.
DelegateOptions merge_options(const DelegateOptions& higher, const DelegateOptions& lower);

// The policies a delegate runs under: resolved once from their sources
// (load-time options and set_option() > compile specs > the table's
// defaults) at init() and at every set_option(), then handed down to the
// executor and the engines, which keep no sources of their own.
struct PoliciesInForce {
  InitPolicy init_policy = kDefaultInitPolicy;
  OutputBufferPolicy output_buffers = kDefaultOutputBufferPolicy;
  ExecutionMemoryScope execution_memory = kDefaultExecutionMemoryScope;
  HostStaging host_staging = kDefaultHostStaging;
  bool cuda_graphs = false;
  // Execution contexts per engine: how many calls may run at once.
  uint32_t execution_contexts = static_cast<uint32_t>(kOptionExecutionContextsDefault);
  BudgetRequest budget; // the explicit budget and where it came from, if any
};

PoliciesInForce resolve_policies(const DelegateOptions& overrides, const DelegateOptions& baked);

// Compile specs baked by the exporter. Keys the exporter writes for its own
// record (engine_builder, device_index, ...) are accepted and ignored; an
// unknown key, a duplicated key or a malformed value is an error naming it.
Result<DelegateOptions> parse_compile_specs(
    executorch::runtime::ArrayRef<executorch::runtime::CompileSpec> specs);

// A request carried by backend options (load time or set_option()).
struct OptionRequest {
  DelegateOptions options;
  bool offload = false; // release device memory now (set_option only)
  std::optional<int64_t> program; // restrict set_option to one program tag
  std::optional<std::string> reset_state; // a state buffer's name or "all" (set_option only)
  std::string notes; // things reported and ignored (e.g. an empty budget)
};

// `where` is "load-time option" or "set_option" for messages. Unknown keys
// and malformed values are errors naming the key and the value.
Result<OptionRequest> parse_backend_options(
    executorch::runtime::Span<const executorch::runtime::BackendOption> options,
    const char* where);

} // namespace executorch_tensorrt
