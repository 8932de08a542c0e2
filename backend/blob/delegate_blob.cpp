#include "blob/delegate_blob.h"
#include "blob/byte_reader.h"
#include "blob/state_section.h"
#include "common/printable_text.h"
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_set>

#include "common/error_report.h"
#include "option_table.h"

namespace executorch_tensorrt {
namespace {

constexpr uint32_t kMaxVersionBytes = 64;
constexpr uint32_t kMaxProfiles = 64;
constexpr uint32_t kMaxTensors = 1024;

std::string quoted(const std::string& name) {
  return printable_quoted(name.data(), name.size());
}

// The signature: builder identity and every tensor's name, dtype and rank
// (`ranks`, in tensor order; the ranges come with each engine).
Error read_signature(ByteReader& reader, EngineMetadata* signature, std::vector<uint8_t>* ranks) {
  uint8_t flavour = 0;
  uint8_t version_compatible = 0;
  uint16_t reserved = 0;
  if (!reader.read(&flavour) || !reader.read(&version_compatible) || !reader.read(&reserved) ||
      !reader.read(&signature->device_index)) {
    return truncated(reader, "engine identity");
  }
  if (!is_known_flavour(flavour)) {
    return report_error(Error::InvalidProgram, "malformed delegate blob: unknown TensorRT flavour code %u", flavour);
  }
  if (version_compatible > 1) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: version_compatible must be 0 or 1, got %u",
        version_compatible);
  }
  if (signature->device_index < 0) {
    return report_error(
        Error::InvalidProgram, "malformed delegate blob: negative device index %d", signature->device_index);
  }
  signature->flavour = static_cast<Flavour>(flavour);
  signature->version_compatible = version_compatible == 1;
  Error err = read_string(reader, kMaxVersionBytes, "builder version", &signature->builder_version);
  if (err != Error::Ok) {
    return err;
  }
  uint32_t num_inputs = 0;
  uint32_t num_outputs = 0;
  if (!reader.read(&num_inputs) || !reader.read(&num_outputs)) {
    return truncated(reader, "tensor counts");
  }
  if (num_inputs > kMaxTensors || num_outputs == 0 || num_outputs > kMaxTensors) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %u inputs and %u outputs; expected 0..%u inputs and 1..%u outputs",
        num_inputs,
        num_outputs,
        kMaxTensors,
        kMaxTensors);
  }
  // Each tensor needs at least 9 bytes (name length, a 1-byte name, dtype,
  // rank, reserved). Refusing impossible counts early keeps a tiny blob from
  // making us reserve large vectors.
  constexpr uint64_t kMinTensorBytes = 4 + 1 + 1 + 1 + 2;
  if ((uint64_t{num_inputs} + num_outputs) * kMinTensorBytes > reader.remaining()) {
    return truncated(reader, "tensor list");
  }
  signature->inputs.resize(num_inputs);
  signature->outputs.resize(num_outputs);
  std::unordered_set<std::string> names;
  for (uint32_t i = 0; i < num_inputs + num_outputs; ++i) {
    TensorSpec& spec = i < num_inputs ? signature->inputs[i] : signature->outputs[i - num_inputs];
    if ((err = read_string(reader, kMaxNameBytes, "tensor name", &spec.name)) != Error::Ok) {
      return err;
    }
    uint8_t rank = 0;
    if (!reader.read(&spec.dtype) || !reader.read(&rank) || !reader.read(&reserved)) {
      return truncated(reader, "tensor header");
    }
    if (dtype_name(spec.dtype) == nullptr) {
      return report_error(
          Error::InvalidProgram,
          "malformed delegate blob: tensor %s has unknown dtype code %u",
          quoted(spec.name).c_str(),
          spec.dtype);
    }
    if (rank > kMaxRank) {
      return report_error(
          Error::InvalidProgram,
          "malformed delegate blob: tensor %s has rank %u; at most %zu",
          quoted(spec.name).c_str(),
          rank,
          kMaxRank);
    }
    if (!names.insert(spec.name).second) {
      return report_error(
          Error::InvalidProgram, "malformed delegate blob: tensor name %s appears twice", quoted(spec.name).c_str());
    }
    ranks->push_back(rank);
  }
  return Error::Ok;
}

