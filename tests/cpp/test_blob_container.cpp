// The version-2 delegate blob: a container of version-1 engine blobs
// (docs/blob_format.md), parsed by backend/delegate_blob_container.cpp.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <blob/delegate_blob.h>
#include <engines/delegate_metadata.h>
#include <common/error_report.h>

#include "blob_builder.h"

namespace executorch_tensorrt {
namespace {

using testing::BlobParts;
using testing::container_entry_field;
using testing::encode_blob;
using testing::encode_container;
using testing::poke_u64;

// An engine for batches [lo, hi] of x: [batch, 4].
BlobParts batch_range(int64_t lo, int64_t hi) {
  BlobParts parts;
  parts.inputs = {{"x", 6, {lo, 4}, {hi, 4}, {hi, 4}}};
  parts.outputs = {{"y", 6, {lo, 4}, {hi, 4}, {hi, 4}}};
  parts.engine = "etrt-test-engine 1\ninput x\noutput y\ny = relu x\n# range " + std::to_string(hi) + "\n";
  return parts;
}

std::vector<uint8_t> three_ranges() {
  return encode_container(
      {encode_blob(batch_range(1, 8)), encode_blob(batch_range(9, 32)), encode_blob(batch_range(33, 128))},
      {4096, 16384, -1});
}

Result<DelegateBlob> parse(const std::vector<uint8_t>& bytes) {
  clear_last_error();
  return parse_delegate_blob(bytes.data(), bytes.size());
}

void expect_refused(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  EXPECT_FALSE(parse(bytes).ok()) << "accepted; expected: " << fragment;
  EXPECT_NE(std::string(last_error_message()).find(fragment), std::string::npos) << last_error_message();
}

TEST(BlobContainer, ParsesEveryEngineWithItsRangeAndHint) {
  const std::vector<uint8_t> bytes = three_ranges();
  Result<DelegateBlob> blob = parse(bytes);
  ASSERT_TRUE(blob.ok()) << last_error_message();
  ASSERT_EQ(blob->engines.size(), 3u);
  const int64_t expected_max[] = {8, 32, 128};
  const int64_t expected_hint[] = {4096, 16384, -1};
  for (size_t e = 0; e < 3; ++e) {
    const EngineBlob& engine = blob->engines[e];
    EXPECT_EQ(engine.metadata.inputs[0].ranges[0].max.dims[0], expected_max[e]);
    EXPECT_EQ(engine.execution_memory_hint, expected_hint[e]);
    // Zero-copy: the engine bytes stay 64-byte aligned inside the container.
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

TEST(BlobContainer, VersionOneIsOneEngine) {
  Result<DelegateBlob> blob = parse(encode_blob(batch_range(1, 8)));
  ASSERT_TRUE(blob.ok()) << last_error_message();
  ASSERT_EQ(blob->engines.size(), 1u);
  EXPECT_EQ(blob->engines[0].execution_memory_hint, -1);
}

TEST(BlobContainer, RefusesMalformedContainers) {
  expect_refused(encode_container({}, {}), "0 engines, expected 1..16");
  std::vector<std::vector<uint8_t>> seventeen(17, encode_blob(batch_range(1, 8)));
  expect_refused(encode_container(seventeen, {}), "17 engines, expected 1..16");

  std::vector<uint8_t> bytes = three_ranges();
  bytes.resize(40); // the table of three entries needs 112 bytes
  expect_refused(bytes, "table of 3 engines ends at byte 112");

  bytes = three_ranges();
  uint64_t second = 0;
  std::memcpy(&second, bytes.data() + container_entry_field(1, 0), sizeof(second));
  poke_u64(bytes, container_entry_field(1, 0), second + 1);
  expect_refused(bytes, "not 64-byte aligned");

  bytes = three_ranges();
  poke_u64(bytes, container_entry_field(2, 1), ~uint64_t{0});
  expect_refused(bytes, "lies outside");

  bytes = three_ranges();
  uint64_t first = 0;
  std::memcpy(&first, bytes.data() + container_entry_field(0, 0), sizeof(first));
  poke_u64(bytes, container_entry_field(1, 0), first);
  expect_refused(bytes, "engines 0 and 1 overlap");

  bytes = three_ranges();
  poke_u64(bytes, container_entry_field(0, 2), static_cast<uint64_t>(int64_t{-2}));
  expect_refused(bytes, "execution_memory_bytes -2");

  bytes = three_ranges();
  poke_u64(bytes, container_entry_field(0, 0), 0); // points at the container header itself
  expect_refused(bytes, "lies outside");
}

TEST(BlobContainer, NamesTheEngineWhoseInnerBlobIsBroken) {
  std::vector<uint8_t> inner = encode_blob(batch_range(9, 32));
  inner[0] = 'X';
  expect_refused(encode_container({encode_blob(batch_range(1, 8)), inner}, {}), "in engine 1 of the delegate blob");
}

TEST(BlobContainer, EnginesMustShareTheirSignature) {
  BlobParts renamed = batch_range(9, 32);
  renamed.inputs[0].name = "z";
  expect_refused(
      encode_container({encode_blob(batch_range(1, 8)), encode_blob(renamed)}, {}),
      "engine 1 disagrees with engine 0 on input #0");
  BlobParts retyped = batch_range(9, 32);
  retyped.outputs[0].dtype = 5;
  expect_refused(
      encode_container({encode_blob(batch_range(1, 8)), encode_blob(retyped)}, {}),
      "engine 1 disagrees with engine 0 on output #0");
  BlobParts other_device = batch_range(9, 32);
  other_device.device_index = 1;
  expect_refused(
      encode_container({encode_blob(batch_range(1, 8)), encode_blob(other_device)}, {}), "the device index");
  BlobParts other_builder = batch_range(9, 32);
  other_builder.builder_version = "2.0.0";
  expect_refused(
      encode_container({encode_blob(batch_range(1, 8)), encode_blob(other_builder)}, {}), "the builder");
}

} // namespace
} // namespace executorch_tensorrt
