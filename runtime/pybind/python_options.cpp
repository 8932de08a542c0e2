#include "python_options.h"

namespace py = pybind11;

namespace executorch_tensorrt {

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
      // pybind11's cast fails beyond 64 bits with no key in its message.
      int overflow = 0;
      const long long number = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
      error = overflow == 0 ? list.add_int(key, number)
                            : list.int_out_of_range(key, std::string(py::str(value)));
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

} // namespace executorch_tensorrt