Error read_shape(ByteReader& reader, uint8_t rank, Shape* out) {
  out->rank = rank;
  for (uint8_t i = 0; i < rank; ++i) {
    if (!reader.read(&out->dims[i])) {
      return truncated(reader, "shape range");
    }
  }
  return Error::Ok;
}

// One profile's range of one tensor: 0 <= min <= opt <= max per dim, and the
// largest shape countable in bytes.
Error read_range(ByteReader& reader, uint32_t engine, uint32_t profile, uint8_t rank, TensorSpec* spec) {
  ShapeRange range;
  Error err = Error::Ok;
  if ((err = read_shape(reader, rank, &range.min)) != Error::Ok ||
      (err = read_shape(reader, rank, &range.opt)) != Error::Ok ||
      (err = read_shape(reader, rank, &range.max)) != Error::Ok) {
    return err;
  }
  for (uint8_t d = 0; d < rank; ++d) {
    const int64_t lo = range.min.dims[d], mid = range.opt.dims[d], hi = range.max.dims[d];
    if (lo < 0 || lo > mid || mid > hi) {
      return report_error(
          Error::InvalidProgram,
          "malformed delegate blob: engine %u tensor %s profile %u dim %u has min/opt/max %lld/%lld/%lld; "
          "need 0 <= min <= opt <= max",
          engine,
          quoted(spec->name).c_str(),
          profile,
          d,
          static_cast<long long>(lo),
          static_cast<long long>(mid),
          static_cast<long long>(hi));
    }
  }
  uint64_t elements = 0, bytes = 0;
  if (!checked_shape_bytes(range.max, spec->dtype, &elements, &bytes)) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: engine %u tensor %s profile %u: its largest shape %s holds 2^63 bytes of %s or "
        "more, which no size can count; re-export the model with smaller shape ranges",
        engine,
        quoted(spec->name).c_str(),
        profile,
        range.max.to_string().c_str(),
        dtype_name(spec->dtype));
  }
  spec->ranges.push_back(range);
  return Error::Ok;
}

// One engine table entry and its shape ranges. `metadata_end` is where the
// engine bytes may start in the blob [bytes, bytes + size).
Error read_engine(
    ByteReader& reader,
    uint32_t index,
    const EngineMetadata& signature,
    const std::vector<uint8_t>& ranks,
    uint64_t metadata_end,
    const uint8_t* bytes,
    size_t size,
    EngineBlob* out) {
  uint64_t offset = 0, length = 0;
  uint32_t num_profiles = 0, pad = 0;
  if (!reader.read(&offset) || !reader.read(&length) || !reader.read(&out->execution_memory_hint) ||
      !reader.read(&out->weight_bytes) || !reader.read(&out->digest) || !reader.read(&num_profiles) ||
      !reader.read(&pad)) {
    return truncated(reader, "engine table");
  }
  // Offset 0 (inside the header, never an inline engine's): the bytes are in
  // the program's named data, `length` of them (the named_engines section names them).
  const bool named = offset == 0;
  if (named && (length == 0 || length >= (uint64_t{1} << 63) || length > SIZE_MAX)) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: engine %u in named data has size %llu; expected 1..2^63-1",
        index,
        static_cast<unsigned long long>(length));
  }
  if (offset % kBlobAlignment != 0) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: engine %u offset %llu is not %llu-byte aligned",
        index,
        static_cast<unsigned long long>(offset),
        static_cast<unsigned long long>(kBlobAlignment));
  }
  // [offset, offset + length) after the metadata and inside the blob, computed without overflow.
  if (!named && (offset < metadata_end || offset > size || length > size - offset || length == 0)) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: engine %u at offset %llu, %llu bytes, lies outside the %zu-byte blob "
        "(after its %llu bytes of header and metadata)",
        index,
        static_cast<unsigned long long>(offset),
        static_cast<unsigned long long>(length),
        size,
        static_cast<unsigned long long>(metadata_end));
  }
  for (const auto& [what, value] : {std::pair<const char*, int64_t>{kOptionExecutionMemoryBytes, out->execution_memory_hint},
                                    {"weight_bytes", out->weight_bytes}}) {
    if (value < -1) {
      return report_error(
          Error::InvalidProgram,
          "malformed delegate blob: engine %u has %s %lld (expected -1, unknown, or a byte count)",
          index,
          what,
          static_cast<long long>(value));
    }
  }
  if (num_profiles == 0 || num_profiles > kMaxProfiles) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: engine %u has %u optimization profiles; expected 1..%u",
        index,
        num_profiles,
        kMaxProfiles);
  }
  out->metadata = signature;
  out->metadata.num_profiles = num_profiles;
  out->engine_size = static_cast<size_t>(length);
  const size_t num_inputs = signature.inputs.size();
  for (uint32_t p = 0; p < num_profiles; ++p) {
    for (size_t t = 0; t < ranks.size(); ++t) {
      TensorSpec& spec = t < num_inputs ? out->metadata.inputs[t] : out->metadata.outputs[t - num_inputs];
      Error err = read_range(reader, index, p, ranks[t], &spec);
      if (err != Error::Ok) {
        return err;
      }
    }
  }
  out->engine = named ? nullptr : bytes + offset;
  return Error::Ok;
}

