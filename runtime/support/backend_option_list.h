#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <executorch/runtime/backend/options.h>
#include <executorch/runtime/core/span.h>

namespace executorch_tensorrt {

// Load-time backend options built from run-time strings (ExecuTorch's own
// BackendOptions builder only takes string literals). Every key and value is
// checked against ExecuTorch's limits first, because ExecuTorch would
// truncate an over-long key or value silently.
class BackendOptionList {
 public:
  // Each returns "" on success, else a message naming the key and the limit.
  std::string add_string(const std::string& key, const std::string& value);
  std::string add_int(const std::string& key, int64_t value);
  std::string add_bool(const std::string& key, bool value);

  // The message for an int outside ExecuTorch's 32-bit option, naming the range.
  std::string int_out_of_range(const std::string& key, const std::string& value) const;

  // Parses "key=value" as a string option (the runner's --backend-option).
  std::string add_assignment(const std::string& assignment);

  executorch::runtime::Span<executorch::runtime::BackendOption> view() {
    return {options_.data(), options_.size()};
  }
  bool empty() const {
    return options_.empty();
  }

 private:
  std::string check_key(const std::string& key) const;

  std::vector<executorch::runtime::BackendOption> options_;
};

} // namespace executorch_tensorrt
