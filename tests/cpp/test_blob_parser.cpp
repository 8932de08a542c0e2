#include <gtest/gtest.h>

#include <limits>
#include <random>

#include <blob/delegate_blob.h>
#include <common/error_report.h>

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
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.error(), code);
  EXPECT_NE(std::string(last_error_message()).find(fragment), std::string::npos)
      << "message was: " << last_error_message();
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
}

TEST(BlobParser, EveryTruncationIsRejectedWithoutCrashing) {
  const auto bytes = encode_blob(BlobParts{});
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    EXPECT_FALSE(parse(cut).ok()) << "accepted a blob cut to " << n << " bytes";
  }
}

TEST(BlobParser, RejectsNullAndBadMagic) {
  clear_last_error();
  EXPECT_FALSE(parse_delegate_blob(nullptr, 100).ok());
  auto bytes = encode_blob(BlobParts{});
  bytes[0] = 'X';
  expect_rejected(bytes, "does not start with 'ETRT'");
}

TEST(BlobParser, NewerFormatVersionIsACompatibilityError) {
  BlobParts parts;
  parts.format_version = 3;
  expect_rejected(encode_blob(parts), "format version 3 is not supported", Error::DelegateInvalidCompatibility);
  parts.format_version = 0;
  expect_rejected(encode_blob(parts), "format version 0");
}

TEST(BlobParser, OffsetsNearTwoToThe64DoNotOverflow) {
  const uint64_t huge = std::numeric_limits<uint64_t>::max();
  for (size_t field : {kMetaOffsetAt, kMetaSizeAt, kEngineOffsetAt, kEngineSizeAt}) {
    for (uint64_t value : {huge, huge - 8, huge - 63, uint64_t{1} << 63}) {
      auto bytes = encode_blob(BlobParts{});
      poke_u64(bytes, field, value);
      EXPECT_FALSE(parse(bytes).ok()) << "field at " << field << " = " << value;
      EXPECT_NE(std::string(last_error_message()).find("outside"), std::string::npos)
          << last_error_message();
    }
  }
}

TEST(BlobParser, RejectsOverlapAndMisalignment) {
  auto bytes = encode_blob(BlobParts{});
  poke_u64(bytes, kEngineOffsetAt, 0);
  expect_rejected(bytes, "outside");
  bytes = encode_blob(BlobParts{});
  poke_u64(bytes, kEngineOffsetAt, 64);  // inside the metadata section
  poke_u64(bytes, kEngineSizeAt, 8);
  expect_rejected(bytes, "overlap");
  bytes = encode_blob(BlobParts{});
  uint64_t engine_offset = 0;
  std::memcpy(&engine_offset, bytes.data() + kEngineOffsetAt, 8);
  poke_u64(bytes, kEngineOffsetAt, engine_offset + 1);
  poke_u64(bytes, kEngineSizeAt, 1);
  expect_rejected(bytes, "aligned");
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

TEST(BlobParser, RejectsTrailingMetadataBytes) {
  auto bytes = encode_blob(BlobParts{});
  uint64_t meta_size = 0;
  std::memcpy(&meta_size, bytes.data() + kMetaSizeAt, 8);
  poke_u64(bytes, kMetaSizeAt, meta_size + 4);  // padding zeros follow
  expect_rejected(bytes, "trailing bytes");
}

TEST(BlobParser, RandomByteFlipsNeverCrash) {
  const auto original = encode_blob(BlobParts{});
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
