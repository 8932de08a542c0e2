// executorch_tensorrt.runtime._runtime: loads .pte programs through
// ExecuTorch's shared runtime with load-time backend options (which
// ExecuTorch's own Python API cannot pass) and runs them on tensors described
// by (data pointer, sizes, scalar type). It never links libtorch: the Python
// layer reads torch tensors' pointers and builds outputs with torch itself.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>
#include <executorch/runtime/backend/backend_options_map.h>
#include <executorch/runtime/backend/interface.h>

#include "../../backend/backend_id.h"
#include "../../backend/delegate_blob.h"
#include "../../backend/error_report.h"
#include "../support/backend_option_list.h"

namespace py = pybind11;

extern "C" int executorch_tensorrt_registration_status();

namespace executorch_tensorrt {
namespace {

using executorch::extension::TensorPtr;
using executorch::extension::module::Module;
using executorch::runtime::EValue;
using executorch::runtime::LoadBackendOptionsMap;

// "what failed: ErrorName (0x..): delegate's reason"
[[noreturn]] void raise_error(const std::string& what, Error error) {
  std::string message = what + ": " + executorch::runtime::to_string(error);
  const std::string detail = last_error_message();
  if (!detail.empty()) {
    message += ": " + detail;
  }
  throw std::runtime_error(message);
}

// Options for one backend id: {"key": str | int | bool}.
BackendOptionList to_option_list(const std::string& backend_id, const py::dict& options) {
  BackendOptionList list;
  for (const auto& item : options) {
    if (!py::isinstance<py::str>(item.first)) {
      throw py::type_error("backend option keys must be str, got " +
                           std::string(py::str(py::type::of(item.first).attr("__name__"))) +
                           " for backend " + backend_id);
    }
    const std::string key = item.first.cast<std::string>();
    const py::handle value = item.second;
    std::string error;
    if (py::isinstance<py::bool_>(value)) {
      error = list.add_bool(key, value.cast<bool>());
    } else if (py::isinstance<py::int_>(value)) {
      error = list.add_int(key, value.cast<int64_t>());
    } else if (py::isinstance<py::str>(value)) {
      error = list.add_string(key, value.cast<std::string>());
    } else {
      throw py::type_error("backend option '" + key + "' for " + backend_id +
                           " must be str, int or bool, got " +
                           std::string(py::str(py::type::of(value).attr("__name__"))));
    }
    if (!error.empty()) {
      throw py::value_error(error + " (backend " + backend_id + ")");
    }
  }
  return list;
}

class LoadedProgram {
 public:
  // `backend_options`: {backend_id: {key: value}}.
  LoadedProgram(const std::string& path, const py::dict& backend_options)
      : module_(std::make_unique<Module>(path, Module::LoadMode::Mmap)) {
    // LoadBackendOptionsMap holds at most 8 backends (its kMaxBackends).
    if (backend_options.size() > 8) {
      throw py::value_error("backend options for at most 8 backends can be given");
    }
    // Storage must outlive load(), which deep-copies the map.
    option_lists_.reserve(backend_options.size());
    LoadBackendOptionsMap map;
    for (const auto& item : backend_options) {
      const std::string backend_id = py::str(item.first);
      if (backend_id.empty() || backend_id.size() >= 64) {
        throw py::value_error("backend id '" + backend_id + "' must be 1..63 characters");
      }
      option_lists_.push_back(to_option_list(backend_id, item.second.cast<py::dict>()));
      backend_ids_.push_back(backend_id);
      const Error err = map.set_options(backend_ids_.back().c_str(), option_lists_.back().view());
      if (err != Error::Ok) {
        raise_error("setting backend options for " + backend_id, err);
      }
    }
    clear_last_error();
    Error err;
    {
      py::gil_scoped_release no_gil;
      err = module_->load(map);
    }
    if (err != Error::Ok) {
      raise_error("loading " + path, err);
    }
  }

  std::vector<std::string> method_names() {
    auto names = module_->method_names();
    if (!names.ok()) {
      raise_error("reading method names", names.error());
    }
    return {names->begin(), names->end()};
  }

  void load_method(const std::string& method) {
    clear_last_error();
    Error err;
    {
      py::gil_scoped_release no_gil;
      err = module_->load_method(method);
    }
    if (err != Error::Ok) {
      raise_error("loading method '" + method + "'", err);
    }
  }

  // [(sizes, scalar_type) | None] per input: None for a non-tensor input.
  py::list input_specs(const std::string& method) {
    auto meta = module_->method_meta(method);
    if (!meta.ok()) {
      raise_error("reading method '" + method + "'", meta.error());
    }
    py::list out;
    for (size_t i = 0; i < meta->num_inputs(); ++i) {
      auto info = meta->input_tensor_meta(i);
      if (!info.ok()) {
        out.append(py::none());
        continue;
      }
      std::vector<int64_t> sizes(info->sizes().begin(), info->sizes().end());
      out.append(py::make_tuple(sizes, static_cast<int>(info->scalar_type())));
    }
    return out;
  }

