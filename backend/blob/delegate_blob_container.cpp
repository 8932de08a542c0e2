// Version 2 of the delegate blob: a container of version-1 engine blobs, one
// per engine, for delegates that hold several engines covering different
// batch ranges (docs/blob_format.md).

#include <cstring>
#include <string>

#include "blob/delegate_blob.h"
#include "common/error_report.h"
#include "common/printable_text.h"

namespace executorch_tensorrt {
namespace {

template <typename T>
T read_le(const uint8_t* at) {
  T value;
  std::memcpy(&value, at, sizeof(T)); // little-endian host, as in delegate_blob.cpp
  return value;
}

Error disagree(size_t entry, const std::string& what) {
  return report_error(
      Error::InvalidProgram,
      "malformed delegate blob: engine %zu disagrees with engine 0 on %s; the engines of one delegate must share "
      "their inputs and outputs; re-export the model",
      entry,
      what.c_str());
}

// Engines of one delegate take the same arguments: only their shape ranges
// (profiles) may differ.
Error check_same_signature(size_t entry, const EngineMetadata& first, const EngineMetadata& other) {
  if (other.flavour != first.flavour || other.builder_version != first.builder_version ||
      other.version_compatible != first.version_compatible) {
    return disagree(entry, "the builder (flavour, version or version compatibility)");
  }
  if (other.device_index != first.device_index) {
    return disagree(entry, "the device index");
  }
  if (other.inputs.size() != first.inputs.size() || other.outputs.size() != first.outputs.size()) {
    return disagree(entry, "the number of inputs or outputs");
  }
  auto same_tensors = [&](const std::vector<TensorSpec>& a, const std::vector<TensorSpec>& b, const char* role)
      -> Error {
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].name != b[i].name || a[i].dtype != b[i].dtype ||
          a[i].ranges[0].min.rank != b[i].ranges[0].min.rank) {
        return disagree(
            entry,
            std::string(role) + " #" + std::to_string(i) + " (" +
                printable_quoted(b[i].name.data(), b[i].name.size()) + ": name, dtype or rank)");
      }
    }
    return Error::Ok;
  };
  Error err = same_tensors(first.inputs, other.inputs, "input");
  return err != Error::Ok ? err : same_tensors(first.outputs, other.outputs, "output");
}

Result<DelegateBlob> parse_container(const uint8_t* bytes, size_t size) {
  if (size < kContainerHeaderSize) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %zu bytes, shorter than the %zu-byte version-2 header",
        size,
        kContainerHeaderSize);
  }
  const uint16_t header_size = read_le<uint16_t>(bytes + 6);
  const uint32_t num_engines = read_le<uint32_t>(bytes + 8);
  if (header_size != kContainerHeaderSize) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: header size %u, expected %zu",
        header_size,
        kContainerHeaderSize);
  }
  if (num_engines == 0 || num_engines > kMaxEnginesPerDelegate) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %u engines, expected 1..%u",
        num_engines,
        kMaxEnginesPerDelegate);
  }
  const uint64_t table_end = kContainerHeaderSize + uint64_t{num_engines} * kContainerEntrySize;
  if (table_end > size) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: the table of %u engines ends at byte %llu, past the %zu-byte blob",
        num_engines,
        static_cast<unsigned long long>(table_end),
        size);
  }
  DelegateBlob blob;
  blob.engines.reserve(num_engines);
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (uint32_t e = 0; e < num_engines; ++e) {
    const uint8_t* entry = bytes + kContainerHeaderSize + e * kContainerEntrySize;
    const uint64_t offset = read_le<uint64_t>(entry);
    const uint64_t length = read_le<uint64_t>(entry + 8);
    const int64_t hint = read_le<int64_t>(entry + 16);
    // [offset, offset + length) after the table and inside the blob, computed without overflow.
    if (offset < table_end || offset > size || length > size - offset || length == 0) {
      return report_error(
          Error::InvalidProgram,
          "malformed delegate blob: engine %u at offset %llu, %llu bytes, lies outside the %zu-byte blob",
          e,
          static_cast<unsigned long long>(offset),
          static_cast<unsigned long long>(length),
          size);
    }
    if (offset % kBlobAlignment != 0) {
      return report_error(
          Error::InvalidProgram,
          "malformed delegate blob: engine %u offset %llu is not %llu-byte aligned",
          e,
          static_cast<unsigned long long>(offset),
          static_cast<unsigned long long>(kBlobAlignment));
    }
    for (size_t other = 0; other < spans.size(); ++other) {
      if (offset < spans[other].first + spans[other].second && spans[other].first < offset + length) {
        return report_error(
            Error::InvalidProgram, "malformed delegate blob: engines %zu and %u overlap", other, e);
      }
    }
    spans.emplace_back(offset, length);
    if (hint < -1) {
      return report_error(
          Error::InvalidProgram,
          "malformed delegate blob: engine %u has execution_memory_bytes %lld (expected -1 or a byte count)",
          e,
          static_cast<long long>(hint));
    }
    Result<EngineBlob> engine = parse_engine_blob(bytes + offset, static_cast<size_t>(length));
    if (!engine.ok()) {
      const std::string cause = last_error_message();
      return report_error(engine.error(), "in engine %u of the delegate blob: %s", e, cause.c_str());
    }
    engine->execution_memory_hint = hint;
    if (e > 0) {
      Error err = check_same_signature(e, blob.engines[0].metadata, engine->metadata);
      if (err != Error::Ok) {
        return err;
      }
    }
    blob.engines.push_back(std::move(*engine));
  }
  return blob;
}

} // namespace

Result<DelegateBlob> parse_delegate_blob(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (bytes == nullptr || size < 6) {
    return report_error(
        Error::InvalidProgram,
        "malformed delegate blob: %zu bytes, too short for a header",
        bytes == nullptr ? 0 : size);
  }
  if (std::memcmp(bytes, kBlobMagic, sizeof(kBlobMagic)) != 0) {
    return report_error(
        Error::InvalidProgram,
        "delegate blob does not start with 'ETRT': not produced by the executorch-tensorrt exporter");
  }
  const uint16_t version = read_le<uint16_t>(bytes + 4);
  if (version == kEngineBlobFormatVersion) {
    Result<EngineBlob> engine = parse_engine_blob(data, size);
    if (!engine.ok()) {
      return engine.error();
    }
    DelegateBlob blob;
    blob.engines.push_back(std::move(*engine));
    return blob;
  }
  if (version == kContainerFormatVersion) {
    return parse_container(bytes, size);
  }
  return report_error(
      version > kContainerFormatVersion ? Error::DelegateInvalidCompatibility : Error::InvalidProgram,
      "delegate blob format version %u is not supported by this delegate (it reads versions 1 and 2); %s",
      version,
      version > kContainerFormatVersion ? "upgrade executorch-tensorrt or re-export with the installed version"
                                        : "re-export the model");
}

} // namespace executorch_tensorrt
