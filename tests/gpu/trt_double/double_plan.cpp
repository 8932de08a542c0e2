// Plan parsing and shape inference of the TensorRT runtime double (a test
// double, not TensorRT); see PLAN_FORMAT.md.

#include "double_plan.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>

namespace trt_double {
namespace {

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(line);
  while (std::getline(in, part, sep)) {
    if (!part.empty()) {
      out.push_back(part);
    }
  }
  return out;
}

bool parse_int(const std::string& text, int64_t lo, int64_t hi, int64_t* out) {
  if (text.empty()) {
    return false;
  }
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || value < lo || value > hi) {
    return false;
  }
  *out = value;
  return true;
}

bool parse_float(const std::string& text, float* out) {
  errno = 0;
  char* end = nullptr;
  const float value = std::strtof(text.c_str(), &end);
  if (text.empty() || errno != 0 || *end != '\0') {
    return false;
  }
  *out = value;
  return true;
}

bool parse_dims(const std::string& text, int rank, Shape* out) {
  out->clear();
  for (const std::string& part : split(text, ',')) {
    int64_t value = 0;
    if (!parse_int(part, 0, int64_t(1) << 31, &value)) {
      return false;
    }
    out->push_back(value);
  }
  return static_cast<int>(out->size()) == rank;
}

bool op_kind(const std::string& name, OpKind* kind, size_t* min_args, size_t* max_args) {
  static const std::map<std::string, OpKind> kinds = {
      {"add", OpKind::kAdd}, {"sub", OpKind::kSub}, {"mul", OpKind::kMul}, {"relu", OpKind::kRelu},
      {"neg", OpKind::kNeg}, {"copy", OpKind::kCopy}, {"linear", OpKind::kLinear},
      {"nonzero", OpKind::kNonzero}};
  const auto it = kinds.find(name);
  if (it == kinds.end()) {
    return false;
  }
  *kind = it->second;
  const bool binary = *kind == OpKind::kAdd || *kind == OpKind::kSub || *kind == OpKind::kMul;
  *min_args = *kind == OpKind::kLinear ? 2 : binary ? 2 : 1;
  *max_args = *kind == OpKind::kLinear ? 3 : *min_args;
  return true;
}

} // namespace

bool Plan::is_data_dependent(const std::string& name) const {
  for (const std::string& output : data_dependent) {
    if (output == name) {
      return true;
    }
  }
  return false;
}

const IoTensor* Plan::find_io(const std::string& name) const {
  for (const IoTensor& t : io) {
    if (t.name == name) {
      return &t;
    }
  }
  return nullptr;
}

const Weight* Plan::find_weight(const std::string& name) const {
  for (const Weight& w : weights) {
    if (w.name == name) {
      return &w;
    }
  }
  return nullptr;
}

int Plan::input_count() const {
  int count = 0;
  for (const IoTensor& t : io) {
    count += t.is_input ? 1 : 0;
  }
  return count;
}

int64_t element_count(const Shape& dims) {
  int64_t count = 1;
  for (int64_t d : dims) {
    count *= d;
  }
  return count;
}

int64_t align_up(int64_t bytes) {
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

std::string dims_text(const Shape& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    out += (i ? "," : "") + std::to_string(dims[i]);
  }
  return out + "]";
}

std::size_t plan_extent(const char* bytes, std::size_t size) {
  std::size_t at = 0;
  while (at < size) {
    const char* newline = static_cast<const char*>(std::memchr(bytes + at, '\n', size - at));
    const std::size_t line_end = newline ? static_cast<std::size_t>(newline - bytes) : size;
    if (line_end - at == 3 && std::memcmp(bytes + at, "end", 3) == 0) {
      return newline ? line_end + 1 : size;
    }
    at = line_end + 1;
  }
  return size;
}

