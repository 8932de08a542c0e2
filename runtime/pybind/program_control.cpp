#include "program_control.h"
#include "../../backend/state/delegate_state.h"

#include <pybind11/stl.h>

#include <cstring>
#include <variant>

#include <executorch/runtime/backend/interface.h>

#include "../../backend/backend_id.h"
#include "../../backend/options/delegate_options.h"
#include "../../backend/control/delegate_registry.h"
#include "../../backend/control/report_fields.h"
#include "../../backend/common/error_report.h"
#include "python_errors.h"
#include "python_options.h"

namespace py = pybind11;

namespace executorch_tensorrt {

using executorch::runtime::BackendOption;
using executorch::runtime::kMaxOptionValueLength;

void set_program_options(int64_t tag, const py::dict& options) {
  if (options.contains(kOptionProgram)) {
    throw py::value_error(std::string("'") + kOptionProgram + "' is set by the loaded program itself; do not pass it");
  }
  BackendOptionList list = to_option_list(kBackendId, options);
  const std::string error = list.add_int(kOptionProgram, tag);
  if (!error.empty()) {
    throw py::value_error(error);
  }
  Error err;
  {
    // set_option waits for executes in flight, which may need the GIL to
    // finish (another Python thread).
    py::gil_scoped_release no_gil;
    clear_last_error();
    err = executorch::runtime::set_option(kBackendId, list.view());
  }
  if (err != Error::Ok) {
    raise_error("set_option", err);
  }
}

py::dict get_program_options(int64_t tag, const std::vector<std::string>& keys) {
  std::vector<BackendOption> queries(keys.size() + 1);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].empty() || keys[i].size() >= sizeof(queries[i].key)) {
      throw py::value_error("option key '" + keys[i] + "' must be 1..63 characters");
    }
    std::memcpy(queries[i].key, keys[i].data(), keys[i].size());
  }
  std::memcpy(queries.back().key, kOptionProgram, std::strlen(kOptionProgram));
  queries.back().value = static_cast<int>(tag);
  Error err;
  {
    py::gil_scoped_release no_gil;
    clear_last_error();
    err = executorch::runtime::get_option(kBackendId, {queries.data(), queries.size()});
  }
  if (err != Error::Ok) {
    raise_error("get_option", err);
  }
  py::dict out;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto* value = std::get_if<std::array<char, kMaxOptionValueLength>>(&queries[i].value);
    // ExecuTorch cuts values at 255 bytes, possibly inside a UTF-8 character.
    out[py::str(keys[i])] = value == nullptr ? py::str() : text(std::string(value->data()));
  }
  return out;
}

namespace {

py::dict pool_dict(const ExecutionMemoryPoolReport& p) {
  py::dict pool;
  pool["id"] = p.id;
  pool["scope"] = execution_memory_scope_name(p.scope);
  pool["bytes"] = p.capacity_bytes;
  pool["largest_need_bytes"] = p.largest_need_bytes;
  pool["summed_need_bytes"] = p.summed_need_bytes;
  pool["members"] = p.members;
  pool["runs"] = p.leases;
  pool["waits"] = p.waits;
  pool["allocations"] = p.allocations;
  return pool;
}

} // namespace

py::list program_delegate_reports(int64_t tag) {
  std::vector<DelegateReport> reports;
  {
    py::gil_scoped_release no_gil;
    reports = delegate_reports(tag);
  }
  py::list out;
  for (const DelegateReport& report : reports) {
    py::dict entry;
    py::dict counters;
    for (const ReportField& field : report_fields()) {
      if (field.place != kReportStructured) {
        (field.place == kReportCounter ? counters : entry)[field.key] = field.value(report); // monostate: None
      }
    }
    entry["counters"] = counters;
    // The structured entries, which get_option answers as a count or text.
    entry["pool"] = report.pool.has_value() ? py::object(pool_dict(*report.pool)) : py::object(py::none());
    py::list engines;
    for (const EngineReport& e : report.engines) {
      py::dict engine;
      engine["input_ranges"] = text(e.input_ranges);
      engine[kOptionState] = e.state;
      engine[kOptionDeviceBytes] = e.device_bytes;
      engine[kOptionExecutionMemoryBytes] = e.execution_memory_bytes;
      engines.append(engine);
    }
    entry[kOptionEngines] = engines;
    py::list batches;
    for (const DelegateExecutor::BatchServed& b : report.batches_served) {
      py::dict served;
      served["batch"] = b.batch;
      served["engine"] = b.engine;
      served["profile"] = b.profile;
      served["calls"] = b.calls;
      batches.append(served);
    }
    entry[kOptionBatchesServed] = batches;
    py::list lane_pools;
    for (const ExecutionMemoryPoolReport& pool : report.lane_pools) {
      lane_pools.append(pool_dict(pool));
    }
    entry["lane_pools"] = lane_pools;
    out.append(entry);
  }
  return out;
}

pybind11::list program_state_buffers(int64_t tag) {
  pybind11::list names;
  for (const auto& buffer : program_states(static_cast<uint64_t>(tag))) {
    names.append(buffer->spec.name);
  }
  return names;
}

pybind11::tuple read_program_state_bytes(int64_t tag, const std::string& name) {
  clear_last_error();
  StateSpec spec;
  Result<std::vector<uint8_t>> bytes = read_program_state(static_cast<uint64_t>(tag), name, &spec);
  if (!bytes.ok()) {
    raise_error("read_state", bytes.error());
  }
  pybind11::list shape;
  for (uint8_t d = 0; d < spec.shape.rank; ++d) {
    shape.append(spec.shape.dims[d]);
  }
  return pybind11::make_tuple(
      pybind11::bytes(reinterpret_cast<const char*>(bytes->data()), bytes->size()), spec.dtype, shape);
}

} // namespace executorch_tensorrt
