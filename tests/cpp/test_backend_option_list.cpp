#include <gtest/gtest.h>

#include <support/backend_option_list.h>

using executorch_tensorrt::BackendOptionList;

TEST(BackendOptionList, AcceptsEachTypeWithinLimits) {
  BackendOptionList list;
  EXPECT_EQ(list.add_string("weight_streaming_budget", "2147483648"), "");
  EXPECT_EQ(list.add_int("some_int", 2147483647), "");
  EXPECT_EQ(list.add_bool("flag", true), "");
  EXPECT_EQ(list.add_string(std::string(63, 'k'), std::string(255, 'v')), "");
  auto view = list.view();
  ASSERT_EQ(view.size(), 4u);
  EXPECT_STREQ(view[0].key, "weight_streaming_budget");
  using Text = std::array<char, 256>;
  EXPECT_STREQ(std::get<Text>(view[0].value).data(), "2147483648");
  EXPECT_EQ(std::get<int>(view[1].value), 2147483647);
  EXPECT_TRUE(std::get<bool>(view[2].value));
}

TEST(BackendOptionList, RefusesWhatExecuTorchWouldTruncate) {
  BackendOptionList list;
  EXPECT_NE(list.add_string(std::string(64, 'k'), "v").find("at most 63"), std::string::npos);
  EXPECT_NE(list.add_string("k", std::string(256, 'v')).find("at most 255"), std::string::npos);
  EXPECT_NE(list.add_int("big", 2147483648LL).find("32-bit"), std::string::npos);
  EXPECT_NE(list.add_int("small", -2147483649LL).find("32-bit"), std::string::npos);
  EXPECT_NE(list.add_string("", "v").find("empty"), std::string::npos);
  EXPECT_NE(list.add_string("k", std::string("a\0b", 3)).find("NUL"), std::string::npos);
  EXPECT_TRUE(list.empty());
}

TEST(BackendOptionList, RefusesDuplicatesAndMalformedAssignments) {
  BackendOptionList list;
  EXPECT_EQ(list.add_assignment("a=1"), "");
  EXPECT_EQ(list.add_assignment("b="), "");  // empty value is the delegate's to judge
  EXPECT_NE(list.add_assignment("a=2").find("given twice"), std::string::npos);
  EXPECT_NE(list.add_assignment("novalue").find("KEY=VALUE"), std::string::npos);
  EXPECT_EQ(list.view().size(), 2u);
}