  // inputs: [(data_ptr, sizes, scalar_type) | bool | int | float]
  // returns: [(memoryview, sizes, scalar_type) | scalar]; memoryviews are only
  // valid until the next execute, so the Python layer copies them at once.
  py::list execute(const std::string& method, const py::list& inputs) {
    std::vector<TensorPtr> tensors;
    std::vector<EValue> values;
    tensors.reserve(inputs.size());
    values.reserve(inputs.size());
    for (const auto& item : inputs) {
      if (py::isinstance<py::tuple>(item)) {
        auto t = item.cast<py::tuple>();
        auto* data = reinterpret_cast<void*>(t[0].cast<uintptr_t>());
        auto sizes = t[1].cast<std::vector<executorch::aten::SizesType>>();
        auto type = static_cast<executorch::aten::ScalarType>(t[2].cast<int>());
        tensors.push_back(executorch::extension::from_blob(data, std::move(sizes), type));
        values.emplace_back(tensors.back());
      } else if (py::isinstance<py::bool_>(item)) {
        values.emplace_back(item.cast<bool>());
      } else if (py::isinstance<py::int_>(item)) {
        values.emplace_back(item.cast<int64_t>());
      } else if (py::isinstance<py::float_>(item)) {
        values.emplace_back(item.cast<double>());
      } else {
        throw py::type_error("unsupported input of type " +
                             std::string(py::str(py::type::of(item).attr("__name__"))));
      }
    }
    clear_last_error();
    auto result = [&] {
      py::gil_scoped_release no_gil;
      return module_->execute(method, values);
    }();
    if (!result.ok()) {
      raise_error("running method '" + method + "'", result.error());
    }
    py::list outputs;
    for (const EValue& value : *result) {
      if (value.isTensor()) {
        const auto& tensor = value.toTensor();
        std::vector<int64_t> sizes(tensor.sizes().begin(), tensor.sizes().end());
        outputs.append(py::make_tuple(
            py::memoryview::from_memory(const_cast<void*>(tensor.const_data_ptr()), static_cast<ssize_t>(tensor.nbytes()), false),
            sizes,
            static_cast<int>(tensor.scalar_type())));
      } else if (value.isBool()) {
        outputs.append(value.toBool());
      } else if (value.isInt()) {
        outputs.append(value.toInt());
      } else if (value.isDouble()) {
        outputs.append(value.toDouble());
      } else {
        outputs.append(py::none());
      }
    }
    return outputs;
  }

 private:
  std::unique_ptr<Module> module_;
  std::vector<BackendOptionList> option_lists_;
  std::vector<std::string> backend_ids_;
};

// Names are bytes to the parser; show invalid UTF-8 as replacement characters
// rather than failing the conversion.
py::str text(const std::string& bytes) {
  PyObject* decoded = PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), "replace");
  if (decoded == nullptr) {
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::str>(decoded);
}

py::dict shape_range_dict(const ShapeRange& range) {
  auto dims = [](const Shape& s) {
    return std::vector<int64_t>(s.dims.begin(), s.dims.begin() + s.rank);
  };
  py::dict out;
  out["min"] = dims(range.min);
  out["opt"] = dims(range.opt);
  out["max"] = dims(range.max);
  return out;
}

py::list tensor_list(const std::vector<TensorSpec>& specs) {
  py::list out;
  for (const TensorSpec& spec : specs) {
    py::dict entry;
    entry["name"] = text(spec.name);
    entry["dtype"] = spec.dtype;
    py::list ranges;
    for (const ShapeRange& range : spec.ranges) {
      ranges.append(shape_range_dict(range));
    }
    entry["ranges"] = ranges;
    out.append(entry);
  }
  return out;
}

// The C++ blob reader, exposed so tests can check it against the Python
// writer and reader.
py::dict parse_blob(const py::bytes& data) {
  const std::string bytes = data;
  clear_last_error();
  auto blob = parse_delegate_blob(bytes.data(), bytes.size());
  if (!blob.ok()) {
    throw py::value_error(last_error_message());
  }
  const EngineMetadata& meta = blob->metadata;
  py::dict out;
  out["flavour"] = flavour_name(meta.flavour);
  out["version_compatible"] = meta.version_compatible;
  out["device_index"] = meta.device_index;
  out["builder_version"] = text(meta.builder_version);
  out["num_profiles"] = meta.num_profiles;
  out["inputs"] = tensor_list(meta.inputs);
  out["outputs"] = tensor_list(meta.outputs);
  out["engine"] = py::bytes(reinterpret_cast<const char*>(blob->engine), blob->engine_size);
  return out;
}

std::vector<std::string> registered_backends() {
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

} // namespace
} // namespace executorch_tensorrt

PYBIND11_MODULE(_runtime, m) {
  using namespace executorch_tensorrt;
  m.doc() = "executorch-tensorrt native runtime (ExecuTorch Module with backend options)";
  m.attr("BACKEND_ID") = kBackendId;
  m.attr("MAX_OPTION_KEY_CHARS") = executorch::runtime::kMaxOptionKeyLength - 1;
  m.attr("MAX_OPTION_VALUE_CHARS") = executorch::runtime::kMaxOptionValueLength - 1;
  m.def("registration_status", &executorch_tensorrt_registration_status,
        "0 if the delegate registered with ExecuTorch, else the ExecuTorch error code");
  m.def("registered_backends", &registered_backends,
        "Backend ids in ExecuTorch's registry, as C++ sees it");
  m.def("last_error", [] { return std::string(last_error_message()); });
  m.def("parse_blob", &parse_blob, py::arg("data"));
  py::class_<LoadedProgram>(m, "LoadedProgram")
      .def(py::init<const std::string&, const py::dict&>(), py::arg("path"), py::arg("backend_options"))
      .def("method_names", &LoadedProgram::method_names)
      .def("load_method", &LoadedProgram::load_method, py::arg("method"))
      .def("input_specs", &LoadedProgram::input_specs, py::arg("method"))
      .def("execute", &LoadedProgram::execute, py::arg("method"), py::arg("inputs"));
}
