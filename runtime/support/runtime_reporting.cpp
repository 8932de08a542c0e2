#include "runtime_reporting.h"

#include <executorch/runtime/backend/interface.h>

#include "../../backend/common/error_report.h"
#include "../../backend/common/printable_text.h"

namespace executorch_tensorrt {

std::string describe_failure(const std::string& what, executorch::runtime::Error error) {
  // The reason first, ExecuTorch's code last: the code alone says little.
  const std::string detail = last_error_message();
  const std::string code = std::string(" (ExecuTorch ") + executorch::runtime::to_string(error) + ")";
  return printable_message(detail.empty() ? what + " failed" + code : what + ": " + detail + code);
}

std::vector<std::string> registered_backend_names() {
  std::vector<std::string> names;
  const size_t count = executorch::runtime::get_num_registered_backends();
  for (size_t i = 0; i < count; ++i) {
    auto name = executorch::runtime::get_backend_name(i);
    if (name.ok()) {
      names.emplace_back(*name);
    }
  }
  return names;
}

} // namespace executorch_tensorrt
