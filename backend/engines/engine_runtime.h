#pragma once

// The seam between the delegate and whatever executes engines.
//
// Everything above this interface (blob parsing, compatibility decisions,
// argument checks, binding by name, output resizing) is plain C++ tested on a
// CPU-only machine through ExecuTorch's real runtime. Below it sit exactly two
// implementations: the TensorRT adapter (backend/tensorrt/, the only code that
// includes NvInfer headers or calls CUDA) and the test engine (tests/engine/).
// This header is installed with the package so out-of-tree runtimes (like the
// test engine) can register themselves.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <executorch/runtime/core/error.h>
#include <executorch/runtime/core/result.h>
#include <executorch/runtime/core/span.h>

#include "blob/engine_metadata.h"
#include "execute/caller_stream.h"

namespace executorch_tensorrt {

using executorch::runtime::Error;
using executorch::runtime::Result;
using executorch::runtime::Span;

// One engine I/O tensor bound for a call: `data` is device memory on the
// engine's device (a caller's device tensor bound zero-copy, or a staging
// buffer the delegate owns). `spec` is the blob's metadata entry it binds to
// (by name); `shape` is the actual shape of this call.
struct DeviceTensor {
  const TensorSpec* spec = nullptr;
  void* data = nullptr;
  size_t nbytes = 0;
  Shape shape;
};

// A dim that infer_output_shapes() reports for an output whose size is
// known only after the run: a data-dependent shape (nonzero's count;
// TensorRT's -1 that no optimization profile bounds).
inline constexpr int64_t kDataDependentDim = -1;

// What the last enqueue() produced for an output of data-dependent shape,
// known once enqueue() has returned (TensorRT reports it during enqueueV3,
// through IOutputAllocator's reallocateOutputAsync and notifyShape).
struct ProducedOutput {
  bool reported = false; // false: the engine said nothing for this output
  // false: only `bytes` is known (the engine asked for more memory than was
  // bound, was refused, and did not say the shape).
  bool shape_known = false;
  Shape shape;
  uint64_t bytes = 0; // bytes the engine needs for what it produced
};

// One weight of a weight-stripped engine, for refit(): `name` is the
// engine's name for it (TensorRT's refit name, the ONNX initializer's),
// `data` host memory of `nbytes` bytes (dtype and shape as the program
// recorded them), valid until refit() returns.
struct NamedWeights {
  std::string name;
  uint8_t dtype = 0; // ExecuTorch ScalarType code
  Shape shape;
  const void* data = nullptr;
  size_t nbytes = 0;
};

// Which builder and version an engine or a runtime belongs to.
struct EngineIdentity {
  Flavour flavour = Flavour::kTensorRT;
  std::string version; // "major.minor.patch[.build]"
};

// Who provides an execution context's device memory (activations, and the
// weight-streaming scratch when weights stream).
enum class ContextMemory : uint8_t {
  // The context allocates its own memory when it is created and holds it
  // until released (TensorRT's default strategy).
  kOwned,
  // The context holds none: bind_execution_memory() hands it memory before
  // each run (TensorRT's kUSER_MANAGED), so engines whose runs never overlap
  // can share one allocation (backend/memory/execution_memory_pool.h).
  kUserManaged,
};

// What a deserialized engine says about its own inputs and outputs, read from
// the engine (never from the blob). The delegate compares it with what the
// blob promises when the engine is deserialized and refuses a disagreement
// naming both sides (check_engine_matches_blob, engine_compatibility.h).
inline constexpr uint8_t kUnknownDtype = 255; // the engine's type has no ExecuTorch ScalarType
struct TensorDescription {
  std::string name;
  bool is_input = true;
  uint8_t dtype = kUnknownDtype; // ExecuTorch ScalarType code
  // The engine's shape, -1 for each dynamic dim; nullopt when the runtime
  // fixes no shape (the test engine's programs unless they declare one).
  std::optional<Shape> dims;
  // Inputs: min/opt/max of each optimization profile, in profile order;
  // empty when the runtime does not say.
  std::vector<ShapeRange> profiles;
};
struct EngineDescription {
  std::optional<uint32_t> num_profiles; // nullopt: the runtime has no profiles to report
  std::vector<TensorDescription> tensors; // every I/O tensor of the engine, in the engine's order
};

// One enqueue captured for replay (a CUDA graph): the same work on the same
// addresses, shapes and execution memory as the enqueue it was captured
// from. Destroyed before the engine it came from.
class CapturedEnqueue {
 public:
  virtual ~CapturedEnqueue() = default;
  // Enqueues the captured work on the engine's stream in use.
  virtual Error launch() = 0;
};

// A deserialized engine. Its lifecycle (driven by the delegate's
// DeferredEngine) is: deserialize -> set the weight-streaming budget (only
// when the engine can stream) -> create the execution context -> run ... ->
// release the context -> [change the budget, create it again] -> destroy.
class Engine {
 public:
  virtual ~Engine() = default;