bool parse_plan(const std::string& text, Plan* plan, std::string* error) {
  *plan = Plan();
  std::istringstream in(text);
  std::string line;
  int number = 0;
  bool header = false;
  std::set<std::string> defined; // tensor names usable as op args
  std::set<std::string> assigned;
  std::map<std::string, int> range_count;
  int64_t resident_pad = 0, streamable_pad = 0;
  auto fail = [&](const std::string& why) {
    *error = "line " + std::to_string(number) + ": " + why;
    return false;
  };
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    if (!header) {
      if (line != kHeader) {
        *error = std::string("not a double plan (first line must be '") + kHeader + "')";
        return false;
      }
      header = true;
      continue;
    }
    if (line == "end") {
      break; // the plan ends here; nothing after this line is read
    }
    const std::vector<std::string> w = split(line, ' ');
    const std::string& kind = w[0];
    int64_t value = 0;
    if (kind == "profiles" && w.size() == 2) {
      if (!parse_int(w[1], 1, kMaxProfiles, &value)) {
        return fail("profiles must be 1.." + std::to_string(kMaxProfiles));
      }
      plan->profiles = static_cast<int>(value);
    } else if (kind == "input" && w.size() == 3) {
      if (plan->find_io(w[1]) || !parse_int(w[2], 0, kMaxRank, &value)) {
        return fail("bad or repeated input '" + w[1] + "'");
      }
      IoTensor t;
      t.name = w[1];
      t.is_input = true;
      t.rank = static_cast<int>(value);
      t.ranges.resize(plan->profiles);
      plan->io.push_back(t);
      defined.insert(t.name);
    } else if (kind == "output" && w.size() == 2) {
      if (plan->find_io(w[1])) {
        return fail("repeated tensor '" + w[1] + "'");
      }
      IoTensor t;
      t.name = w[1];
      plan->io.push_back(t);
    } else if (kind == "range" && w.size() == 6) {
      IoTensor* t = const_cast<IoTensor*>(plan->find_io(w[1]));
      if (!t || !t->is_input || !parse_int(w[2], 0, plan->profiles - 1, &value)) {
        return fail("range for an unknown input or profile");
      }
      Range& r = t->ranges[value];
      if (!parse_dims(w[3], t->rank, &r.min) || !parse_dims(w[4], t->rank, &r.opt) ||
          !parse_dims(w[5], t->rank, &r.max)) {
        return fail("range dims must be " + std::to_string(t->rank) + " comma-separated sizes");
      }
      for (int d = 0; d < t->rank; ++d) {
        if (r.min[d] > r.opt[d] || r.opt[d] > r.max[d]) {
          return fail("range needs min <= opt <= max");
        }
      }
      ++range_count[t->name];
    } else if (kind == "weight" && w.size() == 5) {
      Weight weight;
      weight.name = w[1];
      weight.streamable = w[2] == "streamable";
      if ((w[2] != "resident" && !weight.streamable) || plan->find_weight(w[1]) ||
          !parse_int(w[3], 1, 1 << 20, &weight.rows) || !parse_int(w[4], 1, 1 << 20, &weight.cols) ||
          weight.rows * weight.cols > (1 << 24)) {
        return fail("bad weight '" + w[1] + "'");
      }
      plan->weights.push_back(weight);
    } else if (kind == "values" && w.size() == 2 && w[1] == "stripped" && !plan->weights.empty() &&
               plan->weights.back().values.empty() && !plan->weights.back().streamable) {
      // A weight-stripped plan's weight: the engine holds zeros until refitted.
      Weight& weight = plan->weights.back();
      weight.stripped = true;
      weight.values.assign(static_cast<size_t>(weight.rows * weight.cols), 0.0f);
    } else if (kind == "values" && !plan->weights.empty() && plan->weights.back().values.empty()) {
      Weight& weight = plan->weights.back();
      if (static_cast<int64_t>(w.size()) - 1 != weight.rows * weight.cols) {
        return fail("weight '" + weight.name + "' needs " + std::to_string(weight.rows * weight.cols) + " values");
      }
      weight.values.resize(w.size() - 1);
      for (size_t i = 1; i < w.size(); ++i) {
        if (!parse_float(w[i], &weight.values[i - 1])) {
          return fail("bad value '" + w[i] + "'");
        }
      }
    } else if (kind == "pad" && w.size() == 3 && (w[1] == "resident" || w[1] == "streamable")) {
      if (!parse_int(w[2], 0, int64_t(1) << 40, &value)) {
        return fail("bad pad size");
      }
      (w[1] == "resident" ? resident_pad : streamable_pad) += value;
    } else if (kind == "activation_extra" && w.size() == 2) {
      if (!parse_int(w[1], 0, int64_t(1) << 36, &plan->activation_extra)) {
        return fail("bad activation_extra");
      }
    } else if (kind == "alias" && w.size() == 3) {
      const IoTensor* out = plan->find_io(w[1]);
      const IoTensor* in = plan->find_io(w[2]);
      if (!out || out->is_input || !in || !in->is_input) {
        return fail("alias needs a declared output, then a declared input");
      }
      plan->aliases[w[1]] = w[2];
    } else if (kind == "run_delay_us" && w.size() == 2) {
      if (!parse_int(w[1], 0, 10000000, &plan->run_delay_us)) {
        return fail("bad run_delay_us");
      }
    } else if (kind == "op" && w.size() >= 5 && w[2] == "=") {
      Op op;
      op.dst = w[1];
      size_t min_args = 0, max_args = 0;
      if (!op_kind(w[3], &op.kind, &min_args, &max_args)) {
        return fail("unknown op '" + w[3] + "'");
      }
      const size_t count = w.size() - 4;
      if (count < min_args || count > max_args) {
        return fail("op '" + w[3] + "' takes " + std::to_string(min_args) + ".." + std::to_string(max_args) + " args");
      }
      bool has_tensor = false;
      for (size_t i = 4; i < w.size(); ++i) {
        Arg arg;
        arg.name = w[i];
        if (plan->is_data_dependent(w[i])) {
          return fail("'" + w[i] + "' is nonzero's int64 result: it can only be an output");
        }
        if (defined.count(w[i])) {
          arg.kind = Arg::kTensor;
          has_tensor = true;
        } else if (plan->find_weight(w[i])) {
          arg.kind = Arg::kWeight;
        } else if (!parse_float(w[i], &arg.literal)) {
          return fail("'" + w[i] + "' is no tensor, weight or number defined before");
        }
        op.args.push_back(arg);
      }
      bool uses_weight = false;
      for (const Arg& arg : op.args) {
        uses_weight = uses_weight || arg.kind == Arg::kWeight;
      }
      const bool linear = op.kind == OpKind::kLinear;
      if (linear ? (op.args[0].kind != Arg::kTensor || op.args[1].kind != Arg::kWeight ||
                    (op.args.size() == 3 && op.args[2].kind != Arg::kWeight))
                 : (!has_tensor || uses_weight)) {
        return fail("op '" + w[3] + "' has arguments of the wrong kinds");
      }
      const IoTensor* target = plan->find_io(op.dst);
      if (defined.count(op.dst) || (target && target->is_input) || plan->find_weight(op.dst)) {
        return fail("'" + op.dst + "' is assigned twice or is an input");
      }
      if (op.kind == OpKind::kNonzero) {
        if (!target) {
          return fail("nonzero's result '" + op.dst + "' must be an output");
        }
        plan->data_dependent.push_back(op.dst);
      } else if (!target) {
        plan->temps.push_back(op.dst);
      }
      defined.insert(op.dst);
      assigned.insert(op.dst);
      plan->ops.push_back(op);
    } else {
      return fail("cannot read '" + line + "'");
    }
  }
  if (!header) {
    *error = "empty plan";
    return false;
  }
  for (const IoTensor& t : plan->io) {
    if (t.is_input && range_count[t.name] != plan->profiles) {
      *error = "input '" + t.name + "' needs one range per profile";
      return false;
    }
    if (!t.is_input && !assigned.count(t.name)) {
      *error = "output '" + t.name + "' is never assigned";
      return false;
    }
  }
  for (Weight& weight : plan->weights) {
    if (static_cast<int64_t>(weight.values.size()) != weight.rows * weight.cols) {
      *error = "weight '" + weight.name + "' has no values line";
      return false;
    }
    int64_t& area = weight.streamable ? plan->streamable_bytes : plan->resident_bytes;
    weight.offset = area;
    area += align_up(weight.bytes());
  }
  plan->streamable_weights_end = plan->streamable_bytes;
  plan->resident_bytes += align_up(resident_pad);
  plan->streamable_bytes += align_up(streamable_pad);
  // Every profile's maximum shapes must fit the ops.
  for (int p = 0; p < plan->profiles; ++p) {
    std::map<std::string, Shape> inputs, shapes;
    for (const IoTensor& t : plan->io) {
      if (t.is_input) {
        inputs[t.name] = t.ranges[p].max;
      }
    }
    if (!infer_shapes(*plan, inputs, &shapes, error)) {
      *error = "profile " + std::to_string(p) + " maximum: " + *error;
      return false;
    }
  }
  return true;
}

