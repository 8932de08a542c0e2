// Feeds option values to the delegate's own parsers, one per line, so the
// Python tests can hold the C++ readers to the same vectors as the Python
// ones (tests/option_vectors.json, tests/test_option_grammar.py).
//
// stdin, one case per line:  SOURCE TAB KEY TAB TYPE TAB HEX_VALUE
//   SOURCE: compile_spec | load | set_option;  TYPE: text | int | bool
// stdout, one line per case: "ok" TAB NORMALIZED  or  "error" TAB MESSAGE
// where NORMALIZED is the value the delegate took ("ignored" for a compile
// spec it only records).

#include <cstdio>
#include <iostream>
#include <string>

#include <options/delegate_options.h>
#include <common/error_report.h>
#include <support/backend_option_list.h>

using namespace executorch_tensorrt;
using executorch::runtime::CompileSpec;

namespace {

std::string unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string normalized(const DelegateOptions& options) {
  if (options.weight_streaming_budget.has_value()) {
    return std::to_string(*options.weight_streaming_budget);
  }
  if (options.init_policy.has_value()) {
    return init_policy_name(*options.init_policy);
  }
  if (options.output_buffers.has_value()) {
    return output_buffer_policy_name(*options.output_buffers);
  }
  if (options.host_staging.has_value()) {
    return host_staging_name(*options.host_staging);
  }
  if (options.cuda_graphs.has_value()) {
    return *options.cuda_graphs ? "1" : "0";
  }
  if (options.execution_memory.has_value()) {
    return execution_memory_scope_name(*options.execution_memory);
  }
  if (options.execution_contexts.has_value()) {
    return std::to_string(*options.execution_contexts);
  }
  return "ignored";
}

std::string parse_one(const std::string& source, const std::string& key, const std::string& type, const std::string& value) {
  if (source == "compile_spec") {
    CompileSpec spec{key.c_str(), {const_cast<char*>(value.data()), value.size()}};
    Result<DelegateOptions> parsed = parse_compile_specs({&spec, 1});
    return parsed.ok() ? "ok\t" + normalized(*parsed) : std::string("error\t") + last_error_message();
  }
  // As the Python loader and the runner hand options over.
  BackendOptionList list;
  const std::string refused = type == "int" ? list.add_int(key, std::stoll(value))
      : type == "bool"                     ? list.add_bool(key, value == "1")
                                           : list.add_string(key, value);
  if (!refused.empty()) {
    return "error\t" + refused;
  }
  Result<OptionRequest> parsed = parse_backend_options({list.view().data(), list.view().size()}, source == "load" ? "load-time option" : "set_option");
  if (!parsed.ok()) {
    return std::string("error\t") + last_error_message();
  }
  if (key == kOptionOffload) {
    return std::string("ok\t") + (parsed->offload ? "1" : "0");
  }
  if (key == kOptionProgram) {
    return "ok\t" + std::to_string(parsed->program.value_or(-1));
  }
  if (key == kOptionResetState) {
    return "ok\t" + parsed->reset_state.value_or("");
  }
  return "ok\t" + (parsed->notes.empty() ? normalized(parsed->options) : "ignored");
}

} // namespace

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    size_t a = line.find('\t'), b = line.find('\t', a + 1), c = line.find('\t', b + 1);
    const std::string result = parse_one(
        line.substr(0, a), line.substr(a + 1, b - a - 1), line.substr(b + 1, c - b - 1), unhex(line.substr(c + 1)));
    std::cout << result << "\n";
  }
  return 0;
}