Error read_header(const uint8_t* bytes, size_t size, uint32_t* metadata_size) {
  if (bytes == nullptr || size < 6) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %zu bytes, shorter than the %zu-byte header",
        bytes == nullptr ? 0 : size,
        kBlobHeaderSize);
  }
  if (std::memcmp(bytes, kBlobMagic, sizeof(kBlobMagic)) != 0) {
    return report_error(
        Error::InvalidProgram,
        "delegate blob does not start with 'ETRT': not produced by the executorch-tensorrt exporter");
  }
  ByteReader header(bytes + sizeof(kBlobMagic), size - sizeof(kBlobMagic));
  uint16_t version = 0, header_size = 0;
  uint32_t reserved = 0;
  (void)header.read(&version); // cannot fail: 6 bytes were checked
  if (version != kBlobFormatVersion) {
    const bool newer = version > kBlobFormatVersion;
    return report_error(
        newer ? Error::DelegateInvalidCompatibility : Error::InvalidProgram,
        "delegate blob format version %u is not supported by this delegate (it reads version %u); %s",
        version,
        kBlobFormatVersion,
        newer ? "upgrade executorch-tensorrt or re-export the model with the installed version"
              : "re-export the model with this version of executorch-tensorrt");
  }
  if (!header.read(&header_size) || !header.read(metadata_size) || !header.read(&reserved)) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %zu bytes, shorter than the %zu-byte header",
        size,
        kBlobHeaderSize);
  }
  if (header_size != kBlobHeaderSize) {
    return report_error(
        Error::InvalidProgram, "malformed delegate blob: header size %u, expected %zu", header_size, kBlobHeaderSize);
  }
  if (*metadata_size > size - kBlobHeaderSize) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %u bytes of metadata run past the %zu-byte blob",
        *metadata_size,
        size);
  }
  return Error::Ok;
}

Error read_sections(ByteReader& reader, std::vector<BlobSection>* sections) {
  uint32_t count = 0, reserved = 0;
  if (!reader.read(&count) || !reader.read(&reserved)) {
    return truncated(reader, "section count");
  }
  if (count > kMaxBlobSections) {
    return report_error(
        Error::InvalidProgram, "malformed delegate blob: %u sections, expected at most %u", count, kMaxBlobSections);
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t kind = 0, size = 0;
    BlobSection section;
    if (!reader.read(&kind) || !reader.read(&reserved) || !reader.read(&size)) {
      return truncated(reader, "a section header");
    }
    if (kind == 0 || kind > kLastBlobSectionKind) {
      return report_error(
          Error::DelegateInvalidCompatibility,
          "delegate blob section kind %u is unknown to this delegate; upgrade executorch-tensorrt or re-export the "
          "model with the installed version",
          kind);
    }
    section.kind = static_cast<BlobSectionKind>(kind);
    for (const BlobSection& before : *sections) {
      if (before.kind == section.kind) {
        return report_error(Error::InvalidProgram, "malformed delegate blob: section kind %u appears twice", kind);
      }
    }
    if (!reader.read_bytes(size, &section.payload)) {
      return truncated(reader, "a section payload");
    }
    section.size = size;
    sections->push_back(section);
  }
  return Error::Ok;
}

