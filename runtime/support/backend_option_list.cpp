#include "backend_option_list.h"

#include <array>
#include <cstring>
#include <limits>

namespace executorch_tensorrt {

using executorch::runtime::BackendOption;
using executorch::runtime::kMaxOptionKeyLength;
using executorch::runtime::kMaxOptionValueLength;

std::string BackendOptionList::check_key(const std::string& key) const {
  if (key.empty()) {
    return "backend option key is empty";
  }
  // The key array holds a terminating NUL.
  if (key.size() >= kMaxOptionKeyLength) {
    return "backend option key '" + key + "' is " + std::to_string(key.size()) +
        " characters; ExecuTorch allows at most " + std::to_string(kMaxOptionKeyLength - 1);
  }
  if (key.find('\0') != std::string::npos) {
    return "backend option key contains a NUL character";
  }
  for (const BackendOption& existing : options_) {
    if (key == existing.key) {
      return "backend option '" + key + "' is given twice";
    }
  }
  return "";
}

namespace {
BackendOption named(const std::string& key) {
  BackendOption option;
  std::memcpy(option.key, key.data(), key.size());
  option.key[key.size()] = '\0';
  return option;
}
} // namespace

std::string BackendOptionList::add_string(const std::string& key, const std::string& value) {
  std::string error = check_key(key);
  if (!error.empty()) {
    return error;
  }
  if (value.size() >= kMaxOptionValueLength) {
    return "backend option '" + key + "': value is " + std::to_string(value.size()) +
        " characters; ExecuTorch allows at most " + std::to_string(kMaxOptionValueLength - 1) +
        " (it would cut the rest silently)";
  }
  if (value.find('\0') != std::string::npos) {
    return "backend option '" + key + "': value contains a NUL character";
  }
  BackendOption option = named(key);
  std::array<char, kMaxOptionValueLength> text{};
  std::memcpy(text.data(), value.data(), value.size());
  option.value = text;
  options_.push_back(option);
  return "";
}

std::string BackendOptionList::add_int(const std::string& key, int64_t value) {
  std::string error = check_key(key);
  if (!error.empty()) {
    return error;
  }
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    return int_out_of_range(key, std::to_string(value));
  }
  BackendOption option = named(key);
  option.value = static_cast<int>(value);
  options_.push_back(option);
  return "";
}

std::string BackendOptionList::int_out_of_range(const std::string& key, const std::string& value) const {
  return "backend option '" + key + "': " + value + " does not fit ExecuTorch's 32-bit int option (" +
      std::to_string(std::numeric_limits<int>::min()) + ".." + std::to_string(std::numeric_limits<int>::max()) +
      "); pass larger numbers as a decimal string";
}

std::string BackendOptionList::add_bool(const std::string& key, bool value) {
  std::string error = check_key(key);
  if (!error.empty()) {
    return error;
  }
  BackendOption option = named(key);
  option.value = value;
  options_.push_back(option);
  return "";
}

std::string BackendOptionList::add_assignment(const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos) {
    return "backend option '" + assignment + "' is not of the form KEY=VALUE";
  }
  return add_string(assignment.substr(0, eq), assignment.substr(eq + 1));
}

} // namespace executorch_tensorrt
