// executorch-tensorrt-runner: loads a .pte with C++ Module::load and
// load-time backend options, runs one method and prints its outputs or the
// error (with the delegate's reason, not just ExecuTorch's error code).

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <exception>
#include <string>
#include <variant>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/runtime/backend/backend_options_map.h>
#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/core/exec_aten/util/scalar_type_util.h>

#include "../../backend/backend_id.h"
#include "../../backend/common/error_report.h"
#include "option_table.h"
#include "../../backend/common/printable_text.h"
#include "../../backend/engines/engine_runtime_registry.h"
#include "../support/backend_option_list.h"
#include "../support/method_calls.h"
#include "../support/runtime_reporting.h"
#include "runner_options.h"

using executorch::extension::TensorPtr;
using executorch::extension::module::Module;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using executorch::runtime::LoadBackendOptionsMap;

namespace executorch_tensorrt {
namespace {

int fail(const std::string& what, Error error) {
  std::fprintf(stderr, "error: %s\n", describe_failure(what, error).c_str());
  return 1;
}

// A message that may hold names from the command line or the program,
// escaped so no control byte reaches the terminal.
int usage_error(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", printable_message(message).c_str());
  return 2;
}

// Reads input file `path` of exactly `nbytes` into `bytes`, after checking it
// is a regular file of that size (a FIFO, a device or a directory would block,
// never end, or fail mid-read); "" or the reason.
std::string read_input_file(const std::string& path, size_t index, size_t nbytes, std::vector<uint8_t>* bytes) {
  const std::string name = "input file " + printable_quoted(path);
  const std::string needs = "input " + std::to_string(index) + " needs " + std::to_string(nbytes) + " raw bytes";
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    return name + ": " + std::strerror(errno) + "; " + needs;
  }
  if (!S_ISREG(info.st_mode)) {
    return name + " is not a regular file; " + needs;
  }
  if (static_cast<uint64_t>(info.st_size) != nbytes) {
    return name + " has " + std::to_string(info.st_size) + " bytes; " + needs;
  }
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return name + ": " + std::strerror(errno);
  }
  bytes->resize(nbytes);
  const size_t got = nbytes == 0 ? 0 : std::fread(bytes->data(), 1, nbytes, file);
  const bool longer = std::fgetc(file) != EOF;
  std::fclose(file);
  if (got != nbytes || longer) {
    return name + " changed while it was read (" + std::to_string(got) + " of " + std::to_string(nbytes) + " bytes)";
  }
  return "";
}

int list_backends() {
  for (const std::string& name : registered_backend_names()) {
    std::printf("%s\n", name.c_str());
  }
  return 0;
}

bool fill_with_ones(executorch::aten::Tensor& tensor) {
  const ssize_t n = tensor.numel();
  switch (tensor.scalar_type()) {
    case executorch::aten::ScalarType::Float:
      std::fill_n(tensor.mutable_data_ptr<float>(), n, 1.0f);
      return true;
    case executorch::aten::ScalarType::Int:
      std::fill_n(tensor.mutable_data_ptr<int32_t>(), n, 1);
      return true;
    case executorch::aten::ScalarType::Long:
      std::fill_n(tensor.mutable_data_ptr<int64_t>(), n, 1);
      return true;
    case executorch::aten::ScalarType::Bool:
      std::fill_n(tensor.mutable_data_ptr<bool>(), n, true);
      return true;
    default:
      return false;
  }
}

// Builds the method's inputs from files, or filled with ones.
bool make_inputs(
    Module& module,
    const RunnerOptions& options,
    std::vector<TensorPtr>* tensors,
    std::vector<EValue>* values,
    std::string* error) {
  auto meta = module.method_meta(options.method);
  if (!meta.ok()) {
    *error = "no method " + printable_quoted(options.method) + " in the program";
    return false;
  }
  const size_t n = meta->num_inputs();
  if (!options.input_files.empty() && options.input_files.size() != n) {
    *error = "method " + printable_quoted(options.method) + " takes " + std::to_string(n) + " inputs, got " +
        std::to_string(options.input_files.size()) + " --input files";
    return false;
  }
  for (size_t i = 0; i < n; ++i) {
    auto info = meta->input_tensor_meta(i);
    if (!info.ok()) {
      *error = "input " + std::to_string(i) + " is not a tensor; the runner feeds tensors only";
      return false;
    }
    std::vector<executorch::aten::SizesType> sizes(info->sizes().begin(), info->sizes().end());
    const size_t nbytes = info->nbytes();
    std::vector<uint8_t> bytes(nbytes);
    if (!options.input_files.empty()) {
      *error = read_input_file(options.input_files[i], i, nbytes, &bytes);
      if (!error->empty()) {
        return false;
      }
    }
    tensors->push_back(executorch::extension::make_tensor_ptr(
        std::move(sizes), std::move(bytes), {}, {}, info->scalar_type()));
    if (options.input_files.empty()) {
      if (!fill_with_ones(*tensors->back())) {
        *error = "input " + std::to_string(i) + " has a dtype the runner cannot generate; pass --input files";
        return false;
      }
    }
    values->emplace_back(tensors->back());
  }
  return true;
}

