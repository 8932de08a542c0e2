#include "engines/delegate_init.h"

#include <memory>
#include <new>

#include <executorch/runtime/platform/log.h>

#include "blob/delegate_blob.h"
#include "control/delegate_registry.h"
#include "engines/delegate_sharing.h"
#include "engines/external_weights.h"
#include "engines/named_data.h"
#include "common/error_report.h"
#include "control/program_tag.h"
#include "state/delegate_state.h"

namespace executorch_tensorrt {

using executorch::runtime::ArrayRef;
using executorch::runtime::BackendInitContext;
using executorch::runtime::CompileSpec;
using executorch::runtime::FreeableBuffer;

namespace {

Result<DelegateOptions> load_time_options(BackendInitContext& context) {
  Result<OptionRequest> request = parse_backend_options(context.runtime_specs(), "load-time option");
  if (!request.ok()) {
    return request.error();
  }
  if (request->offload || request->program.has_value() || request->reset_state.has_value()) {
    return report_error(
        Error::InvalidArgument,
        "load-time option '%s' is only meaningful for set_option() on a loaded program",
        request->offload ? kOptionOffload : request->program.has_value() ? kOptionProgram : kOptionResetState);
  }
  if (!request->notes.empty()) {
    ET_LOG(Info, "ExecutorchTensorRTBackend: %s", request->notes.c_str());
  }
  return request->options;
}

Error initialize_now(LoadedDelegate& delegate) {
  switch (delegate.policies.init_policy) {
    case InitPolicy::kEager:
      return delegate.engines.acquire_all();
    case InitPolicy::kDeferredContext:
      return delegate.engines.deserialize_all();
    case InitPolicy::kDeferred:
      return Error::Ok;
  }
  return Error::Ok;
}

// Which program the delegate belongs to, for the `program` scope of shared
// execution memory and for engines shared across its methods: the program
// tag where the host set one (Python loader, runner), else the program's
// named data map (ExecuTorch gives init() no program identity; every method
// of a program without external data sees the program's one map), else the
// method's runtime allocator (delegates of one method share it); the last
// two marked with the top bit so they cannot equal a tag.
uint64_t pool_owner(BackendInitContext& context) {
  const int64_t tag = current_program_tag();
  if (tag != 0) {
    return static_cast<uint64_t>(tag);
  }
  const void* map = context.get_named_data_map();
  const void* owner = map != nullptr ? map : static_cast<const void*>(context.get_runtime_allocator());
  return reinterpret_cast<uintptr_t>(owner) | (uint64_t{1} << 63);
}

// The buffers the delegate owns, shared with the program's other delegates
// owning them (keyed like shared execution memory: the program tag, else
// the method's allocator), handed to every lane's executor. Lanes would run
// at once on the one buffer, so a delegate with state has one.
Error attach_states(BackendInitContext& context, const DelegateBlob& blob, LoadedDelegate& delegate) {
  if (blob.states.empty()) {
    return Error::Ok;
  }
  if (delegate.lanes.size() > 1) {
    return report_error(
        Error::InvalidArgument,
        "the delegate owns state buffer '%s' (updated in place by every call), so its calls cannot run at once: "
        "load the program with %s=1",
        blob.states[0].name.c_str(), kOptionExecutionContexts);
  }
  const EngineMetadata& io = delegate.metadata.io;
  Result<std::unique_ptr<DelegateStates>> states = DelegateStates::create(
      pool_owner(context), blob.states, context.get_named_data_map(), io.flavour, io.device_index);
  if (!states.ok()) {
    return states.error();
  }
  delegate.states = std::move(*states);
  for (auto& lane : delegate.lanes) {
    lane->executor.set_states(delegate.states.get());
  }
  return Error::Ok;
}

} // namespace

Result<LoadedDelegate*> create_delegate(
    BackendInitContext& context,
    FreeableBuffer* processed,
    ArrayRef<CompileSpec> compile_specs) {
  if (processed == nullptr) {
    return report_error(Error::InvalidArgument, "init() received no delegate blob");
  }
  Result<DelegateBlob> blob = parse_delegate_blob(processed->data(), processed->size());
  if (!blob.ok()) {
    return blob.error();
  }
  Result<DelegateOptions> baked = parse_compile_specs(compile_specs);
  if (!baked.ok()) {
    return baked.error();
  }
  Result<DelegateOptions> load = load_time_options(context);
  if (!load.ok()) {
    return load.error();
  }
  // Another instance of this method (execution_contexts > 1) may have
  // loaded the same delegate: join it, sharing its engines and lanes.
  std::optional<DelegateShareKey> share_key;
  if (resolve_policies(*load, *baked).execution_contexts > 1) {
    share_key = DelegateShareKey{
        current_program_tag(), delegate_fingerprint(*blob, processed->data(), processed->size()), processed->size(),
        options_identity(*load)};
    if (LoadedDelegate* shared = join_shared_delegate(*share_key)) {
      processed->Free();
      return shared;
    }
  }
  // The weights of weight-stripped engines, from the program's named data
  // (the .ptd): refused now, at load, when missing or mismatched.
  std::shared_ptr<const ExternalWeights> weights;
  if (!blob->external_weights.empty()) {
    Result<std::shared_ptr<const ExternalWeights>> loaded =
        ExternalWeights::load(context.get_named_data_map(), blob->external_weights);
    if (!loaded.ok()) {
      return loaded.error();
    }
    weights = std::move(*loaded);
  }
  // The engine bytes stay in ExecuTorch's buffer (moved, not copied) until
  // the last engine in it is deserialized.
  auto buffer = std::make_shared<FreeableBuffer>(std::move(*processed));
  Result<std::vector<HostEngineBytes>> bytes = engine_bytes_of(*blob, buffer, context.get_named_data_map());
  if (!bytes.ok()) {
    return bytes.error();
  }
  buffer.reset();
  std::unique_ptr<LoadedDelegate> delegate(new (std::nothrow) LoadedDelegate(
      combine_engines(*blob),
      *baked,
      *load,
      std::move(*bytes),
      current_program_tag(),
      pool_owner(context),
      std::move(weights)));
  if (!delegate) {
    return report_error(Error::MemoryAllocationFailed, "out of host memory creating the delegate");
  }
  Error err = attach_states(context, *blob, *delegate);
  if (err != Error::Ok) {
    return err;
  }
  {
    AllLanesLock lock(delegate->lanes);
    err = initialize_now(*delegate);
    if (err != Error::Ok) {
      return err;
    }
  }
  ET_LOG(
      Debug,
      "ExecutorchTensorRTBackend: delegate ready (%zu engine(s), init_policy=%s, execution_memory=%s, program=%lld)",
      delegate->engines.size(),
      init_policy_name(delegate->policies.init_policy),
      execution_memory_scope_name(delegate->policies.execution_memory),
      static_cast<long long>(delegate->program_tag));
  register_live_delegate(delegate.get());
  if (share_key.has_value()) {
    offer_shared_delegate(*share_key, delegate.get());
  }
  return delegate.release();
}

} // namespace executorch_tensorrt