  // --- Lifecycle -----------------------------------------------------------

  // Bytes of weights that can stream from host memory; 0 when the engine was
  // built without weight streaming (then no budget call may be made).
  virtual int64_t streamable_weights_bytes() const {
    return 0;
  }
  // The budget the runtime would pick by itself for this device.
  virtual int64_t automatic_weight_streaming_budget() const {
    return 0;
  }
  // Called only for streamable engines, only while no execution context
  // exists, with 0 <= bytes <= streamable_weights_bytes().
  virtual Error set_weight_streaming_budget(int64_t /*bytes*/) {
    return Error::NotSupported;
  }
  // Creates the execution context. Must be called before the first run; a
  // context that exists is kept. With kOwned it allocates its activation
  // memory now; with kUserManaged it allocates none and every run needs
  // bind_execution_memory() first.
  virtual Error create_execution_context(ContextMemory /*memory*/) {
    return Error::Ok;
  }
  // Bytes of device memory a user-managed context needs to run any profile
  // (TensorRT: getDeviceMemorySizeV2, which includes the weight-streaming
  // scratch). Depends on the budget, so read it after setting the budget.
  virtual int64_t execution_memory_bytes() const {
    return 0;
  }
  // Hands a user-managed context the memory for its next runs: `bytes` >=
  // execution_memory_bytes(), device memory on the engine's device, not used
  // by anything else until the run has finished (the caller guarantees it by
  // holding an ExecutionMemoryLease for the run; the pool orders the next
  // member's work after it, order_after()).
  virtual Error bind_execution_memory(void* /*memory*/, int64_t /*bytes*/) {
    return Error::NotSupported;
  }
  // Waits for work in flight, then frees the execution context.
  virtual void release_execution_context() {}
  virtual bool has_execution_context() const {
    return true;
  }
  // Device memory this engine holds now (weights and, for a kOwned context,
  // its memory), in bytes; memory bound with bind_execution_memory() is the
  // pool's, not the engine's.
  virtual int64_t device_bytes() const {
    return 0;
  }
  // A second Engine over this same deserialized engine, for calls that run
  // at once (option `execution_contexts`): the weights on the device are
  // shared, not copied; it has its own stream and no execution context yet
  // (create_execution_context() makes its own). The weight-streaming budget
  // belongs to the engine, so it is one value for every sharer: the delegate
  // sets it only while no sharer has a context. A sharer's device_bytes()
  // counts only its own context memory (the weights are the original's).
  // Sharers and the original may be destroyed in any order. NotSupported
  // (the default): the runtime runs one call per engine at a time.
  virtual Result<std::unique_ptr<Engine>> share_engine() {
    return Error::NotSupported;
  }
  // Gives an engine built without its weights (weight-stripped, refittable)
  // those weights: called after deserialize(), before any execution
  // context exists, with the delegate's external weights (every one, each
  // checked against the program's named data). A weight the engine does not
  // ask for is ignored (TensorRT keeps weights it folded into the plan); one
  // it asks for with another dtype or size is refused, and so is an engine
  // still missing weights afterwards, naming them. Returns when the weights
  // are in place (the caller frees `weights` next). NotSupported (the
  // default): this runtime cannot refit.
  virtual Error refit(Span<const NamedWeights> /*weights*/) {
    return Error::NotSupported;
  }
  // The engine as bytes deserialize() accepts, so it can be released from the
  // device and brought back later (offload) after the blob was freed. For a
  // refitted engine, deserializing them may need refit() again.
  virtual Result<std::vector<uint8_t>> serialize() const {
    return Error::NotSupported;
  }

