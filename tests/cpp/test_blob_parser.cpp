// The delegate blob reader (backend/blob/delegate_blob.cpp, docs/blob_format.md
// version 4) on blobs written byte by byte (blob_builder.h).

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>

#include <limits>
#include <random>

#include <blob/delegate_blob.h>
#include <common/error_report.h>
#include <engines/delegate_metadata.h>

#include "blob_builder.h"

using namespace executorch_tensorrt;
using namespace executorch_tensorrt::testing;
using executorch::runtime::Error;

namespace {

Result<DelegateBlob> parse(const std::vector<uint8_t>& bytes) {
  clear_last_error();
  return parse_delegate_blob(bytes.data(), bytes.size());
}

void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& fragment,
                     Error code = Error::InvalidProgram) {
  auto blob = parse(bytes);
  ASSERT_FALSE(blob.ok()) << "accepted; expected: " << fragment;
  EXPECT_EQ(blob.error(), code);
  EXPECT_NE(std::string(last_error_message()).find(fragment), std::string::npos)
      << "message was: " << last_error_message();
}

// An engine for batches [lo, hi] of x: [batch, 4].
BlobParts batch_range(int64_t lo, int64_t hi, int64_t need = -1) {
  BlobParts parts;
  parts.inputs = {{"x", 6, {lo, 4}, {hi, 4}, {hi, 4}}};
  parts.outputs = {{"y", 6, {lo, 4}, {hi, 4}, {hi, 4}}};
  parts.engine = "etrt-test-engine 1\ninput x\noutput y\ny = relu x\n# range " + std::to_string(hi) + "\n";
  parts.execution_memory_bytes = need;
  return parts;
}

std::vector<BlobParts> three_ranges() {
  return {batch_range(1, 8, 4096), batch_range(9, 32, 16384), batch_range(33, 128)};
}

} // namespace

TEST(BlobParser, ParsesEveryField) {
  BlobParts parts;
  parts.flavour = 1;
  parts.version_compatible = 1;
  parts.device_index = 3;
  parts.builder_version = "11.1.0.106";
  parts.num_profiles = 2;
  parts.inputs = {{"a", 6, {1, 4}, {2, 4}, {8, 4}}, {"b", 4, {}, {}, {}}};
  parts.outputs = {{"out", 5, {1}, {2}, {8}}};
  parts.weight_bytes = 12345;
  const auto bytes = encode_blob(parts);
  auto blob = parse(bytes);
  ASSERT_TRUE(blob.ok()) << last_error_message();
  ASSERT_EQ(blob->engines.size(), 1u);
  const EngineBlob& engine = blob->engines[0];
  const EngineMetadata& m = engine.metadata;
  EXPECT_EQ(m.flavour, Flavour::kTensorRT);
  EXPECT_TRUE(m.version_compatible);
  EXPECT_EQ(m.device_index, 3);
  EXPECT_EQ(m.builder_version, "11.1.0.106");
  EXPECT_EQ(m.num_profiles, 2u);
  ASSERT_EQ(m.inputs.size(), 2u);
  EXPECT_EQ(m.inputs[0].name, "a");
  EXPECT_EQ(m.inputs[0].ranges.size(), 2u);
  EXPECT_EQ(m.inputs[0].ranges[1].max.to_string(), "[8, 4]");
  EXPECT_EQ(m.inputs[1].dtype, 4);
  EXPECT_EQ(m.inputs[1].ranges[0].min.rank, 0);
  EXPECT_EQ(m.outputs[0].dtype, 5);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(engine.engine), engine.engine_size), parts.engine);
  EXPECT_EQ(static_cast<size_t>(engine.engine - bytes.data()) % 64, 0u);
  EXPECT_EQ(engine.execution_memory_hint, -1);
  EXPECT_EQ(engine.weight_bytes, 12345);
}

