// executorch_tensorrt.runtime._runtime: loads .pte programs through
// ExecuTorch's shared runtime with load-time backend options (which
// ExecuTorch's own Python API cannot pass) and runs them on tensors described
// by (data pointer, sizes, scalar type). It never links libtorch: the Python
// layer reads torch tensors' pointers and builds outputs with torch itself.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <atomic>
#include <cctype>
#include <mutex>
#include <optional>
#include <type_traits>
#include <string>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>
#include <executorch/runtime/backend/backend_options_map.h>
#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/core/device_allocator.h>

#include "../../backend/backend_id.h"
#include "option_table.h"
#include "../../backend/blob/delegate_blob.h"
#include "../../backend/engines/engine_runtime_registry.h"
#include "../../backend/common/error_report.h"
#include "../../backend/execute/caller_stream.h"
#include "../support/backend_option_list.h"
#include "../support/method_calls.h"
#include "../support/runtime_reporting.h"
#include "../../backend/control/program_tag.h"
#include "program_control.h"
#include "python_errors.h"
#include "python_options.h"

namespace py = pybind11;

extern "C" int executorch_tensorrt_registration_status();

namespace executorch_tensorrt {
namespace {

using executorch::extension::TensorPtr;
using executorch::extension::module::Module;
using executorch::runtime::EValue;
using executorch::runtime::LoadBackendOptionsMap;

// One method output copied out of ExecuTorch's memory (no GIL needed).
struct OutputValue {
  enum class Kind { kTensor, kBool, kInt, kDouble, kNone } kind = Kind::kNone;
  std::string bytes; // tensor data
  std::vector<int64_t> sizes;
  int scalar_type = 0;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0.0;
};

OutputValue copy_output(const EValue& value) {
  OutputValue out;
  if (value.isTensor()) {
    const auto& tensor = value.toTensor();
    if (tensor.unsafeGetTensorImpl()->device_type() != executorch::aten::DeviceType::CPU) {
      // A device-I/O program's outputs are device memory; a host copy here
      // would read it as host memory.
      throw std::runtime_error(
          "the program returns device tensors; load it with device=\"cuda\" so they are bound to CUDA tensors");
    }
    out.kind = OutputValue::Kind::kTensor;
    out.bytes.assign(static_cast<const char*>(tensor.const_data_ptr()), tensor.nbytes());
    out.sizes.assign(tensor.sizes().begin(), tensor.sizes().end());
    out.scalar_type = static_cast<int>(tensor.scalar_type());
  } else if (value.isBool()) {
    out.kind = OutputValue::Kind::kBool;
    out.boolean = value.toBool();
  } else if (value.isInt()) {
    out.kind = OutputValue::Kind::kInt;
    out.integer = value.toInt();
  } else if (value.isDouble()) {
    out.kind = OutputValue::Kind::kDouble;
    out.real = value.toDouble();
  }
  return out;
}

py::object to_python(OutputValue& value) {
  switch (value.kind) {
    case OutputValue::Kind::kTensor:
      return py::make_tuple(
          py::bytearray(value.bytes.data(), value.bytes.size()), value.sizes, value.scalar_type);
    case OutputValue::Kind::kBool:
      return py::bool_(value.boolean);
    case OutputValue::Kind::kInt:
      return py::int_(value.integer);
    case OutputValue::Kind::kDouble:
      return py::float_(value.real);
    case OutputValue::Kind::kNone:
      break;
  }
  return py::none();
}

class LoadedProgram {
 public:
  // `backend_options`: {backend_id: {key: value}}; `load_mode`: see
  // parse_load_mode().
  // `data_path`: the program's .ptd, or "" for none.
  LoadedProgram(
      const std::string& path,
      const py::dict& backend_options,
      const std::string& load_mode,
      const std::string& data_path)
      : tag_(new_program_tag()) {
    Module::LoadMode mode;
    if (!parse_load_mode(load_mode, &mode)) {
      throw py::value_error("load_mode must be " + std::string(kLoadModeNames) + ", got '" + load_mode + "'");
    }
    // LoadBackendOptionsMap holds at most 8 backends and ids under 64
    // characters (its private kMaxBackends and kMaxBackendIdLength).
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
    // One method instance per execution context (execution_contexts): an
    // ExecuTorch method runs one call at a time, so calls from several
    // threads run at once only on several instances. Their delegates share
    // the engines (backend/engines/delegate_sharing.h).
    const size_t count = method_instances(backend_options);
    for (size_t i = 0; i < count; ++i) {
      clear_last_error();
      Result<CheckedModule> loaded = [&] {
        py::gil_scoped_release no_gil;
        ProgramTagScope tag_scope(tag_);
        return load_checked_program(path, mode, map, data_path);
      }();
      if (!loaded.ok()) {
        raise_error("loading " + path + " as an ExecuTorch program", loaded.error());
      }
      instances_.push_back(std::make_unique<Instance>(std::move(*loaded), static_cast<int32_t>(i)));
    }
  }