bool infer_shapes(
    const Plan& plan,
    const std::map<std::string, Shape>& inputs,
    std::map<std::string, Shape>* shapes,
    std::string* error) {
  *shapes = inputs;
  for (const Op& op : plan.ops) {
    if (op.kind == OpKind::kLinear) {
      const Shape x = shapes->at(op.args[0].name);
      const Weight* w = plan.find_weight(op.args[1].name);
      if (x.empty() || x.back() != w->rows) {
        *error = "linear '" + op.dst + "': input " + dims_text(x) + " does not end in " + std::to_string(w->rows);
        return false;
      }
      if (op.args.size() == 3 && plan.find_weight(op.args[2].name)->rows * plan.find_weight(op.args[2].name)->cols != w->cols) {
        *error = "linear '" + op.dst + "': bias size is not " + std::to_string(w->cols);
        return false;
      }
      Shape out = x;
      out.back() = w->cols;
      (*shapes)[op.dst] = out;
      continue;
    }
    if (op.kind == OpKind::kNonzero) {
      // Its largest case (every element nonzero); the run reports the count.
      const Shape& source = shapes->at(op.args[0].name);
      (*shapes)[op.dst] = Shape{element_count(source), static_cast<int64_t>(source.size())};
      continue;
    }
    const Shape* first = nullptr;
    for (const Arg& arg : op.args) {
      if (arg.kind != Arg::kTensor) {
        continue;
      }
      const Shape& dims = shapes->at(arg.name);
      if (first && element_count(dims) != element_count(*first)) {
        *error = "op '" + op.dst + "': " + dims_text(*first) + " and " + dims_text(dims) + " differ in size";
        return false;
      }
      first = first ? first : &dims;
    }
    (*shapes)[op.dst] = *first;
  }
  return true;
}

std::map<std::string, int64_t> temporary_offsets(const Plan& plan, const std::map<std::string, Shape>& shapes) {
  std::map<std::string, int64_t> offsets;
  int64_t offset = 0;
  for (const std::string& name : plan.temps) {
    offsets[name] = offset;
    offset += align_up(element_count(shapes.at(name)) * 4);
  }
  return offsets;
}

int64_t execution_memory_bytes(const Plan& plan, int profile, int64_t scratch) {
  std::map<std::string, Shape> inputs, shapes;
  for (const IoTensor& t : plan.io) {
    if (t.is_input) {
      inputs[t.name] = t.ranges[profile].max;
    }
  }
  std::string ignored;
  infer_shapes(plan, inputs, &shapes, &ignored); // checked at parse
  int64_t bytes = kAlignment + align_up(scratch) + align_up(plan.activation_extra);
  for (const std::string& name : plan.temps) {
    bytes += align_up(element_count(shapes.at(name)) * 4);
  }
  return bytes;
}

} // namespace trt_double
