#pragma once

// Builds delegate blobs byte by byte (docs/blob_format.md) so the C++ tests
// can make valid ones and break them in targeted ways.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace executorch_tensorrt {
namespace testing {

struct TensorEntry {
  std::string name;
  uint8_t dtype = 6;
  std::vector<int64_t> min, opt, max;
};

struct BlobParts {
  uint8_t flavour = 240;
  uint8_t version_compatible = 0;
  int32_t device_index = 0;
  std::string builder_version = "1.0.0";
  uint32_t num_profiles = 1;
  std::vector<TensorEntry> inputs{{"x", 6, {2, 3}, {2, 3}, {2, 3}}};
  std::vector<TensorEntry> outputs{{"y", 6, {2, 3}, {2, 3}, {2, 3}}};
  std::string engine = "etrt-test-engine 1\ninput x\noutput y\ny = relu x\n";
  uint16_t format_version = 1;
};

template <typename T>
void put(std::vector<uint8_t>& out, T value) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

inline void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

inline std::vector<uint8_t> encode_metadata(const BlobParts& p) {
  std::vector<uint8_t> m;
  put<uint8_t>(m, p.flavour);
  put<uint8_t>(m, p.version_compatible);
  put<uint16_t>(m, 0);
  put<int32_t>(m, p.device_index);
  put_string(m, p.builder_version);
  put<uint32_t>(m, p.num_profiles);
  put<uint32_t>(m, static_cast<uint32_t>(p.inputs.size()));
  put<uint32_t>(m, static_cast<uint32_t>(p.outputs.size()));
  auto tensor = [&](const TensorEntry& t) {
    put_string(m, t.name);
    put<uint8_t>(m, t.dtype);
    put<uint8_t>(m, static_cast<uint8_t>(t.min.size()));
    put<uint16_t>(m, 0);
    for (uint32_t profile = 0; profile < p.num_profiles; ++profile) {
      for (const auto* dims : {&t.min, &t.opt, &t.max}) {
        for (int64_t d : *dims) {
          put<int64_t>(m, d);
        }
      }
    }
  };
  for (const auto& t : p.inputs) {
    tensor(t);
  }
  for (const auto& t : p.outputs) {
    tensor(t);
  }
  return m;
}

// Header offsets of the u64 fields, for targeted corruption.
inline constexpr size_t kMetaOffsetAt = 8, kMetaSizeAt = 16, kEngineOffsetAt = 24, kEngineSizeAt = 32;

inline std::vector<uint8_t> encode_blob(const BlobParts& p) {
  const std::vector<uint8_t> meta = encode_metadata(p);
  const uint64_t meta_offset = 40;
  const uint64_t engine_offset = (meta_offset + meta.size() + 63) / 64 * 64;
  std::vector<uint8_t> out;
  out.insert(out.end(), {'E', 'T', 'R', 'T'});
  put<uint16_t>(out, p.format_version);
  put<uint16_t>(out, 40);
  put<uint64_t>(out, meta_offset);
  put<uint64_t>(out, meta.size());
  put<uint64_t>(out, engine_offset);
  put<uint64_t>(out, p.engine.size());
  out.insert(out.end(), meta.begin(), meta.end());
  out.resize(engine_offset, 0);
  out.insert(out.end(), p.engine.begin(), p.engine.end());
  return out;
}

// A version-2 container of version-1 blobs (encode_blob), with one
// execution_memory_bytes hint per engine.
inline std::vector<uint8_t> encode_container(
    const std::vector<std::vector<uint8_t>>& engines,
    const std::vector<int64_t>& hints) {
  std::vector<uint8_t> out;
  out.insert(out.end(), {'E', 'T', 'R', 'T'});
  put<uint16_t>(out, 2);
  put<uint16_t>(out, 16);
  put<uint32_t>(out, static_cast<uint32_t>(engines.size()));
  put<uint32_t>(out, 0);
  uint64_t offset = (16 + 32 * engines.size() + 63) / 64 * 64;
  std::vector<uint64_t> offsets;
  for (size_t e = 0; e < engines.size(); ++e) {
    offsets.push_back(offset);
    put<uint64_t>(out, offset);
    put<uint64_t>(out, engines[e].size());
    put<int64_t>(out, e < hints.size() ? hints[e] : -1);
    put<uint64_t>(out, 0);
    offset = (offset + engines[e].size() + 63) / 64 * 64;
  }
  for (size_t e = 0; e < engines.size(); ++e) {
    out.resize(offsets[e], 0);
    out.insert(out.end(), engines[e].begin(), engines[e].end());
  }
  return out;
}

// The offset of field `field` (0 offset, 1 size, 2 hint) of container entry `entry`.
inline size_t container_entry_field(size_t entry, size_t field) {
  return 16 + 32 * entry + 8 * field;
}

inline void poke_u64(std::vector<uint8_t>& blob, size_t at, uint64_t value) {
  std::memcpy(blob.data() + at, &value, sizeof(value));
}

} // namespace testing
} // namespace executorch_tensorrt