void print_output(size_t index, const EValue& value, bool verbose) {
  if (!value.isTensor()) {
    std::printf("output %zu: (non-tensor)\n", index);
    return;
  }
  const auto& tensor = value.toTensor();
  std::printf("output %zu: %s [", index, executorch::runtime::toString(tensor.scalar_type()));
  for (ssize_t d = 0; d < tensor.dim(); ++d) {
    std::printf(d ? ", %d" : "%d", static_cast<int>(tensor.size(d)));
  }
  std::printf("]");
  if (tensor.scalar_type() == executorch::aten::ScalarType::Float) {
    const float* data = tensor.const_data_ptr<float>();
    const ssize_t shown = verbose ? tensor.numel() : std::min<ssize_t>(tensor.numel(), 8);
    std::printf(" =");
    for (ssize_t k = 0; k < shown; ++k) {
      std::printf(" %g", data[k]);
    }
    if (shown < tensor.numel()) {
      std::printf(" ...");
    }
  }
  std::printf("\n");
}

// The delegates' state through ExecuTorch's own get_option(), as any C++
// host can query it: comma-separated values, one per delegate in load order.
void print_delegate_states() {
  std::vector<executorch::runtime::BackendOption> queries;
  for (const char* key : kQueryKeys) {
    if (std::strcmp(key, kOptionProgram) != 0) { // a filter, not a value
      queries.emplace_back();
      std::snprintf(queries.back().key, sizeof(queries.back().key), "%s", key);
    }
  }
  const Error err = executorch::runtime::get_option(kBackendId, {queries.data(), queries.size()});
  if (err != Error::Ok) {
    std::printf("delegates: (get_option failed: %s)\n", describe_failure("get_option", err).c_str());
    return;
  }
  for (const auto& query : queries) {
    const auto* text = std::get_if<std::array<char, executorch::runtime::kMaxOptionValueLength>>(&query.value);
    std::printf("delegates %s: %s\n", query.key, text == nullptr ? "?" : printable_message(text->data()).c_str());
  }
}

int run(const RunnerOptions& options) {
  BackendOptionList backend_options;
  for (const std::string& assignment : options.backend_options) {
    const std::string error = backend_options.add_assignment(assignment);
    if (!error.empty()) {
      return usage_error(error);
    }
  }
  LoadBackendOptionsMap map;
  if (!backend_options.empty()) {
    const Error err = map.set_options(kBackendId, backend_options.view());
    if (err != Error::Ok) {
      return fail("setting backend options", err);
    }
  }
  Module::LoadMode mode;
  if (!parse_load_mode(options.load_mode, &mode)) {
    return usage_error("--load-mode must be " + std::string(kLoadModeNames) + ", got '" + options.load_mode + "'");
  }
  const std::string program_name = "'" + options.model_path + "'"; // escaped where printed
  clear_last_error();
  struct stat info {};
  if (stat(options.model_path.c_str(), &info) != 0) {
    return usage_error("cannot read program file " + program_name + ": " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return usage_error("cannot read program file " + program_name + ": it is not a regular file");
  }
  if (!options.data_path.empty() &&
      (stat(options.data_path.c_str(), &info) != 0 || !S_ISREG(info.st_mode))) {
    return usage_error("cannot read named-data file '" + options.data_path + "' (--data-path): not a regular file");
  }
  auto program = load_checked_program(options.model_path, mode, map, options.data_path);
  if (!program.ok()) {
    return fail("loading " + program_name + " as an ExecuTorch program", program.error());
  }
  if (program->layout.method(options.method) == nullptr) {
    std::string known;
    for (const MethodRequirements& method : program->layout.methods) {
      known += (known.empty() ? "" : ", ") + printable_quoted(method.name);
    }
    return usage_error("no method " + printable_quoted(options.method) + " in " + program_name + "; it has: " + known);
  }
  // Module::load succeeds even when a method cannot load; load it here so a
  // delegate's init() failure is reported as such.
  // A program with device-planned buffers needs ExecuTorch's CUDA
  // DeviceAllocator before its method loads; the TensorRT adapter registers
  // it as it loads (as the Python loader's prepare_device_memory does). A
  // failure to load it is reported by the delegate's init(), so it is not
  // reported here.
  (void)engine_runtime_for(Flavour::kTensorRT);
  clear_last_error();
  const std::string method_name = "method '" + options.method + "'"; // escaped by describe_failure
  Error err = load_checked_method(*program, options.method);
  if (err != Error::Ok) {
    return fail("loading " + method_name, err);
  }
  Module& module = *program->module;
  std::vector<TensorPtr> tensors;
  std::vector<EValue> inputs;
  std::string error;
  if (!make_inputs(module, options, &tensors, &inputs, &error)) {
    return usage_error(error);
  }
  clear_last_error();
  auto outputs = execute_checked(*program, options.method, inputs);
  if (!outputs.ok()) {
    return fail("running " + method_name, outputs.error());
  }
  for (size_t i = 0; i < outputs->size(); ++i) {
    print_output(i, (*outputs)[i], options.verbose);
  }
  if (options.verbose) {
    print_delegate_states();
  }
  return 0;
}

} // namespace
} // namespace executorch_tensorrt

int main(int argc, char** argv) {
  using namespace executorch_tensorrt;
  RunnerOptions options;
  std::string error;
  if (!parse_runner_options(argc, argv, &options, &error)) {
    std::fprintf(stderr, "error: %s\n%s", printable_message(error).c_str(), runner_usage());
    return 2;
  }
  if (options.help) {
    std::printf("%s", runner_usage());
    return 0;
  }
  if (options.list_backends) {
    return list_backends();
  }
  try {
    return run(options);
  } catch (const std::exception& err) {
    // ExecuTorch's Module allocates with new (planned memory, method
    // holders); an exception must end the run with a message, not abort.
    std::fprintf(stderr, "error: %s\n", printable_message(err.what()).c_str());
    return 1;
  }
}
