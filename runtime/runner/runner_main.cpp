// executorch-tensorrt-runner: loads a .pte with C++ Module::load and
// load-time backend options, runs one method and prints its outputs or the
// error (with the delegate's reason, not just ExecuTorch's error code).

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <variant>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/runtime/backend/backend_options_map.h>
#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/core/exec_aten/util/scalar_type_util.h>

#include "../../backend/backend_id.h"
#include "../../backend/engine_runtime_registry.h"
#include "../../backend/error_report.h"
#include "../support/backend_option_list.h"
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
    *error = "no method '" + options.method + "' in the program";
    return false;
  }
  const size_t n = meta->num_inputs();
  if (!options.input_files.empty() && options.input_files.size() != n) {
    *error = "method '" + options.method + "' takes " + std::to_string(n) + " inputs, got " +
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
      std::ifstream file(options.input_files[i], std::ios::binary);
      if (!file) {
        *error = "cannot read input file '" + options.input_files[i] + "'";
        return false;
      }
      std::vector<uint8_t> data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
      if (data.size() != nbytes) {
        *error = "input file '" + options.input_files[i] + "' has " + std::to_string(data.size()) +
            " bytes; input " + std::to_string(i) + " needs " + std::to_string(nbytes);
        return false;
      }
      bytes = std::move(data);
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
  const char* keys[] = {
      "state", "init_policy", "weight_streaming_budget", "weight_streaming_budget_source", "device_bytes", "init_ms",
      "engines", "execution_memory", "execution_memory_bytes", "execution_memory_pool_bytes", "batches_served"};
  std::vector<executorch::runtime::BackendOption> queries(std::size(keys));
  for (size_t i = 0; i < queries.size(); ++i) {
    std::snprintf(queries[i].key, sizeof(queries[i].key), "%s", keys[i]);
  }
  const Error err = executorch::runtime::get_option(kBackendId, {queries.data(), queries.size()});
  if (err != Error::Ok) {
    std::printf("delegates: (get_option failed: %s)\n", describe_failure("get_option", err).c_str());
    return;
  }
  for (const auto& query : queries) {
    const auto* text = std::get_if<std::array<char, executorch::runtime::kMaxOptionValueLength>>(&query.value);
    std::printf("delegates %s: %s\n", query.key, text == nullptr ? "?" : text->data());
  }
}

int run(const RunnerOptions& options) {
  BackendOptionList backend_options;
  for (const std::string& assignment : options.backend_options) {
    const std::string error = backend_options.add_assignment(assignment);
    if (!error.empty()) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return 2;
    }
  }
  LoadBackendOptionsMap map;
  if (!backend_options.empty()) {
    const Error err = map.set_options(kBackendId, backend_options.view());
    if (err != Error::Ok) {
      return fail("setting backend options", err);
    }
  }
  if (!std::ifstream(options.model_path, std::ios::binary)) {
    std::fprintf(stderr, "error: cannot read program file '%s'\n", options.model_path.c_str());
    return 2;
  }
  Module module(options.model_path, Module::LoadMode::Mmap);
  clear_last_error();
  // Full flatbuffer verification: with the default (Minimal) a corrupted
  // program table crashes ExecuTorch's loader instead of failing.
  Error err = module.load(map, executorch::runtime::Program::Verification::InternalConsistency);
  if (err != Error::Ok) {
    return fail("loading " + options.model_path + " as an ExecuTorch program", err);
  }
  auto names = module.method_names();
  if (!names.ok()) {
    return fail("reading the methods of " + options.model_path, names.error());
  }
  if (names->count(options.method) == 0) {
    std::string known;
    for (const std::string& name : *names) {
      known += (known.empty() ? "" : ", ") + name;
    }
    std::fprintf(stderr, "error: no method '%s' in %s; it has: %s\n", options.method.c_str(),
                 options.model_path.c_str(), known.c_str());
    return 2;
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
  if ((err = module.load_method(options.method)) != Error::Ok) {
    return fail("loading method '" + options.method + "'", err);
  }
  std::vector<TensorPtr> tensors;
  std::vector<EValue> inputs;
  std::string error;
  if (!make_inputs(module, options, &tensors, &inputs, &error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 2;
  }
  auto outputs = module.execute(options.method, inputs);
  if (!outputs.ok()) {
    return fail("running method '" + options.method + "'", outputs.error());
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
    std::fprintf(stderr, "error: %s\n%s", error.c_str(), runner_usage());
    return 2;
  }
  if (options.help) {
    std::printf("%s", runner_usage());
    return 0;
  }
  if (options.list_backends) {
    return list_backends();
  }
  return run(options);
}