TEST(BlobParser, ParsesEveryEngineWithItsRangesAndMeasures) {
  const std::vector<uint8_t> bytes = encode_engines(three_ranges());
  Result<DelegateBlob> blob = parse(bytes);
  ASSERT_TRUE(blob.ok()) << last_error_message();
  ASSERT_EQ(blob->engines.size(), 3u);
  const int64_t expected_max[] = {8, 32, 128};
  const int64_t expected_hint[] = {4096, 16384, -1};
  for (size_t e = 0; e < 3; ++e) {
    const EngineBlob& engine = blob->engines[e];
    EXPECT_EQ(engine.metadata.inputs[0].name, "x"); // the one signature, in every engine's view
    EXPECT_EQ(engine.metadata.inputs[0].ranges[0].max.dims[0], expected_max[e]);
    EXPECT_EQ(engine.execution_memory_hint, expected_hint[e]);
    EXPECT_EQ(static_cast<size_t>(engine.engine - bytes.data()) % 64, 0u);
    EXPECT_NE(std::string(reinterpret_cast<const char*>(engine.engine), engine.engine_size)
                  .find("# range " + std::to_string(expected_max[e])),
              std::string::npos);
  }
  const DelegateMetadata combined = combine_engines(*blob);
  EXPECT_EQ(combined.io.num_profiles, 3u);
  EXPECT_EQ(combined.slots.size(), 3u);
  EXPECT_EQ(combined.slots[2].engine, 2u);
  EXPECT_EQ(combined.io.inputs[0].ranges[1].min.dims[0], 9);
}

TEST(BlobParser, EveryTruncationIsRejectedWithoutCrashing) {
  for (const auto& bytes : {encode_blob(BlobParts{}), encode_engines(three_ranges())}) {
    for (size_t n = 0; n < bytes.size(); ++n) {
      std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
      EXPECT_FALSE(parse(cut).ok()) << "accepted a blob cut to " << n << " bytes";
    }
  }
}

TEST(BlobParser, RejectsNullAndBadMagic) {
  clear_last_error();
  EXPECT_FALSE(parse_delegate_blob(nullptr, 100).ok());
  auto bytes = encode_blob(BlobParts{});
  bytes[0] = 'X';
  expect_rejected(bytes, "does not start with 'ETRT'");
}

TEST(BlobParser, OlderVersionsAskForAReExportNewerOnesForAnUpgrade) {
  BlobParts parts;
  for (uint16_t old : {0, 1, 2, 3}) {
    parts.format_version = old;
    expect_rejected(encode_blob(parts), "re-export the model with this version of executorch-tensorrt");
  }
  parts.format_version = 5;
  expect_rejected(encode_blob(parts), "format version 5 is not supported", Error::DelegateInvalidCompatibility);
}

// A `state` payload (docs/blob_format.md) of one float32 buffer of shape [4].
static std::string state_payload(const std::string& input) {
  std::string out;
  auto u32 = [&out](uint32_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  auto text = [&](const std::string& t) { u32(static_cast<uint32_t>(t.size())); out += t; };
  u32(1);
  u32(0);
  text("cache");
  text(input);
  text("state_out_0");
  out += std::string("\x06\x01\x00\x00", 4);
  const int64_t dim = 4;
  out.append(reinterpret_cast<const char*>(&dim), sizeof(dim));
  return out;
}

TEST(BlobParser, ReadsSectionsAndRefusesUnknownRepeatedOrTruncatedOnes) {
  const std::string payload = state_payload("state_in_0");
  const auto bytes = encode_engines({BlobParts{}}, nullptr, {{1, payload}});
  auto parsed = parse_delegate_blob(bytes.data(), bytes.size());
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->sections.size(), 1u);
  const BlobSection* state = parsed->section(BlobSectionKind::kState);
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(state->payload), state->size), payload);
  ASSERT_EQ(parsed->states.size(), 1u);
  EXPECT_EQ(parsed->states[0].name, "cache");
  EXPECT_EQ(parsed->states[0].nbytes, 16u);
  ASSERT_EQ(parsed->engines[0].metadata.state_inputs.size(), 1u);
  EXPECT_EQ(parsed->engines[0].metadata.state_outputs[0].name, "state_out_0");
  expect_rejected(encode_engines({BlobParts{}}, nullptr, {{1, payload.substr(0, payload.size() - 1)}}), "truncated shape");
  EXPECT_EQ(parsed->section(BlobSectionKind::kNamedEngines), nullptr);
  EXPECT_EQ(parsed->section(BlobSectionKind::kExternalWeights), nullptr);
  EXPECT_TRUE(parsed->external_weights.empty());
  expect_rejected(
      encode_engines({BlobParts{}}, nullptr, {{99, "x"}}), "section kind 99 is unknown",
      Error::DelegateInvalidCompatibility);
  expect_rejected(encode_engines({BlobParts{}}, nullptr, {{0, "x"}}), "section kind 0 is unknown",
      Error::DelegateInvalidCompatibility);
  expect_rejected(encode_engines({BlobParts{}}, nullptr, {{2, "a"}, {2, "b"}}), "section kind 2 appears twice");
  expect_rejected(encode_engines({BlobParts{}}, nullptr, std::vector<SectionEntry>(17)), "17 sections");
}

