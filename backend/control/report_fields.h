#pragma once

// A delegate's report fields, written once: get_option() answers the option
// table's query keys from them as text, Python's delegate_states builds its
// dicts from them. A new report key is its option-table row, its DelegateReport
// field and one row in report_fields.cpp (test_report_fields.cpp checks that).

#include <optional>
#include <string>
#include <variant>

#include <executorch/runtime/core/span.h>

#include "control/delegate_registry.h"

namespace executorch_tensorrt {

// monostate: absent (no budget, no pool): get_option "none", Python None.
using ReportValue = std::variant<std::monostate, int64_t, uint64_t, uint32_t, double, bool, std::string>;

// Where Python's delegate_states holds a field: in the delegate's dict, its "counters" dict,
// or not at all (get_option only; program_control.cpp writes a structured entry instead).
enum ReportPlace : uint8_t { kReportEntry, kReportCounter, kReportStructured };

struct ReportField {
  const char* key; // get_option answers it when it is a query key of the option table
  ReportPlace place;
  ReportValue (*value)(const DelegateReport&);
};

executorch::runtime::Span<const ReportField> report_fields();

// The get_option() text of query key `key` for one delegate; nullopt for any other key.
std::optional<std::string> report_text(const char* key, const DelegateReport& report);

} // namespace executorch_tensorrt
