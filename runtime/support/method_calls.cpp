#include "method_calls.h"

#include <new>

#include <executorch/runtime/core/exec_aten/util/scalar_type_util.h>

#include "../../backend/common/error_report.h"
#include "../../backend/common/printable_text.h"

namespace executorch_tensorrt {
namespace {

// What the loaders know about `method` when ExecuTorch refuses it without a
// reason of its own (its log may hold one).
std::string method_facts(const MethodRequirements& method) {
  std::string backends;
  for (const DelegateReference& delegate : method.delegates) {
    backends += (backends.empty() ? "" : ", ") + printable_quoted(delegate.backend_id) +
        (delegate.in_segment ? " (data segment " : " (inline data ") + std::to_string(delegate.index) + ")";
  }
  return "it delegates to " + (backends.empty() ? std::string("no backend") : backends) + " and calls operators " +
      printable_list(method.operators);
}

template <typename Sizes>
std::string shape_text(executorch::aten::ScalarType type, const Sizes& sizes) {
  std::string out = std::string(executorch::runtime::toString(type)) + " [";
  for (size_t d = 0; d < sizes.size(); ++d) {
    out += (d ? ", " : "") + std::to_string(sizes[d]);
  }
  return out + "]";
}

std::string value_text(const EValue& value) {
  if (value.isTensor()) {
    const auto& tensor = value.toTensor();
    return shape_text(tensor.scalar_type(), tensor.sizes()) + " (" + std::to_string(tensor.nbytes()) + " bytes)";
  }
  return value.isBool() ? "a bool" : value.isInt() ? "an int" : value.isDouble() ? "a float" : "a non-tensor value";
}

// "expected ..., got ..." for input `index`, from the method's own plan.
Error explain_input(Module& module, const std::string& method, size_t index, const EValue& value, Error err) {
  if (last_error_message()[0] != '\0') {
    return err; // a delegate already said why
  }
  auto meta = module.method_meta(method);
  std::string planned = "a non-tensor value";
  if (meta.ok()) {
    auto info = meta->input_tensor_meta(index);
    if (info.ok()) {
      planned = shape_text(info->scalar_type(), info->sizes()) + " (" + std::to_string(info->nbytes()) +
          " bytes; dynamic dimensions may be smaller)";
    }
  }
  return report_error(err, "input %zu: expected %s, got %s", index, planned.c_str(), value_text(value).c_str());
}

} // namespace

bool parse_load_mode(const std::string& name, Module::LoadMode* mode) {
  if (name == "mmap") {
    *mode = Module::LoadMode::Mmap;
  } else if (name == "read") {
    *mode = Module::LoadMode::File;
  } else {
    return false;
  }
  return true;
}

Result<CheckedModule> load_checked_program(
    const std::string& path,
    Module::LoadMode mode,
    const executorch::runtime::LoadBackendOptionsMap& options,
    const std::string& data_path) {
  auto layout = check_program_file(path);
  if (!layout.ok()) {
    return layout.error();
  }
  if (!data_path.empty()) {
    const Error err = check_data_file(data_path);
    if (err != Error::Ok) {
      return err;
    }
  }
  CheckedModule program{
      std::move(*layout),
      data_path.empty() ? std::make_unique<Module>(path, mode) : std::make_unique<Module>(path, data_path, mode)};
  // Full flatbuffer verification as well: ExecuTorch's default (Minimal)
  // trusts the tables this check does not read.
  const Error err = program.module->load(options, executorch::runtime::Program::Verification::InternalConsistency);
  if (err != Error::Ok) {
    return err;
  }
  return program;
}

Error load_checked_method(CheckedModule& program, const std::string& method) {
  const MethodRequirements* needs = program.layout.method(method);
  if (needs == nullptr) {
    return report_error(Error::NotFound, "the program has no method %s", printable_quoted(method).c_str());
  }
  Error err = check_method_requirements(*needs);
  if (err != Error::Ok) {
    return err;
  }
  try {
    err = program.module->load_method(method);
  } catch (const std::bad_alloc&) {
    return report_error(Error::MemoryAllocationFailed, "method %s: not enough host memory for its planned buffers",
                        printable_quoted(method).c_str());
  }
  if (err == Error::Ok || last_error_message()[0] != '\0') {
    return err;
  }
  if (err == Error::OperatorMissing) {
    return report_error(err, "method %s: a kernel library has one of its operators (%s) but not for the dtypes "
                        "the method calls it with", printable_quoted(method).c_str(),
                        printable_list(needs->operators).c_str());
  }
  return report_error(err, "ExecuTorch refused method %s without a reason (its log above may have one); %s",
                      printable_quoted(method).c_str(), method_facts(*needs).c_str());
}

Result<std::vector<EValue>> execute_checked(
    CheckedModule& program,
    const std::string& method,
    const std::vector<EValue>& inputs) {
  Module& module = *program.module;
  auto meta = module.method_meta(method);
  if (meta.ok() && meta->num_inputs() != inputs.size()) {
    return report_error(Error::InvalidArgument, "method %s takes %zu inputs, got %zu", printable_quoted(method).c_str(),
                        meta->num_inputs(), inputs.size());
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Error err = module.set_input(method, inputs[i], i);
    if (err != Error::Ok) {
      return explain_input(module, method, i, inputs[i], err);
    }
  }
  auto outputs = module.execute(method);
  const MethodRequirements* needs = program.layout.method(method);
  if (!outputs.ok() && last_error_message()[0] == '\0' && needs != nullptr) {
    return report_error(outputs.error(), "ExecuTorch failed running method %s without a reason (its log above may "
                        "have one); %s", printable_quoted(method).c_str(), method_facts(*needs).c_str());
  }
  return outputs;
}

} // namespace executorch_tensorrt