  // What the engine itself has: its I/O tensors and optimization profiles
  // (TensorRT: getNbIOTensors, getIOTensorName, getTensorIOMode,
  // getTensorDataType, getTensorShape, getNbOptimizationProfiles,
  // getProfileShape). Called after each deserialize(); an engine runtime
  // that does not override it cannot load engines (the delegate refuses to
  // run what it cannot check). Stand-ins that drive an executor directly
  // need not.
  virtual Result<EngineDescription> describe() const {
    return Error::NotSupported;
  }

  // --- Execution -------------------------------------------------------------

  // Selects optimization profile `profile` (every input shape lies in its
  // ranges, checked by the caller) and returns the shapes of the outputs
  // (metadata order) for the given input shapes (metadata order). The caller
  // refuses shapes outside the blob's output ranges for that profile.
  // A dim known only after the run is kDataDependentDim: the caller then
  // binds that output with the bytes of the blob's upper bound for it (its
  // planned capacity), and after enqueue() reads produced_output().
  virtual Error infer_output_shapes(
      uint32_t profile,
      Span<const Shape> input_shapes,
      Span<Shape> output_shapes) = 0;

  // For an output infer_output_shapes() gave a kDataDependentDim: what the
  // last enqueue() produced. The engine never writes more than the bound
  // DeviceTensor's nbytes: when it needs more, it writes nothing there,
  // fails enqueue() and reports the bytes it needed (and the shape, when it
  // knows it), so the caller can say what the program must plan for.
  virtual ProducedOutput produced_output(size_t /*output_index*/) const {
    return ProducedOutput{};
  }

  // --- Execution (the execute path; backend/execute/delegate_executor.cpp) ---
  //
  // All work below is ordered on the engine's stream in use: its own, or the
  // caller's (use_stream). ExecuTorch 1.5.1 hands a backend no stream (its
  // BackendExecutionContext carries an event tracer, a temp allocator and
  // the method name), so the caller's comes from CallerStreamGuard.

  // The stream for this call's work: the caller's when `stream.given`, else
  // the engine's own. Work this engine enqueued earlier on another stream is
  // ordered before what follows (an event, no host wait). A stream of
  // another device is refused. Engines that run on the host ignore it.
  virtual Error use_stream(const CallerStream& /*stream*/) {
    return Error::Ok;
  }
  // An opaque cudaEvent_t recorded after the last work this engine
  // enqueued (null for engines without streams); waited on by order_after().
  virtual void* last_work_event() const {
    return nullptr;
  }
  // Orders this engine's next work after all work `earlier` (an engine of
  // the same runtime and device) has enqueued so far, on the GPU
  // (earlier.last_work_event()): how a shared execution-memory pool hands
  // its memory from one member to the next without a host wait.
  virtual Error order_after(const Engine& /*earlier*/) {
    return Error::Ok;
  }

  // Host memory for staging that copies can read and write asynchronously
  // (pinned); freed through free_host(). NotSupported: stage from the
  // tensors' own memory.
  virtual Result<void*> allocate_host(size_t /*nbytes*/) {
    return Error::NotSupported;
  }
  virtual void free_host(void* /*pointer*/) {}