// One external_weights entry: name, key, dtype, rank, dims, nbytes.
static std::string weight_entry(const std::string& name, uint8_t dtype, std::vector<int64_t> dims, uint64_t nbytes) {
  std::string out;
  auto put = [&out](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  const uint32_t name_size = static_cast<uint32_t>(name.size()), key_size = static_cast<uint32_t>(name.size() + 2);
  const std::string key = "k/" + name;
  put(&name_size, 4);
  out += name;
  put(&key_size, 4);
  out += key;
  const uint8_t rank = static_cast<uint8_t>(dims.size());
  const uint16_t reserved = 0;
  put(&dtype, 1);
  put(&rank, 1);
  put(&reserved, 2);
  put(dims.data(), dims.size() * 8);
  put(&nbytes, 8);
  return out;
}

static std::string weights_payload(uint32_t count, const std::string& entries) {
  std::string out(8, '\0');
  std::memcpy(&out[0], &count, 4);
  return out + entries;
}

TEST(BlobParser, ReadsAndChecksTheExternalWeightsSection) {
  const std::string two = weight_entry("w", 6, {2, 3}, 24) + weight_entry("b", 15, {3}, 6);
  const auto bytes = encode_engines({BlobParts{}}, nullptr, {{3, weights_payload(2, two)}});
  auto parsed = parse_delegate_blob(bytes.data(), bytes.size());
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->external_weights.size(), 2u);
  EXPECT_EQ(parsed->external_weights[0].name, "w");
  EXPECT_EQ(parsed->external_weights[0].key, "k/w");
  EXPECT_EQ(parsed->external_weights[0].shape.to_string(), "[2, 3]");
  EXPECT_EQ(parsed->external_weights[1].nbytes, 6u);
  const std::string w = weight_entry("w", 6, {2, 3}, 24);
  expect_rejected(encode_engines({BlobParts{}}, nullptr, {{3, weights_payload(1, weight_entry("w", 6, {2, 3}, 20))}}),
      "records 20 bytes");
  expect_rejected(encode_engines({BlobParts{}}, nullptr, {{3, weights_payload(2, w + w)}}), "appears twice");
  expect_rejected(encode_engines({BlobParts{}}, nullptr, {{3, weights_payload(1u << 31, w)}}), "2147483648 external weights");
  expect_rejected(encode_engines({BlobParts{}}, nullptr, {{3, weights_payload(1, w.substr(0, w.size() - 1))}}), "truncated");
  expect_rejected(
      encode_engines({BlobParts{}}, nullptr, {{3, weights_payload(1, weight_entry("w", 6, {int64_t{1} << 62, 4}, 0))}}),
      "2^63 bytes or more");
}

TEST(BlobParser, RejectsBadHeaderFields) {
  auto bytes = encode_blob(BlobParts{});
  bytes[kHeaderSizeAt] = 17;
  expect_rejected(bytes, "header size 17, expected 16");
  for (uint32_t size : {~uint32_t{0}, ~uint32_t{0} - 15, uint32_t{1} << 31}) {
    bytes = encode_blob(BlobParts{});
    std::memcpy(bytes.data() + kMetadataSizeAt, &size, sizeof(size));
    expect_rejected(bytes, "run past the");
  }
  bytes = encode_blob(BlobParts{});
  bytes[kMetadataSizeAt] += 4; // padding zeros follow the metadata
  expect_rejected(bytes, "trailing bytes");
}

TEST(BlobParser, EngineOffsetsAndSizesNearTwoToThe64DoNotOverflow) {
  const uint64_t huge = std::numeric_limits<uint64_t>::max();
  for (size_t field : {size_t{0}, size_t{1}}) {
    for (uint64_t value : {huge, huge - 8, huge - 63, uint64_t{1} << 63, uint64_t{1} << 32}) {
      BlobLayout layout;
      auto bytes = encode_blob(BlobParts{}, &layout);
      poke_u64(bytes, entry_field(layout, 0, field), value);
      expect_rejected(bytes, "malformed delegate blob: engine 0");
    }
  }
}

