// libFuzzer target: parse_delegate_blob on arbitrary bytes. Beyond "no crash
// under ASan/UBSan", a blob the parser accepts must satisfy the format's
// rules (docs/blob_format.md); a violation aborts, which libFuzzer reports.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <blob/delegate_blob.h>

using namespace executorch_tensorrt;

namespace {

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

void check_tensor(const TensorSpec& spec, uint32_t num_profiles) {
  require(!spec.name.empty() && spec.name.size() <= 1024);
  require(dtype_name(spec.dtype) != nullptr);
  require(spec.ranges.size() == num_profiles);
  for (const ShapeRange& range : spec.ranges) {
    require(range.min.rank == range.max.rank && range.opt.rank == range.max.rank);
    require(range.min.rank <= kMaxRank);
    for (uint8_t i = 0; i < range.min.rank; ++i) {
      require(0 <= range.min.dims[i] && range.min.dims[i] <= range.opt.dims[i] &&
              range.opt.dims[i] <= range.max.dims[i]);
    }
    uint64_t elements = 0, bytes = 0; // every accepted shape is countable in bytes
    require(checked_shape_bytes(range.max, spec.dtype, &elements, &bytes));
  }
}

void check_engine(const EngineBlob& engine, const std::vector<uint8_t>& bytes, const std::vector<StateSpec>& states) {
  const EngineMetadata& meta = engine.metadata;
  require(engine.engine_size > 0);
  if (!engine.named_key.empty()) {
    // Kept in the program's named data (section `named_engines`): no bytes in the blob.
    require(engine.engine == nullptr && engine.named_key.size() <= kMaxNamedEngineKeyBytes);
  } else {
    require(engine.engine >= bytes.data() && engine.engine + engine.engine_size <= bytes.data() + bytes.size());
  }
  require(engine.execution_memory_hint >= -1 && engine.weight_bytes >= -1);
  require(is_known_flavour(static_cast<uint8_t>(meta.flavour)));
  require(meta.device_index >= 0);
  require(!meta.builder_version.empty() && meta.builder_version.size() <= 64);
  require(meta.num_profiles >= 1 && meta.num_profiles <= 64);
  require(meta.inputs.size() <= 1024 && !meta.outputs.empty() && meta.outputs.size() <= 1024);
  for (const TensorSpec& spec : meta.inputs) {
    check_tensor(spec, meta.num_profiles);
  }
  for (const TensorSpec& spec : meta.outputs) {
    check_tensor(spec, meta.num_profiles);
  }
  // Section `state`: every engine reads each state and writes each one that is
  // not read only (a weight read from named data).
  size_t written = 0;
  for (const StateSpec& state : states) {
    require(!state.read_only || state.initial == StateInitialValue::kNamedData);
    written += state.read_only ? 0 : 1;
  }
  require(meta.state_inputs.size() == states.size() && meta.state_outputs.size() == written);
  for (const TensorSpec& spec : meta.state_inputs) {
    check_tensor(spec, meta.num_profiles);
  }
  for (const TensorSpec& spec : meta.state_outputs) {
    check_tensor(spec, meta.num_profiles);
  }
  // Touch every engine byte: a pointer past the buffer shows up here.
  volatile uint8_t sum = 0;
  for (size_t i = 0; engine.engine != nullptr && i < engine.engine_size; ++i) {
    sum = sum + engine.engine[i];
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so ASan sees any read past the end.
  std::vector<uint8_t> bytes(data, data + size);
  Result<DelegateBlob> blob = parse_delegate_blob(bytes.data(), bytes.size());
  if (!blob.ok()) {
    return 0;
  }
  require(!blob->engines.empty() && blob->engines.size() <= kMaxEnginesPerDelegate);
  for (const EngineBlob& engine : blob->engines) {
    check_engine(engine, bytes, blob->states);
    // The engines of one delegate share one signature.
    require(engine.metadata.inputs.size() == blob->engines[0].metadata.inputs.size());
    require(engine.metadata.outputs.size() == blob->engines[0].metadata.outputs.size());
  }
  return 0;
}
