#pragma once

// Builds delegate blobs (docs/blob_format.md, version 4) byte by byte so the
// C++ tests can make valid ones and break them in targeted ways.

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

// One engine; every one of its `num_profiles` profiles has the tensors'
// single range. The signature of a delegate of several engines is engine 0's.
struct BlobParts {
  uint8_t flavour = 240;
  uint8_t version_compatible = 0;
  int32_t device_index = 0;
  std::string builder_version = "1.0.0";
  uint32_t num_profiles = 1;
  std::vector<TensorEntry> inputs{{"x", 6, {2, 3}, {2, 3}, {2, 3}}};
  std::vector<TensorEntry> outputs{{"y", 6, {2, 3}, {2, 3}, {2, 3}}};
  std::string engine = "etrt-test-engine 1\ninput x\noutput y\ny = relu x\n";
  int64_t execution_memory_bytes = -1;
  int64_t weight_bytes = -1;
  uint16_t format_version = 4;
};

// A tagged section (the delegate's, written after the engine table).
struct SectionEntry {
  uint32_t kind = 1;
  std::string payload;
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

// Header field offsets, for targeted corruption.
inline constexpr size_t kVersionAt = 4, kHeaderSizeAt = 6, kMetadataSizeAt = 8, kHeaderSize = 16;
inline constexpr size_t kEntrySize = 48; // offset, size, memory, weights, reserved, num_profiles, reserved

// Where the encoder put things: each engine table entry (`entry_at`) and the
// engine count (`num_engines_at`).
struct BlobLayout {
  size_t num_engines_at = 0;
  std::vector<size_t> entry_at;
};

inline std::vector<uint8_t> encode_engines(
    const std::vector<BlobParts>& engines,
    BlobLayout* layout = nullptr,
    const std::vector<SectionEntry>& sections = {}) {
  const BlobParts signature = engines.empty() ? BlobParts{} : engines[0];
  std::vector<uint8_t> m;
  put<uint8_t>(m, signature.flavour);
  put<uint8_t>(m, signature.version_compatible);
  put<uint16_t>(m, 0);
  put<int32_t>(m, signature.device_index);
  put_string(m, signature.builder_version);
  put<uint32_t>(m, static_cast<uint32_t>(signature.inputs.size()));
  put<uint32_t>(m, static_cast<uint32_t>(signature.outputs.size()));
  for (const auto* list : {&signature.inputs, &signature.outputs}) {
    for (const TensorEntry& t : *list) {
      put_string(m, t.name);
      put<uint8_t>(m, t.dtype);
      put<uint8_t>(m, static_cast<uint8_t>(t.min.size()));
      put<uint16_t>(m, 0);
    }
  }
  BlobLayout where;
  where.num_engines_at = kHeaderSize + m.size();
  put<uint32_t>(m, static_cast<uint32_t>(engines.size()));
  put<uint32_t>(m, 0);
  std::vector<size_t> offset_fields;
  for (const BlobParts& p : engines) {
    where.entry_at.push_back(kHeaderSize + m.size());
    offset_fields.push_back(m.size());
    put<uint64_t>(m, 0); // offset, filled in below
    put<uint64_t>(m, p.engine.size());
    put<int64_t>(m, p.execution_memory_bytes);
    put<int64_t>(m, p.weight_bytes);
    put<uint64_t>(m, 0);
    put<uint32_t>(m, p.num_profiles);
    put<uint32_t>(m, 0);
    for (uint32_t profile = 0; profile < p.num_profiles; ++profile) {
      for (const auto* list : {&p.inputs, &p.outputs}) {
        for (const TensorEntry& t : *list) {
          for (const auto* dims : {&t.min, &t.opt, &t.max}) {
            for (int64_t d : *dims) {
              put<int64_t>(m, d);
            }
          }
        }
      }
    }
  }
  put<uint32_t>(m, static_cast<uint32_t>(sections.size()));
  put<uint32_t>(m, 0);
  for (const SectionEntry& section : sections) {
    put<uint32_t>(m, section.kind);
    put<uint32_t>(m, 0);
    put<uint32_t>(m, static_cast<uint32_t>(section.payload.size()));
    m.insert(m.end(), section.payload.begin(), section.payload.end());
  }
  uint64_t offset = (kHeaderSize + m.size() + 63) / 64 * 64;
  std::vector<uint64_t> offsets;
  for (size_t e = 0; e < engines.size(); ++e) {
    offsets.push_back(offset);
    std::memcpy(m.data() + offset_fields[e], &offset, sizeof(offset));
    offset = (offset + engines[e].engine.size() + 63) / 64 * 64;
  }
  std::vector<uint8_t> out{'E', 'T', 'R', 'T'};
  put<uint16_t>(out, signature.format_version);
  put<uint16_t>(out, static_cast<uint16_t>(kHeaderSize));
  put<uint32_t>(out, static_cast<uint32_t>(m.size()));
  put<uint32_t>(out, 0);
  out.insert(out.end(), m.begin(), m.end());
  for (size_t e = 0; e < engines.size(); ++e) {
    out.resize(offsets[e], 0);
    out.insert(out.end(), engines[e].engine.begin(), engines[e].engine.end());
  }
  if (layout != nullptr) {
    *layout = where;
  }
  return out;
}

// A delegate of one engine.
inline std::vector<uint8_t> encode_blob(const BlobParts& p, BlobLayout* layout = nullptr) {
  return encode_engines({p}, layout);
}

// The offset of u64 field `field` (0 offset, 1 size, 2 execution memory,
// 3 weight bytes) of engine table entry `entry`.
inline size_t entry_field(const BlobLayout& layout, size_t entry, size_t field) {
  return layout.entry_at.at(entry) + 8 * field;
}

inline void poke_u64(std::vector<uint8_t>& blob, size_t at, uint64_t value) {
  std::memcpy(blob.data() + at, &value, sizeof(value));
}

inline uint64_t peek_u64(const std::vector<uint8_t>& blob, size_t at) {
  uint64_t value = 0;
  std::memcpy(&value, blob.data() + at, sizeof(value));
  return value;
}

} // namespace testing
} // namespace executorch_tensorrt