  int64_t tag() const {
    return tag_;
  }

  // The program check refused names that are not printable UTF-8, so they
  // convert to str and back unchanged.
  std::vector<std::string> method_names() {
    std::vector<std::string> names;
    for (const MethodRequirements& method : instances_.front()->program.layout.methods) {
      names.push_back(method.name);
    }
    return names;
  }

  void load_method(const std::string& method) {
    for (auto& instance : instances_) {
      locked_instance(*instance, [&](Instance& held) {
        const Error err = load_checked_method(held.program, method);
        if (err != Error::Ok) {
          raise_error("loading method '" + method + "'", err);
        }
      });
    }
  }

  // [(sizes, scalar_type) | None] per input: None for a non-tensor input.
  py::list input_specs(const std::string& method) {
    return tensor_specs(method, /*outputs=*/false);
  }

  // [(max sizes, scalar_type) | None] per output; the sizes are the upper
  // bounds a caller-provided output buffer must hold.
  py::list output_specs(const std::string& method) {
    return tensor_specs(method, /*outputs=*/true);
  }

  // inputs: [(data_ptr, sizes, scalar_type[, device_index]) | bool | int | float]
  // (device_index: CUDA device of data_ptr; absent or -1 for host memory)
  // returns: [(bytearray, sizes, scalar_type) | scalar], owned by Python.
  py::list execute(const std::string& method, const py::list& inputs) {
    std::vector<TensorPtr> tensors;
    std::vector<EValue> values;
    to_method_inputs(inputs, tensors, values);
    // ExecuTorch's Module is not re-entrant and its outputs live in the
    // method's memory, which the next execute overwrites: run and copy the
    // outputs out under one lock.
    std::vector<OutputValue> copied = locked([&](Instance& held) {
      auto result = execute_checked(held.program, method, values);
      if (!result.ok()) {
        raise_error("running method '" + method + "'", result.error());
      }
      std::vector<OutputValue> out;
      out.reserve(result->size());
      for (const EValue& value : *result) {
        out.push_back(copy_output(value));
      }
      return out;
    });
    py::list outputs;
    for (OutputValue& value : copied) {
      outputs.append(to_python(value));
    }
    return outputs;
  }

