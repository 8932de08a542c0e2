#include "blob/state_section.h"

#include <set>
#include <string>

#include "blob/byte_reader.h"
#include "common/error_report.h"

namespace executorch_tensorrt {
namespace {

Error bad_state(const char* why, const std::string& name) {
  return report_error(
      Error::InvalidProgram,
      "malformed delegate blob: state section: %s%s%s; re-export the model",
      why,
      name.empty() ? "" : " for buffer ",
      name.c_str());
}

struct StateEntry {
  StateSpec spec;
  std::string input;
  std::string output;
};

Error read_entry(ByteReader& reader, StateEntry* entry) {
  StateSpec& spec = entry->spec;
  Error err = read_string(reader, kMaxNameBytes, "state name", &spec.name);
  if (err == Error::Ok) {
    err = read_string(reader, kMaxNameBytes, "state input", &entry->input);
  }
  if (err == Error::Ok) {
    // Empty: a weight the engine only reads.
    err = read_string(reader, kMaxNameBytes, "state output", &entry->output, /*allow_empty=*/true);
  }
  if (err != Error::Ok) {
    return err;
  }
  uint8_t initial = 0, reserved = 0;
  if (!reader.read(&spec.dtype) || !reader.read(&spec.shape.rank) || !reader.read(&initial) || !reader.read(&reserved)) {
    return bad_state("truncated dtype and rank", spec.name);
  }
  if (dtype_name(spec.dtype) == nullptr || spec.shape.rank > kMaxRank) {
    return bad_state("unknown dtype code or rank above 16", spec.name);
  }
  for (uint8_t d = 0; d < spec.shape.rank; ++d) {
    if (!reader.read(&spec.shape.dims[d])) {
      return bad_state("truncated shape", spec.name);
    }
  }
  uint64_t elements = 0;
  if (!checked_shape_bytes(spec.shape, spec.dtype, &elements, &spec.nbytes)) {
    return bad_state("a negative dim or more bytes than a 64-bit size can count", spec.name);
  }
  if (initial > static_cast<uint8_t>(StateInitialValue::kNamedData)) {
    return bad_state("unknown initial-value kind", spec.name);
  }
  spec.initial = static_cast<StateInitialValue>(initial);
  spec.read_only = entry->output.empty();
  if (spec.read_only && spec.initial != StateInitialValue::kNamedData) {
    return bad_state("a read-only weight without its value in named data", spec.name);
  }
  if (spec.initial == StateInitialValue::kNamedData) {
    return read_string(reader, kMaxNameBytes, "state initial-value key", &spec.initial_key);
  }
  return Error::Ok;
}

TensorSpec state_tensor(const std::string& name, const StateSpec& spec, uint32_t num_profiles) {
  TensorSpec tensor{name, spec.dtype, {}};
  tensor.ranges.assign(num_profiles, ShapeRange{spec.shape, spec.shape, spec.shape});
  return tensor;
}

} // namespace

Error read_state_section(DelegateBlob& blob) {
  const BlobSection* section = blob.section(BlobSectionKind::kState);
  if (section == nullptr) {
    return Error::Ok;
  }
  ByteReader reader(section->payload, section->size);
  uint32_t count = 0, reserved = 0;
  if (!reader.read(&count) || !reader.read(&reserved)) {
    return bad_state("truncated count", "");
  }
  // An entry takes at least 18 bytes (three lengths, one name byte each
  // for two of them, four bytes of dtype/rank/kind): a small payload cannot
  // make the reader size thousands of entries.
  constexpr uint64_t kMinEntryBytes = 18;
  if (count == 0 || count > kMaxStatesPerDelegate || uint64_t{count} * kMinEntryBytes > reader.remaining()) {
    return bad_state("the buffer count is outside 1..65536 or more than the section holds", "");
  }
  const EngineMetadata& signature = blob.engines[0].metadata;
  std::set<std::string> names;
  for (const auto* list : {&signature.inputs, &signature.outputs}) {
    for (const TensorSpec& spec : *list) {
      names.insert(spec.name);
    }
  }
  std::set<std::string> buffers;
  std::vector<StateEntry> entries(count);
  for (StateEntry& entry : entries) {
    Error err = read_entry(reader, &entry);
    if (err != Error::Ok) {
      return err;
    }
    if (!buffers.insert(entry.spec.name).second) {
      return bad_state("a buffer named twice", entry.spec.name);
    }
    if (entry.input == entry.output || !names.insert(entry.input).second ||
        (!entry.spec.read_only && !names.insert(entry.output).second)) {
      return bad_state("an engine tensor name used twice (by another state or a delegate argument)", entry.spec.name);
    }
  }
  if (reader.remaining() != 0) {
    return bad_state("trailing bytes after the last buffer", "");
  }
  for (EngineBlob& engine : blob.engines) {
    for (const StateEntry& entry : entries) {
      engine.metadata.state_inputs.push_back(state_tensor(entry.input, entry.spec, engine.metadata.num_profiles));
      if (!entry.spec.read_only) {
        engine.metadata.state_outputs.push_back(state_tensor(entry.output, entry.spec, engine.metadata.num_profiles));
      }
    }
  }
  for (StateEntry& entry : entries) {
    blob.states.push_back(std::move(entry.spec));
  }
  return Error::Ok;
}

} // namespace executorch_tensorrt
