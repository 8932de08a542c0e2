#include <gtest/gtest.h>

#include <runner/runner_options.h>

using executorch_tensorrt::parse_runner_options;
using executorch_tensorrt::RunnerOptions;

namespace {
bool parse(std::vector<const char*> args, RunnerOptions* out, std::string* error) {
  args.insert(args.begin(), "runner");
  return parse_runner_options(static_cast<int>(args.size()), args.data(), out, error);
}
} // namespace

TEST(RunnerOptions, ParsesRepeatedOptions) {
  RunnerOptions o;
  std::string error;
  ASSERT_TRUE(parse({"--model", "m.pte", "--backend-option", "a=1", "--backend-option", "b=2",
                     "--input", "x.bin", "--method", "decode", "--verbose"}, &o, &error)) << error;
  EXPECT_EQ(o.model_path, "m.pte");
  EXPECT_EQ(o.method, "decode");
  EXPECT_EQ(o.backend_options, (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(o.input_files, (std::vector<std::string>{"x.bin"}));
  EXPECT_TRUE(o.verbose);
}

TEST(RunnerOptions, ReportsBadCommandLines) {
  RunnerOptions o;
  std::string error;
  EXPECT_FALSE(parse({}, &o, &error));
  EXPECT_NE(error.find("--model is required"), std::string::npos);
  EXPECT_FALSE(parse({"--model"}, &o, &error));
  EXPECT_NE(error.find("needs a value"), std::string::npos);
  EXPECT_FALSE(parse({"--model", "m", "--bogus"}, &o, &error));
  EXPECT_NE(error.find("unknown argument '--bogus'"), std::string::npos);
  EXPECT_TRUE(parse({"--list-backends"}, &o, &error));
}