Error weights_truncated(const ByteReader& reader, const char* what) {
  return report_error(
      Error::InvalidProgram,
      "malformed delegate blob: the external_weights section is truncated while reading %s at its byte %zu",
      what,
      reader.position());
}

// One entry of the external_weights section: name, key, dtype, rank, dims,
// nbytes (docs/blob_format.md).
Error read_external_weight(ByteReader& reader, ExternalWeightSpec* out) {
  Error err = read_string(reader, kMaxNameBytes, "external weight name", &out->name);
  if (err == Error::Ok) {
    err = read_string(reader, kMaxExternalWeightKeyBytes, "external weight key", &out->key);
  }
  if (err != Error::Ok) {
    return err;
  }
  uint8_t rank = 0;
  uint16_t reserved = 0;
  if (!reader.read(&out->dtype) || !reader.read(&rank) || !reader.read(&reserved)) {
    return weights_truncated(reader, "an external weight");
  }
  if (dtype_name(out->dtype) == nullptr || rank > kMaxRank) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: external weight %s has dtype code %u and rank %u",
        quoted(out->name).c_str(),
        out->dtype,
        rank);
  }
  if ((err = read_shape(reader, rank, &out->shape)) != Error::Ok) {
    return err;
  }
  uint64_t elements = 0, bytes = 0;
  const bool countable = checked_shape_bytes(out->shape, out->dtype, &elements, &bytes);
  if (!reader.read(&out->nbytes)) {
    return weights_truncated(reader, "an external weight's size");
  }
  for (uint8_t d = 0; d < rank; ++d) {
    if (out->shape.dims[d] < 0) {
      return report_error(
          Error::InvalidProgram, "malformed delegate blob: external weight %s has a negative dim", quoted(out->name).c_str());
    }
  }
  if (!countable || bytes != out->nbytes) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: external weight %s records %llu bytes, but %s %s holds %s",
        quoted(out->name).c_str(),
        static_cast<unsigned long long>(out->nbytes),
        dtype_name(out->dtype),
        out->shape.to_string().c_str(),
        countable ? std::to_string(bytes).c_str() : "2^63 bytes or more");
  }
  return Error::Ok;
}

// The external_weights section's payload: a count (bounded by what the
// payload can hold), then unique names and keys.
Error read_external_weights(const BlobSection& section, std::vector<ExternalWeightSpec>* out) {
  ByteReader reader(section.payload, section.size);
  uint32_t count = 0, reserved = 0;
  if (!reader.read(&count) || !reader.read(&reserved)) {
    return weights_truncated(reader, "the external weight count");
  }
  constexpr uint64_t kMinWeightBytes = 5 + 5 + 4 + 8; // a 1-byte name and key, header, nbytes
  if (count == 0 || count > kMaxExternalWeights || uint64_t{count} * kMinWeightBytes > reader.remaining()) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %u external weights in a %zu-byte section (expected 1..%u)",
        count,
        section.size,
        kMaxExternalWeights);
  }
  std::unordered_set<std::string> names, keys;
  out->resize(count);
  for (ExternalWeightSpec& weight : *out) {
    Error err = read_external_weight(reader, &weight);
    if (err != Error::Ok) {
      return err;
    }
    if (!names.insert(weight.name).second || !keys.insert(weight.key).second) {
      return report_error(
          Error::InvalidProgram,
          "malformed delegate blob: external weight %s (key %s) appears twice",
          quoted(weight.name).c_str(),
          quoted(weight.key).c_str());
    }
  }
  return expect_consumed(reader, "after the external weights");
}

