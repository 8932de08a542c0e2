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

namespace executorch_tensorrt {

using executorch::runtime::Error;
using executorch::runtime::Result;

// Option and compile-spec keys (docs/options.md).
inline constexpr const char* kOptionWeightStreamingBudget = "weight_streaming_budget";
inline constexpr const char* kOptionInitPolicy = "init_policy";
inline constexpr const char* kOptionOutputBuffers = "output_buffers";
inline constexpr const char* kOptionExecutionMemory = "execution_memory";
inline constexpr const char* kOptionOffload = "offload";
inline constexpr const char* kOptionProgram = "program";

// When the engine is deserialized and its execution context created.
enum class InitPolicy : uint8_t {
  kEager, // both in init()
  kDeferred, // both at the first execute(); init() keeps the engine bytes
  kDeferredContext, // deserialize in init(), context at the first execute()
};

// How execute() gets device memory for host-side inputs and outputs.
enum class OutputBufferPolicy : uint8_t {
  kReuse, // allocate once, grow when needed, reuse across calls
  kFresh, // allocate per call (debugging and comparison)
  kReuseProfileMax, // reuse, sized at the first call for every profile's maximum: never grows
};

// Which engines share execution-context memory (backend/execution_memory_pool.h).
enum class ExecutionMemoryScope : uint8_t {
  kPrivate, // no sharing: each context owns its memory (TensorRT's default)
  kProgram, // one pool per program and device (the default)
  kProcess, // one pool per device for every program that asks for it
};

const char* init_policy_name(InitPolicy policy);
std::optional<InitPolicy> parse_init_policy(const char* text, size_t size);
const char* output_buffer_policy_name(OutputBufferPolicy policy);
std::optional<OutputBufferPolicy> parse_output_buffer_policy(const char* text, size_t size);
const char* execution_memory_scope_name(ExecutionMemoryScope scope);
std::optional<ExecutionMemoryScope> parse_execution_memory_scope(const char* text, size_t size);

// Every policy a delegate can be given; unset fields defer to a lower source.
struct DelegateOptions {
  std::optional<uint64_t> weight_streaming_budget;
  std::optional<InitPolicy> init_policy;
  std::optional<OutputBufferPolicy> output_buffers;
  std::optional<ExecutionMemoryScope> execution_memory;
};

// Fields of `higher` win over those of `lower`.
DelegateOptions merge_options(const DelegateOptions& higher, const DelegateOptions& lower);

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
  std::string notes; // things reported and ignored (e.g. an empty budget)
};

// `where` is "load-time option" or "set_option" for messages. Unknown keys
// and malformed values are errors naming the key and the value.
Result<OptionRequest> parse_backend_options(
    executorch::runtime::Span<const executorch::runtime::BackendOption> options,
    const char* where);

} // namespace executorch_tensorrt
