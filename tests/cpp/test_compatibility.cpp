#include <gtest/gtest.h>

#include <engines/engine_compatibility.h>

using namespace executorch_tensorrt;

namespace {
constexpr Flavour kTrt = Flavour::kTensorRT;
constexpr Flavour kRtx = Flavour::kTensorRTRtx;
} // namespace

TEST(Compatibility, DecisionTable) {
  struct Row {
    Flavour engine_flavour;
    const char* engine_version;
    bool version_compatible;
    Flavour runtime_flavour;
    const char* runtime_version;
    bool compatible;
    const char* reason_fragment;
  };
  const Row rows[] = {
      {kTrt, "11.1.0.106", false, kTrt, "11.1.0", true, ""},
      {kTrt, "11.1.0", false, kTrt, "11.1.1", false, "runs only on the exact version"},
      {kTrt, "11.0.0", false, kTrt, "11.1.0", false, "version mismatch"},
      {kTrt, "11.0.0", true, kTrt, "11.1.0", true, ""},
      {kTrt, "11.1.0", true, kTrt, "11.1.0", true, ""},
      {kTrt, "11.2.0", true, kTrt, "11.1.0", false, "at least as new as its builder"},
      {kTrt, "11.1.3", true, kTrt, "11.1.0", false, "at least as new"},
      {kTrt, "10.9.0", true, kTrt, "11.1.0", false, "same major version"},
      {kRtx, "1.7.1.116", false, kTrt, "11.1.0", false, "builder flavour mismatch"},
      {kRtx, "1.7.1", true, kTrt, "11.1.0", false, "engine built by tensorrt_rtx 1.7.1, this delegate runs tensorrt 11.1.0"},
      {kTrt, "eleven", false, kTrt, "11.1.0", false, "unreadable builder version 'eleven'"},
      {kTrt, "11.1", false, kTrt, "11.1.0", false, "unreadable builder version"},
      {kTrt, "11.1.0", false, kTrt, "", false, "unreadable runtime version"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::string(row.engine_version) + " vs " + row.runtime_version);
    const CompatibilityVerdict verdict = check_compatibility(
        {row.engine_flavour, row.engine_version}, row.version_compatible,
        {row.runtime_flavour, row.runtime_version});
    EXPECT_EQ(verdict.compatible, row.compatible) << verdict.reason;
    if (row.compatible) {
      EXPECT_TRUE(verdict.reason.empty());
    } else {
      EXPECT_NE(verdict.reason.find(row.reason_fragment), std::string::npos) << verdict.reason;
    }
  }
}

TEST(Compatibility, MismatchMessageNamesBothAndTheFix) {
  const auto verdict = check_compatibility({kRtx, "1.7.1.116"}, false, {kTrt, "11.1.0"});
  EXPECT_NE(verdict.reason.find("tensorrt_rtx 1.7.1.116"), std::string::npos);
  EXPECT_NE(verdict.reason.find("tensorrt 11.1.0"), std::string::npos);
  EXPECT_NE(verdict.reason.find("re-export"), std::string::npos);
}

TEST(Compatibility, ParseVersion) {
  int v[3];
  ASSERT_TRUE(parse_version("11.1.0.106", v));
  EXPECT_EQ(v[0], 11);
  EXPECT_EQ(v[1], 1);
  EXPECT_EQ(v[2], 0);
  EXPECT_FALSE(parse_version("11.1.0x", v));
  EXPECT_FALSE(parse_version("-1.0.0", v));
  EXPECT_FALSE(parse_version("99999999999.0.0", v));
  EXPECT_FALSE(parse_version("", v));
}