  // Runs `method` with its outputs written straight into caller memory.
  // inputs: as execute(); outputs: one (data_ptr, max_sizes, scalar_type,
  // device_index) per method output, device_index -1 for host memory; the
  // program must leave its outputs unplanned (exported with
  // DevicePlanning(device_io=True)). Returns each output's final sizes.
  // `stream` (a cudaStream_t as an int, or None): the call runs on it
  // (CallerStreamGuard), and a call with device tensors only returns with
  // its work enqueued there; without it the delegate has finished all device
  // work when this returns. The caller keeps every buffer alive until then.
  py::list execute_into(
      const std::string& method, const py::list& inputs, const py::list& outputs, const py::object& stream) {
    std::optional<uintptr_t> stream_handle;
    if (!stream.is_none()) {
      stream_handle = stream.cast<uintptr_t>();
    }
    std::vector<TensorPtr> tensors;
    std::vector<EValue> values;
    to_method_inputs(inputs, tensors, values);
    std::vector<TensorPtr> output_tensors;
    for (const auto& item : outputs) {
      output_tensors.push_back(tensor_from_tuple(item.cast<py::tuple>()));
    }
    std::vector<std::vector<int64_t>> sizes = locked([&](Instance& held) {
      std::optional<CallerStreamGuard> on_stream;
      if (stream_handle.has_value()) {
        on_stream.emplace(reinterpret_cast<void*>(*stream_handle));
      }
      for (size_t i = 0; i < output_tensors.size(); ++i) {
        const Error err = held.program.module->set_output(method, EValue(output_tensors[i]), i);
        if (err != Error::Ok) {
          raise_error("binding output " + std::to_string(i) + " of method '" + method +
                          "' to caller memory (export with DevicePlanning(device_io=True) so outputs are not planned)",
                      err);
        }
      }
      auto result = execute_checked(held.program, method, values);
      if (!result.ok()) {
        raise_error("running method '" + method + "'", result.error());
      }
      std::vector<std::vector<int64_t>> out;
      for (const EValue& value : *result) {
        if (!value.isTensor()) {
          raise_error("method '" + method + "' returned a non-tensor output, which execute_into cannot bind", Error::NotSupported);
        }
        const auto& tensor = value.toTensor();
        out.emplace_back(tensor.sizes().begin(), tensor.sizes().end());
      }
      return out;
    });
    return py::cast(sizes);
  }

 private:
  py::list tensor_specs(const std::string& method, bool outputs) {
    // Scalar type -1 marks a non-tensor value until the GIL is back.
    // Every instance has the same method metadata: any free one answers.
    const auto specs = locked([&](Instance& held) {
      auto meta = held.program.module->method_meta(method);
      if (!meta.ok()) {
        raise_error("reading method '" + method + "'", meta.error());
      }
      std::vector<std::pair<std::vector<int64_t>, int>> out;
      const size_t count = outputs ? meta->num_outputs() : meta->num_inputs();
      for (size_t i = 0; i < count; ++i) {
        auto info = outputs ? meta->output_tensor_meta(i) : meta->input_tensor_meta(i);
        if (!info.ok()) {
          out.push_back({{}, -1});
        } else {
          out.push_back({{info->sizes().begin(), info->sizes().end()}, static_cast<int>(info->scalar_type())});
        }
      }
      return out;
    });
    py::list out;
    for (const auto& spec : specs) {
      out.append(spec.second < 0 ? py::object(py::none()) : py::object(py::make_tuple(spec.first, spec.second)));
    }
    return out;
  }

  // (data_ptr, sizes, scalar_type[, device_index]) -> a tensor over that
  // memory, tagged with its device so the delegate binds it zero-copy.
  static TensorPtr tensor_from_tuple(const py::tuple& t) {
    auto* data = reinterpret_cast<void*>(t[0].cast<uintptr_t>());
    auto sizes = t[1].cast<std::vector<executorch::aten::SizesType>>();
    auto type = static_cast<executorch::aten::ScalarType>(t[2].cast<int>());
    const int device_index = t.size() > 3 ? t[3].cast<int>() : -1;
    const executorch::aten::Device device = device_index < 0
        ? executorch::aten::Device(executorch::aten::DeviceType::CPU)
        : executorch::aten::Device(executorch::aten::DeviceType::CUDA,
                                   static_cast<executorch::runtime::etensor::DeviceIndex>(device_index));
    return executorch::extension::from_blob(data, std::move(sizes), type, device);
  }

