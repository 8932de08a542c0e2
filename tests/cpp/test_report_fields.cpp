// The one table of report fields (backend/control/report_fields.cpp) against
// the option table's get_option keys, and the text get_option answers with.

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include <control/report_fields.h>

using namespace executorch_tensorrt;

namespace {

size_t rows_named(const char* key) {
  size_t rows = 0;
  for (const ReportField& row : report_fields()) {
    rows += std::strcmp(row.key, key) == 0 ? 1 : 0;
  }
  return rows;
}

bool is_query_key(const char* key) {
  for (const char* query : kQueryKeys) {
    if (std::strcmp(query, key) == 0) {
      return true;
    }
  }
  return false;
}

} // namespace

// A get_option key added to option_table.py without its row (or given two)
// fails here; `program` restricts a query and is answered by no row.
TEST(ReportFields, EveryQueryKeyHasExactlyOneRow) {
  for (const char* key : kQueryKeys) {
    EXPECT_EQ(rows_named(key), std::strcmp(key, kOptionProgram) == 0 ? 0u : 1u) << key;
  }
  for (const ReportField& row : report_fields()) {
    EXPECT_EQ(rows_named(row.key), 1u) << row.key;
    // A structured row is reached only through get_option.
    EXPECT_TRUE(row.place != kReportStructured || is_query_key(row.key)) << row.key;
  }
}

TEST(ReportFields, GetOptionTextOfEachKind) {
  DelegateReport report;
  report.budget_source = "unresolved";
  report.budget_bytes = 1000;
  report.last_init_ms = 1.23456;
  report.cuda_graphs = true;
  report.execution_memory_bytes = -1;
  report.engines.resize(3);
  report.counters.host_waits = 7;
  EXPECT_EQ(report_text(kOptionWeightStreamingBudget, report), "none");
  EXPECT_EQ(report_text(kOptionWeightStreamingBudgetSource, report), "unresolved");
  EXPECT_EQ(report_text(kOptionInitMs, report), "1.235");
  EXPECT_EQ(report_text(kOptionCudaGraphs, report), "1");
  EXPECT_EQ(report_text(kOptionExecutionMemoryBytes, report), "-1");
  EXPECT_EQ(report_text(kOptionExecutionMemoryPoolBytes, report), "none");
  EXPECT_EQ(report_text(kOptionEngines, report), "3");
  EXPECT_EQ(report_text(kOptionBatchesServed, report), "none");
  EXPECT_EQ(report_text(kOptionHostWaits, report), "7");
  report.budget_source = "load_option";
  report.pool = ExecutionMemoryPoolReport{};
  report.pool->capacity_bytes = 512;
  report.batches_served = {{4, 0, 0, 1}, {9, 1, 0, 2}};
  EXPECT_EQ(report_text(kOptionWeightStreamingBudget, report), "1000");
  EXPECT_EQ(report_text(kOptionExecutionMemoryPoolBytes, report), "512");
  EXPECT_EQ(report_text(kOptionBatchesServed, report), "4:e0;9:e1");
  // Rows only Python's dict shows, the program filter and unknown keys have no text.
  EXPECT_EQ(report_text("executes", report), std::nullopt);
  EXPECT_EQ(report_text("host_bytes", report), std::nullopt);
  EXPECT_EQ(report_text(kOptionProgram, report), std::nullopt);
  EXPECT_EQ(report_text("no_such_key", report), std::nullopt);
}