  // Captures the enqueue these bindings would make (with the profile, input
  // shapes and execution memory in force now) for replay; nothing runs until
  // launch(). Call only after an enqueue with the same bindings ran (the
  // first run after a shape change may set up state capture cannot hold).
  // NotSupported (with a reported reason) where the engine cannot be
  // captured, e.g. while its weights stream or when an output has a
  // data-dependent shape (a replay could not report it).
  virtual Result<std::unique_ptr<CapturedEnqueue>> capture_enqueue(
      Span<const DeviceTensor> /*inputs*/,
      Span<const DeviceTensor> /*outputs*/) {
    return Error::NotSupported;
  }
  // Changes whenever the execution context is created anew (offload, a new
  // budget or execution-memory scope): captures of an older context are
  // stale and must not be launched.
  virtual uint64_t context_generation() const {
    return 0;
  }

  // Device memory on the engine's device, for staging buffers and execution
  // memory pools the delegate owns. A buffer is freed through the engine that
  // allocated it, before that engine is destroyed.
  virtual Result<void*> allocate_device(size_t nbytes) = 0;
  virtual void free_device(void* pointer) = 0;

  // Enqueue copies on the stream in use; `host` must stay valid until
  // synchronize() returns.
  virtual Error copy_to_device(void* device, const void* host, size_t nbytes) = 0;
  virtual Error copy_to_host(void* host, const void* device, size_t nbytes) = 0;

  // Enqueues one inference on the stream in use with the profile and input
  // shapes last given to infer_output_shapes(). Every tensor is device
  // memory; outputs are sized to infer_output_shapes() (a data-dependent
  // one to its upper bound, see produced_output()). Fails clearly when
  // the engine has no execution context.
  virtual Error enqueue(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) = 0;

  // Waits until all work enqueued on the stream in use has finished.
  virtual Error synchronize() = 0;

  // --- State the delegate owns (backend/state/delegate_state.h) -------------

  // True when the engine's output `output` shares the memory of its input
  // `input` (TensorRT: getAliasedInputTensor(output) names `input`): the
  // delegate then binds both to the same address and the engine updates it
  // in place. False (the default): distinct memory.
  virtual bool output_aliases_input(const std::string& /*output*/, const std::string& /*input*/) const {
    return false;
  }
  // Enqueues a device-to-device copy on the stream in use (cudaMemcpyAsync
  // D2D): how a state output bound to scratch memory updates the state.
  virtual Error copy_device_to_device(void* /*destination*/, const void* /*source*/, size_t /*nbytes*/) {
    return Error::NotSupported;
  }
};

// Turns engine bytes into engines. One instance per flavour, process-wide.
class EngineRuntime {
 public:
  virtual ~EngineRuntime() = default;

  // The builder flavour and version whose engines this runtime executes.
  virtual EngineIdentity identity() const = 0;

  // Human-readable name for messages, e.g. "TensorRT 11.1.0 (lean runtime)".
  virtual std::string description() const = 0;

  // Checks that `device_index` names a usable device. Called before any other
  // work for a delegate, so a machine without a GPU gets that message first.
  virtual Error check_device(int32_t device_index) = 0;

  // Device memory that outlives every engine (the state a delegate owns,
  // kept across offload and shared by a program's methods); freed through
  // free_persistent(). NotSupported: this runtime cannot hold state.
  virtual Result<void*> allocate_persistent(int32_t /*device_index*/, size_t /*nbytes*/) {
    return Error::NotSupported;
  }
  virtual void free_persistent(int32_t /*device_index*/, void* /*pointer*/) {}
  // Waits for the device's work, then copies `nbytes` of persistent device
  // memory to `host` (reading state back; never on the execute path).
  virtual Error read_persistent(int32_t /*device_index*/, void* /*host*/, const void* /*device*/, size_t /*nbytes*/) {
    return Error::NotSupported;
  }

  // Deserializes `engine` (the blob's engine bytes, valid for this call only).
  virtual Result<std::unique_ptr<Engine>> deserialize(
      const uint8_t* engine,
      size_t engine_size,
      const EngineMetadata& metadata) = 0;
};

} // namespace executorch_tensorrt