  static void to_method_inputs(const py::list& inputs, std::vector<TensorPtr>& tensors, std::vector<EValue>& values) {
    tensors.reserve(inputs.size());
    values.reserve(inputs.size());
    for (const auto& item : inputs) {
      if (py::isinstance<py::tuple>(item)) {
        tensors.push_back(tensor_from_tuple(item.cast<py::tuple>()));
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
  }

  // One loaded copy of the program (a Module) and the lock its calls hold.
  struct Instance {
    Instance(CheckedModule loaded, int32_t position) : program(std::move(loaded)), index(position) {}
    CheckedModule program;
    const int32_t index; // its lane in the delegates it shares (MethodInstanceScope)
    std::mutex mutex;
  };

  // The instances to load: the load-time `execution_contexts` of our
  // backend when given as a valid count (the delegate reports an invalid
  // one), else 1.
  static size_t method_instances(const py::dict& backend_options) {
    const py::str backend(kBackendId);
    if (!backend_options.contains(backend)) {
      return 1;
    }
    const py::dict options = backend_options[backend].cast<py::dict>();
    const py::str key(kOptionExecutionContexts);
    if (!options.contains(key)) {
      return 1;
    }
    const py::object value = options[key];
    long long count = 0;
    if (py::isinstance<py::int_>(value) && !py::isinstance<py::bool_>(value)) {
      count = value.cast<long long>();
    } else if (py::isinstance<py::str>(value)) {
      const std::string text = value.cast<std::string>();
      count = text.size() <= 2 && !text.empty() && std::isdigit(static_cast<unsigned char>(text[0])) &&
              std::isdigit(static_cast<unsigned char>(text.back()))
          ? std::stoll(text)
          : 0;
    }
    return count >= kOptionExecutionContextsMinimum && count <= kOptionExecutionContextsMaximum
        ? static_cast<size_t>(count)
        : 1;
  }

  // Runs `work` on one free instance (waiting for one when all are busy)
  // without the GIL. The GIL goes first: waiting for an instance while
  // holding it would deadlock with a thread that holds the instance and
  // wants the GIL. `work` may throw; the GIL is taken back while the
  // exception unwinds, before pybind11 translates it.
  template <typename Work>
  std::invoke_result_t<Work&, Instance&> locked(Work&& work) {
    py::gil_scoped_release no_gil;
    for (auto& instance : instances_) {
      std::unique_lock<std::mutex> attempt(instance->mutex, std::try_to_lock);
      if (attempt.owns_lock()) {
        return run_locked(*instance, work);
      }
    }
    Instance& instance = *instances_[next_wait_.fetch_add(1) % instances_.size()];
    std::lock_guard<std::mutex> lock(instance.mutex);
    return run_locked(instance, work);
  }

  // `work` on `instance`, waiting for it.
  template <typename Work>
  std::invoke_result_t<Work&, Instance&> locked_instance(Instance& instance, Work&& work) {
    py::gil_scoped_release no_gil;
    std::lock_guard<std::mutex> lock(instance.mutex);
    return run_locked(instance, work);
  }

  template <typename Work>
  std::invoke_result_t<Work&, Instance&> run_locked(Instance& instance, Work& work) {
    clear_last_error();
    // Delegates initialized by this work (methods load lazily) belong to
    // this program.
    ProgramTagScope tag_scope(tag_);
    MethodInstanceScope instance_scope(instance.index);
    return work(instance);
  }

  const int64_t tag_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::atomic<size_t> next_wait_{0};
  std::vector<BackendOptionList> option_lists_;
  std::vector<std::string> backend_ids_;
};

// Loads the TensorRT adapter (which registers ExecuTorch's CUDA
// DeviceAllocator when a GPU is visible) ahead of loading a program, because
// ExecuTorch allocates a device-planned program's buffers before any delegate
// init() would load it. True when a CUDA DeviceAllocator is registered.
bool prepare_device_memory() {
  py::gil_scoped_release no_gil;
  clear_last_error();
  (void)engine_runtime_for(Flavour::kTensorRT); // failure is reported by the check below
  return executorch::runtime::get_device_allocator(executorch::aten::DeviceType::CUDA) != nullptr;
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
  auto describe = [](const EngineBlob& engine) {
    const EngineMetadata& meta = engine.metadata;
    py::dict out;
    out["flavour"] = flavour_name(meta.flavour);
    out["version_compatible"] = meta.version_compatible;
    out["device_index"] = meta.device_index;
    out["builder_version"] = text(meta.builder_version);
    out["num_profiles"] = meta.num_profiles;
    out["inputs"] = tensor_list(meta.inputs);
    out["outputs"] = tensor_list(meta.outputs);
    out["engine"] = py::bytes(reinterpret_cast<const char*>(engine.engine), engine.engine_size);
    out[kOptionExecutionMemoryBytes] = engine.execution_memory_hint;
    out["weight_bytes"] = engine.weight_bytes;
    return out;
  };
  // Engine 0's fields at the top (the common single-engine case), every
  // engine under "engines".
  py::dict out = describe(blob->engines[0]);
  py::list engines;
  for (const EngineBlob& engine : blob->engines) {
    engines.append(describe(engine));
  }
  out["engines"] = engines;
  py::dict sections; // kind code -> payload
  for (const BlobSection& section : blob->sections) {
    sections[py::int_(static_cast<uint32_t>(section.kind))] =
        py::bytes(reinterpret_cast<const char*>(section.payload), section.size);
  }
  out["sections"] = sections;
  py::list weights; // the external_weights section, as the delegate reads it
  for (const ExternalWeightSpec& weight : blob->external_weights) {
    py::dict entry;
    entry["name"] = py::bytes(weight.name);
    entry["key"] = py::bytes(weight.key);
    entry["dtype"] = weight.dtype;
    py::list dims;
    for (uint8_t d = 0; d < weight.shape.rank; ++d) {
      dims.append(weight.shape.dims[d]);
    }
    entry["shape"] = dims;
    entry["nbytes"] = weight.nbytes;
    weights.append(entry);
  }
  out["external_weights"] = weights;
  return out;
}

// The whole-program check alone (what load() runs first): {method:
// {"operators": [...], "backends": [...]}}, or ValueError with the reason.
py::dict check_program(const std::string& path) {
  Result<ProgramLayout> layout = [&] {
    py::gil_scoped_release no_gil;
    clear_last_error();
    return check_program_file(path);
  }();
  if (!layout.ok()) {
    throw py::value_error(describe_failure("checking " + path, layout.error()));
  }
  py::dict out;
  for (const MethodRequirements& method : layout->methods) {
    py::dict entry;
    entry["operators"] = method.operators;
    py::list backends;
    for (const DelegateReference& delegate : method.delegates) {
      backends.append(text(delegate.backend_id));
    }
    entry["backends"] = backends;
    out[text(method.name)] = entry;
  }
  return out;
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
  m.def("registered_backends", &registered_backend_names,
        "Backend ids in ExecuTorch's registry, as C++ sees it");
  m.def("last_error", [] { return std::string(last_error_message()); });
  m.def("parse_blob", &parse_blob, py::arg("data"));
  m.def("check_program", &check_program, py::arg("path"),
        "The loaders' whole-program check of a .pte: what each method needs, or ValueError");
  m.def("prepare_device_memory", &prepare_device_memory,
        "Loads the TensorRT adapter; True when ExecuTorch has a CUDA DeviceAllocator");
  py::class_<LoadedProgram>(m, "LoadedProgram")
      .def(py::init<const std::string&, const py::dict&, const std::string&, const std::string&>(), py::arg("path"),
           py::arg("backend_options"), py::arg("load_mode") = "mmap", py::arg("data_path") = "")
      .def("method_names", &LoadedProgram::method_names)
      .def("load_method", &LoadedProgram::load_method, py::arg("method"))
      .def("input_specs", &LoadedProgram::input_specs, py::arg("method"))
      .def("execute", &LoadedProgram::execute, py::arg("method"), py::arg("inputs"))
      .def("output_specs", &LoadedProgram::output_specs, py::arg("method"))
      .def("execute_into", &LoadedProgram::execute_into, py::arg("method"), py::arg("inputs"), py::arg("outputs"),
           py::arg("stream") = py::none())
      .def_property_readonly("tag", &LoadedProgram::tag)
      .def("set_option", [](LoadedProgram& self, const py::dict& options) { set_program_options(self.tag(), options); },
           py::arg("options"))
      .def("get_option", [](LoadedProgram& self, const std::vector<std::string>& keys) {
             return get_program_options(self.tag(), keys);
           }, py::arg("keys"))
      .def("delegate_reports", [](LoadedProgram& self) { return program_delegate_reports(self.tag()); })
      .def("state_buffers", [](LoadedProgram& self) { return program_state_buffers(self.tag()); })
      .def("read_state", [](LoadedProgram& self, const std::string& name) {
        return read_program_state_bytes(self.tag(), name);
      }, py::arg("name"));
}