// Engines of 2^31 +- 1 and 2^32 +- 1 bytes, in a real buffer of that size: an
// anonymous mapping that reserves no memory, of which only the header pages
// are written. The sizes must survive whole (no 32-bit field or cast).
TEST(BlobParser, EnginesPastTwoAndFourGiBKeepTheirFullSize) {
  for (uint64_t engine_size : {(uint64_t{1} << 31) - 1, (uint64_t{1} << 31) + 1, (uint64_t{1} << 32) - 1,
                               (uint64_t{1} << 32) + 1}) {
    BlobLayout layout;
    auto small = encode_blob(BlobParts{}, &layout);
    uint64_t engine_offset = 0;
    std::memcpy(&engine_offset, small.data() + entry_field(layout, 0, 0), sizeof(engine_offset));
    poke_u64(small, entry_field(layout, 0, 1), engine_size);
    const size_t blob_size = static_cast<size_t>(engine_offset + engine_size);
    void* mapped = mmap(nullptr, blob_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(mapped, MAP_FAILED) << "cannot map " << blob_size << " bytes";
    std::memcpy(mapped, small.data(), small.size());
    clear_last_error();
    auto blob = parse_delegate_blob(mapped, blob_size);
    ASSERT_TRUE(blob.ok()) << engine_size << ": " << last_error_message();
    EXPECT_EQ(blob->engines[0].engine_size, engine_size);
    EXPECT_EQ(blob->engines[0].engine, static_cast<const uint8_t*>(mapped) + engine_offset);
    clear_last_error();
    auto short_by_one = parse_delegate_blob(mapped, blob_size - 1);
    ASSERT_FALSE(short_by_one.ok()) << engine_size;
    const std::string expected = std::to_string(engine_size) + " bytes, lies outside the " + std::to_string(blob_size - 1);
    EXPECT_NE(std::string(last_error_message()).find(expected), std::string::npos) << last_error_message();
    munmap(mapped, blob_size);
  }
}

TEST(BlobParser, RejectsMalformedEngineTables) {
  BlobLayout layout;
  const std::vector<uint8_t> good = encode_engines(three_ranges(), &layout);
  std::vector<uint8_t> bytes = good;
  const uint32_t zero = 0, seventeen = 17;
  std::memcpy(bytes.data() + layout.num_engines_at, &zero, 4);
  expect_rejected(bytes, "0 engines, expected 1..16");
  bytes = good;
  std::memcpy(bytes.data() + layout.num_engines_at, &seventeen, 4);
  expect_rejected(bytes, "17 engines, expected 1..16");

  bytes = good;
  poke_u64(bytes, entry_field(layout, 1, 0), peek_u64(good, entry_field(layout, 1, 0)) + 1);
  expect_rejected(bytes, "not 64-byte aligned");

  bytes = good;
  poke_u64(bytes, entry_field(layout, 2, 1), ~uint64_t{0});
  expect_rejected(bytes, "lies outside");

  bytes = good;
  poke_u64(bytes, entry_field(layout, 1, 0), peek_u64(good, entry_field(layout, 0, 0)));
  expect_rejected(bytes, "engines 0 and 1 overlap");

  bytes = good;
  poke_u64(bytes, entry_field(layout, 0, 2), static_cast<uint64_t>(int64_t{-2}));
  expect_rejected(bytes, "execution_memory_bytes -2");
  bytes = good;
  poke_u64(bytes, entry_field(layout, 0, 3), static_cast<uint64_t>(int64_t{-5}));
  expect_rejected(bytes, "weight_bytes -5");

  bytes = good; // the metadata
  poke_u64(bytes, entry_field(layout, 0, 0), 64);
  expect_rejected(bytes, "lies outside");
  // Offset 0 says "in named data": refused without a named_engines section,
  // and so is a named engine of size 2^63 or more.
  bytes = good;
  poke_u64(bytes, entry_field(layout, 0, 0), 0);
  expect_rejected(bytes, "no named_engines section");
  poke_u64(bytes, entry_field(layout, 0, 1), uint64_t{1} << 63);
  expect_rejected(bytes, "in named data has size");
}

TEST(BlobParser, RejectsBadMetadata) {
  struct Case {
    const char* what;
    void (*mutate)(BlobParts&);
    const char* fragment;
  };
  const Case cases[] = {
      {"unknown flavour", [](BlobParts& p) { p.flavour = 7; }, "unknown TensorRT flavour code 7"},
      {"version_compatible 2", [](BlobParts& p) { p.version_compatible = 2; }, "version_compatible"},
      {"negative device", [](BlobParts& p) { p.device_index = -1; }, "negative device index"},
      {"empty version", [](BlobParts& p) { p.builder_version = ""; }, "builder version length 0"},
      {"NUL in name", [](BlobParts& p) { p.inputs[0].name = std::string("a\0b", 3); }, "NUL"},
      {"no profiles", [](BlobParts& p) { p.num_profiles = 0; }, "0 optimization profiles"},
      {"65 profiles", [](BlobParts& p) { p.num_profiles = 65; }, "65 optimization profiles"},
      {"no outputs", [](BlobParts& p) { p.outputs.clear(); }, "0 outputs"},
      {"duplicate name", [](BlobParts& p) { p.outputs[0].name = "x"; }, "appears twice"},
      {"min > max", [](BlobParts& p) { p.inputs[0].min = {4, 3}; }, "need 0 <= min <= opt <= max"},
      {"negative dim", [](BlobParts& p) { p.inputs[0].min = {-1, 3}; }, "need 0 <= min"},
      {"unknown dtype", [](BlobParts& p) { p.inputs[0].dtype = 99; }, "unknown dtype code 99"},
      {"rank 17", [](BlobParts& p) {
         p.inputs[0].min = p.inputs[0].opt = p.inputs[0].max = std::vector<int64_t>(17, 1);
       }, "rank 17"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    BlobParts parts;
    c.mutate(parts);
    expect_rejected(encode_blob(parts), c.fragment);
  }
}

// Issue 15: a tensor whose largest shape cannot be counted in bytes is
// refused by name at parse, so no size derived from it (staging under
// reuse_profile_max, slot capacities) can wrap to something small.
TEST(BlobParser, RefusesShapesWhoseByteSizeOverflows) {
  const int64_t two30 = int64_t{1} << 30, two31 = int64_t{1} << 31, two32 = int64_t{1} << 32;
  const int64_t two63m1 = std::numeric_limits<int64_t>::max();
  struct Case {
    std::vector<int64_t> max; // of a float32 tensor
    bool accepted;
  };
  const Case cases[] = {
      {{two31, 4}, true}, // 2^35 bytes: large but countable
      {{two30, two31 - 1}, true}, // 2^63 - 2^32 bytes: the largest countable here
      {{two30, two31}, false}, // exactly 2^63 bytes
      {{two32, two32}, false}, // 2^64 elements wrap to 0 in 64 bits
      {{two31, two31, two31}, false}, // 2^93 elements
      {{two63m1}, false}, // the element count fits, the bytes do not
      {{two63m1, 0}, true}, // an empty tensor holds 0 bytes whatever its other dims
      {{two32, two32, 0}, true},
  };
  for (const Case& c : cases) {
    BlobParts parts;
    parts.inputs[0].min = std::vector<int64_t>(c.max.size(), 0);
    parts.inputs[0].opt = parts.inputs[0].max = c.max;
    Shape shape;
    shape.rank = static_cast<uint8_t>(c.max.size());
    std::copy(c.max.begin(), c.max.end(), shape.dims.begin());
    SCOPED_TRACE(shape.to_string());
    if (c.accepted) {
      EXPECT_TRUE(parse(encode_blob(parts)).ok()) << last_error_message();
    } else {
      expect_rejected(encode_blob(parts), "tensor \"x\" profile 0: its largest shape " + shape.to_string());
    }
  }
}

TEST(BlobParser, RandomByteFlipsNeverCrash) {
  const auto original = encode_engines(three_ranges());
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    auto bytes = original;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    }
    accepted += parse(bytes).ok() ? 1 : 0;
  }
  // Flips inside the engine bytes or reserved fields keep the blob valid.
  EXPECT_LT(accepted, 20000);
}
