#include "blob/delegate_blob.h"
#include "common/printable_text.h"

#include <cstring>
#include <string>
#include <unordered_set>

#include "common/error_report.h"

namespace executorch_tensorrt {
namespace {

constexpr uint32_t kMaxVersionBytes = 64;
constexpr uint32_t kMaxNameBytes = 1024;
constexpr uint32_t kMaxProfiles = 64;
constexpr uint32_t kMaxTensors = 1024;

// A cursor over untrusted bytes: every read checks the remaining length first,
// so no read can run past the end whatever the input claims.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t position() const {
    return pos_;
  }
  size_t remaining() const {
    return size_ - pos_;
  }

  template <typename T>
  bool read(T* out) {
    if (remaining() < sizeof(T)) {
      return false;
    }
    // Little-endian host assumed (x86-64 and aarch64 Linux); memcpy avoids
    // unaligned access.
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  bool read_bytes(size_t n, const uint8_t** out) {
    if (remaining() < n) {
      return false;
    }
    *out = data_ + pos_;
    pos_ += n;
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

Error truncated(const ByteReader& reader, const char* what) {
  return report_error(
      Error::InvalidProgram,
      "malformed delegate blob: metadata truncated while reading %s at byte %zu; re-export the model",
      what,
      reader.position());
}

Error read_string(
    ByteReader& reader,
    uint32_t max_bytes,
    const char* what,
    std::string* out) {
  uint32_t length = 0;
  if (!reader.read(&length)) {
    return truncated(reader, what);
  }
  if (length == 0 || length > max_bytes) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %s length %u outside 1..%u",
        what,
        length,
        max_bytes);
  }
  const uint8_t* bytes = nullptr;
  if (!reader.read_bytes(length, &bytes)) {
    return truncated(reader, what);
  }
  if (std::memchr(bytes, 0, length) != nullptr) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %s contains a NUL byte",
        what);
  }
  out->assign(reinterpret_cast<const char*>(bytes), length);
  return Error::Ok;
}

Error read_shape(ByteReader& reader, uint8_t rank, Shape* out) {
  out->rank = rank;
  for (uint8_t i = 0; i < rank; ++i) {
    if (!reader.read(&out->dims[i])) {
      return truncated(reader, "shape");
    }
  }
  return Error::Ok;
}

Error read_tensor(
    ByteReader& reader,
    uint32_t num_profiles,
    TensorSpec* spec) {
  Error err = read_string(reader, kMaxNameBytes, "tensor name", &spec->name);
  if (err != Error::Ok) {
    return err;
  }
  uint8_t dtype = 0;
  uint8_t rank = 0;
  uint16_t reserved = 0;
  if (!reader.read(&dtype) || !reader.read(&rank) || !reader.read(&reserved)) {
    return truncated(reader, "tensor header");
  }
  if (dtype_name(dtype) == nullptr) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: tensor '%s' has unknown dtype code %u",
        spec->name.c_str(),
        dtype);
  }
  if (rank > kMaxRank) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: tensor '%s' has rank %u; at most %zu",
        spec->name.c_str(),
        rank,
        kMaxRank);
  }
  spec->dtype = dtype;
  spec->ranges.resize(num_profiles);
  for (uint32_t p = 0; p < num_profiles; ++p) {
    ShapeRange& range = spec->ranges[p];
    if ((err = read_shape(reader, rank, &range.min)) != Error::Ok ||
        (err = read_shape(reader, rank, &range.opt)) != Error::Ok ||
        (err = read_shape(reader, rank, &range.max)) != Error::Ok) {
      return err;
    }
    for (uint8_t d = 0; d < rank; ++d) {
      const int64_t lo = range.min.dims[d];
      const int64_t mid = range.opt.dims[d];
      const int64_t hi = range.max.dims[d];
      if (lo < 0 || lo > mid || mid > hi) {
        return report_error(
            Error::InvalidProgram,
            "malformed delegate blob: tensor '%s' profile %u dim %u has min/opt/max %lld/%lld/%lld; need 0 <= min <= opt <= max",
            spec->name.c_str(),
            p,
            d,
            static_cast<long long>(lo),
            static_cast<long long>(mid),
            static_cast<long long>(hi));
      }
    }
  }
  return Error::Ok;
}