// The named_engines payload: u32 count (= the engines), then one str key per
// engine in table order. Every engine is in named data (offset 0) or none.
Error read_named_engines(const DelegateBlob& blob, std::vector<EngineBlob>* engines) {
  size_t named = 0;
  for (const EngineBlob& engine : *engines) {
    named += engine.engine == nullptr ? 1 : 0;
  }
  const BlobSection* section = blob.section(BlobSectionKind::kNamedEngines);
  if (section == nullptr) {
    if (named != 0) {
      return report_error(
          Error::InvalidProgram,
          "malformed delegate blob: %zu engine(s) at offset 0 (in named data) but no named_engines section",
          named);
    }
    return Error::Ok;
  }
  if (named != engines->size()) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: with a named_engines section every engine is in named data (offset 0); %zu of %zu "
        "are in the blob",
        engines->size() - named,
        engines->size());
  }
  ByteReader reader(section->payload, section->size);
  uint32_t count = 0;
  if (!reader.read(&count)) {
    return report_error(Error::InvalidProgram, "malformed delegate blob: the named_engines section is truncated");
  }
  if (count != engines->size()) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: the named_engines section names %u engine(s); the delegate has %zu",
        count,
        engines->size());
  }
  for (EngineBlob& engine : *engines) {
    Error err = read_string(reader, kMaxNamedEngineKeyBytes, "named engine key", &engine.named_key);
    if (err != Error::Ok) {
      return err;
    }
  }
  return expect_consumed(reader, "in the named_engines section");
}

} // namespace

const BlobSection* DelegateBlob::section(BlobSectionKind kind) const {
  for (const BlobSection& s : sections) {
    if (s.kind == kind) {
      return &s;
    }
  }
  return nullptr;
}

Result<DelegateBlob> parse_delegate_blob(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  uint32_t metadata_size = 0;
  Error err = read_header(bytes, size, &metadata_size);
  if (err != Error::Ok) {
    return err;
  }
  ByteReader reader(bytes + kBlobHeaderSize, metadata_size);
  EngineMetadata signature;
  std::vector<uint8_t> ranks;
  if ((err = read_signature(reader, &signature, &ranks)) != Error::Ok) {
    return err;
  }
  uint32_t num_engines = 0, reserved = 0;
  if (!reader.read(&num_engines) || !reader.read(&reserved)) {
    return truncated(reader, "engine count");
  }
  if (num_engines == 0 || num_engines > kMaxEnginesPerDelegate) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %u engines, expected 1..%u",
        num_engines,
        kMaxEnginesPerDelegate);
  }
  const uint64_t metadata_end = kBlobHeaderSize + uint64_t{metadata_size};
  DelegateBlob blob;
  blob.engines.resize(num_engines);
  for (uint32_t e = 0; e < num_engines; ++e) {
    EngineBlob& engine = blob.engines[e];
    if ((err = read_engine(reader, e, signature, ranks, metadata_end, bytes, size, &engine)) != Error::Ok) {
      return err;
    }
    for (uint32_t other = 0; other < e && engine.engine != nullptr; ++other) {
      const EngineBlob& before = blob.engines[other];
      if (before.engine != nullptr && engine.engine < before.engine + before.engine_size && before.engine < engine.engine + engine.engine_size) {
        return report_error(Error::InvalidProgram, "malformed delegate blob: engines %u and %u overlap", other, e);
      }
    }
  }
  if ((err = read_sections(reader, &blob.sections)) != Error::Ok) {
    return err;
  }
  if ((err = read_state_section(blob)) != Error::Ok) {
    return err;
  }
  if ((err = expect_consumed(reader, "after the metadata")) != Error::Ok) {
    return err;
  }
  if (const BlobSection* weights = blob.section(BlobSectionKind::kExternalWeights)) {
    if ((err = read_external_weights(*weights, &blob.external_weights)) != Error::Ok) {
      return err;
    }
  }
  if ((err = read_named_engines(blob, &blob.engines)) != Error::Ok) {
    return err;
  }
  blob.metadata_end = static_cast<size_t>(metadata_end);
  return blob;
}

} // namespace executorch_tensorrt