Error parse_metadata(const uint8_t* data, size_t size, EngineMetadata* meta) {
  ByteReader reader(data, size);
  uint8_t flavour = 0;
  uint8_t version_compatible = 0;
  uint16_t reserved = 0;
  if (!reader.read(&flavour) || !reader.read(&version_compatible) ||
      !reader.read(&reserved) || !reader.read(&meta->device_index)) {
    return truncated(reader, "engine identity");
  }
  if (!is_known_flavour(flavour)) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: unknown TensorRT flavour code %u",
        flavour);
  }
  if (version_compatible > 1) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: version_compatible must be 0 or 1, got %u",
        version_compatible);
  }
  if (meta->device_index < 0) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: negative device index %d",
        meta->device_index);
  }
  meta->flavour = static_cast<Flavour>(flavour);
  meta->version_compatible = version_compatible == 1;
  Error err = read_string(
      reader, kMaxVersionBytes, "builder version", &meta->builder_version);
  if (err != Error::Ok) {
    return err;
  }
  uint32_t num_inputs = 0;
  uint32_t num_outputs = 0;
  if (!reader.read(&meta->num_profiles) || !reader.read(&num_inputs) ||
      !reader.read(&num_outputs)) {
    return truncated(reader, "tensor counts");
  }
  if (meta->num_profiles == 0 || meta->num_profiles > kMaxProfiles) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %u optimization profiles; expected 1..%u",
        meta->num_profiles,
        kMaxProfiles);
  }
  if (num_inputs > kMaxTensors || num_outputs == 0 ||
      num_outputs > kMaxTensors) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %u inputs and %u outputs; expected 0..%u inputs and 1..%u outputs",
        num_inputs,
        num_outputs,
        kMaxTensors,
        kMaxTensors);
  }
  // Each tensor needs at least 9 bytes (name length, a 1-byte name, dtype,
  // rank, reserved; rank 0 has no dims). Refusing impossible counts early
  // keeps a tiny blob from making us reserve large vectors.
  constexpr uint64_t kMinTensorBytes = 4 + 1 + 1 + 1 + 2;
  if (static_cast<uint64_t>(num_inputs + num_outputs) * kMinTensorBytes >
      reader.remaining()) {
    return truncated(reader, "tensor list");
  }
  meta->inputs.resize(num_inputs);
  meta->outputs.resize(num_outputs);
  std::unordered_set<std::string> names;
  for (uint32_t i = 0; i < num_inputs + num_outputs; ++i) {
    TensorSpec& spec =
        i < num_inputs ? meta->inputs[i] : meta->outputs[i - num_inputs];
    if ((err = read_tensor(reader, meta->num_profiles, &spec)) != Error::Ok) {
      return err;
    }
    if (!names.insert(spec.name).second) {
      return report_error(
          Error::InvalidProgram,
          "malformed delegate blob: tensor name %s appears twice",
          printable_quoted(spec.name.data(), spec.name.size()).c_str());
    }
  }
  if (reader.remaining() != 0) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %zu trailing bytes after the metadata",
        reader.remaining());
  }
  return Error::Ok;
}

// Checks that [offset, offset + length) lies after the header and inside the
// blob, computed without overflow.
Error check_section(const char* what, uint64_t offset, uint64_t length, size_t size) {
  if (offset >= kBlobHeaderSize && offset <= size && length <= size - offset) {
    return Error::Ok;
  }
  return report_error(
      Error::InvalidProgram,
      "malformed delegate blob: %s at offset %llu, %llu bytes, lies outside the %zu-byte blob",
      what,
      static_cast<unsigned long long>(offset),
      static_cast<unsigned long long>(length),
      size);
}

} // namespace

Result<EngineBlob> parse_engine_blob(const void* data, size_t size) {
  if (data == nullptr || size < kBlobHeaderSize) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %zu bytes, shorter than the %zu-byte header",
        data == nullptr ? 0 : size,
        kBlobHeaderSize);
  }
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (std::memcmp(bytes, kBlobMagic, sizeof(kBlobMagic)) != 0) {
    return report_error(
        Error::InvalidProgram,
        "delegate blob does not start with 'ETRT': not produced by the executorch-tensorrt exporter");
  }
  ByteReader header(bytes + sizeof(kBlobMagic), kBlobHeaderSize - sizeof(kBlobMagic));
  uint16_t version = 0;
  uint16_t header_size = 0;
  uint64_t meta_offset = 0, meta_size = 0, engine_offset = 0, engine_size = 0;
  // Cannot fail: the header bytes were length-checked above.
  (void)(header.read(&version) && header.read(&header_size) &&
         header.read(&meta_offset) && header.read(&meta_size) &&
         header.read(&engine_offset) && header.read(&engine_size));
  if (version != kEngineBlobFormatVersion) {
    return report_error(
        version > kEngineBlobFormatVersion ? Error::DelegateInvalidCompatibility : Error::InvalidProgram,
        "engine blob format version %u is not supported by this delegate (an engine is stored as version %u); %s",
        version,
        kEngineBlobFormatVersion,
        version > kEngineBlobFormatVersion
            ? "upgrade executorch-tensorrt or re-export with the installed version"
            : "re-export the model");
  }
  if (header_size != kBlobHeaderSize) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: header size %u, expected %zu",
        header_size,
        kBlobHeaderSize);
  }
  Error err = check_section("metadata", meta_offset, meta_size, size);
  if (err != Error::Ok) {
    return err;
  }
  if ((err = check_section("engine", engine_offset, engine_size, size)) != Error::Ok) {
    return err;
  }
  if (engine_size == 0) {
    return report_error(Error::InvalidProgram, "malformed delegate blob: the engine is empty");
  }
  if (engine_offset % kBlobAlignment != 0) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: engine offset %llu is not %llu-byte aligned",
        static_cast<unsigned long long>(engine_offset),
        static_cast<unsigned long long>(kBlobAlignment));
  }
  // Both sections are inside the blob, so these sums cannot overflow.
  if (meta_offset < engine_offset + engine_size &&
      engine_offset < meta_offset + meta_size) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: metadata and engine sections overlap");
  }
  EngineBlob blob;
  err = parse_metadata(bytes + meta_offset, meta_size, &blob.metadata);
  if (err != Error::Ok) {
    return err;
  }
  blob.engine = bytes + engine_offset;
  blob.engine_size = engine_size;
  return blob;
}

} // namespace executorch_tensorrt
