// The test engine: an EngineRuntime for flavour `test` that interprets the
// small program of tests/engine/PROGRAM_FORMAT.md on the CPU. Loading this
// library (ctypes.CDLL from pytest, or linking it into a C++ test) registers
// it with the installed delegate, so .pte files exported with the "test"
// builder run through ExecuTorch's real runtime and the delegate's real
// init/execute path on a machine without a GPU. It is never shipped.

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <engines/engine_runtime.h>
#include <engines/engine_runtime_registry.h>
#include <common/error_report.h>

#include "test_device_memory.h"

namespace executorch_tensorrt {
namespace test_engine {
namespace {

constexpr uint8_t kFloat32 = 6;
constexpr uint8_t kInt64 = 4;

std::atomic<int> g_deserialize_count{0};
std::atomic<int> g_run_count{0};
std::atomic<int> g_device_count{1};
std::atomic<int> g_budget_calls{0};
std::atomic<int64_t> g_last_budget{-1};
std::atomic<int> g_context_creations{0};
// Runs that found their execution memory overwritten by another run while
// they used it: a sharing violation the delegate must never allow.
std::atomic<int> g_memory_overlaps{0};
// Runs in flight now, and the most seen at once (across all engines).
std::atomic<int> g_runs_in_flight{0};
std::atomic<int> g_max_runs_in_flight{0};
// The most runs seen at once on ONE deserialized engine (over the engine and
// its sharers, Engine::share_engine): what several execution contexts buy.
std::atomic<int> g_max_runs_on_one_engine{0};
std::atomic<int> g_shares{0}; // share_engine() calls
std::atomic<uint64_t> g_next_engine_id{1};
// Streams, pinned staging and graphs, as the delegate drives them.
std::atomic<int> g_caller_stream_calls{0}; // use_stream with a caller's stream
std::atomic<intptr_t> g_last_caller_stream{-1};
std::atomic<int> g_pinned_copies{0}; // copies from or to pinned staging memory
std::atomic<int> g_captures{0};
std::atomic<int> g_replays{0};
std::atomic<int> g_refuse_capture{0}; // a test makes capture_enqueue refuse
std::atomic<int> g_order_after_calls{0}; // runs ordered after another engine's work (shared pools)
std::atomic<int> g_refused_outputs{0}; // runs refused: a data-dependent output did not fit its bound memory
std::atomic<int> g_refits{0}; // successful refit() calls
std::atomic<int> g_refit_ignored{0}; // weights given to refit() that no program declares
std::mutex g_pinned_mutex;
std::map<const char*, size_t> g_pinned; // live "pinned" host blocks and their sizes

bool is_pinned(const void* pointer) {
  const char* p = static_cast<const char*>(pointer);
  std::lock_guard<std::mutex> lock(g_pinned_mutex);
  auto it = g_pinned.upper_bound(p);
  if (it == g_pinned.begin()) {
    return false;
  }
  --it;
  return p < it->first + it->second;
}

// Simulated device memory owned by one engine, freed with it.
class DeviceBlock {
 public:
  DeviceBlock() = default;
  DeviceBlock(const DeviceBlock&) = delete;
  DeviceBlock& operator=(const DeviceBlock&) = delete;
  ~DeviceBlock() {
    reset();
  }
  // Holds `bytes` (nothing for 0); false when the simulated device is full.
  bool allocate(int64_t bytes) {
    reset();
    if (bytes <= 0) {
      return true;
    }
    pointer_ = device_allocate(static_cast<size_t>(bytes));
    bytes_ = pointer_ == nullptr ? 0 : bytes;
    return pointer_ != nullptr;
  }
  void reset() {
    device_free(pointer_);
    pointer_ = nullptr;
    bytes_ = 0;
  }
  int64_t bytes() const {
    return bytes_;
  }
  void* pointer() const {
    return pointer_;
  }

 private:
  void* pointer_ = nullptr;
  int64_t bytes_ = 0;
};

struct Operand {
  bool is_tensor = false;
  std::string name;
  float constant = 0.0f;
};

struct Instruction {
  std::string dst;
  std::string op;
  std::vector<Operand> args;
};

// Simulated memory needs, from the program's directives (PROGRAM_FORMAT.md).
struct MemoryModel {
  int64_t weights = 0; // device bytes of weights
  int64_t streamable = 0; // of which can stream (0: built without streaming)
  int64_t automatic_budget = -1; // -1: half the streamable bytes
  int64_t activation = 0; // execution-context memory
  int64_t run_delay_us = 0; // how long a run uses its execution memory
  // Runs wait (at most kRendezvousLimit) until this many run at once on the
  // engine, the first time; 0: never wait.
  int64_t run_rendezvous = 0;
};

constexpr auto kRendezvousLimit = std::chrono::seconds(20);

void raise_to(std::atomic<int>& most, int now) {
  int seen = most.load();
  while (now > seen && !most.compare_exchange_weak(seen, now)) {
  }
}

// An input or output the program declares, with the shape and profile
// ranges it may declare (PROGRAM_FORMAT.md); what describe() reports.
struct Declared {
  std::string name;
  std::optional<Shape> shape;
  std::vector<ShapeRange> profiles;
  uint8_t dtype = kFloat32; // an input may be int64 (read as floats: positions)
};

// `weight NAME [SHAPE]`: a float32 tensor the program was built without
// (weight-stripped); refit() gives its values.
struct DeclaredWeight {
  std::string name;
  Shape shape;
};

struct ProgramText {
  std::string source;
  MemoryModel memory;
  std::vector<Declared> inputs;
  std::vector<Declared> outputs;
  std::vector<DeclaredWeight> weights;
  std::vector<Instruction> body;
  std::map<std::string, std::string> aliases; // `alias OUT IN`: output -> the input it updates in place
  // `const NAME [SHAPE] v0 v1 ...`: weights the program embeds.
  std::map<std::string, std::pair<Shape, std::vector<float>>> constants;
  // Outputs assigned by `nonzero`: int64, their dim 0 known only after the run.
  std::map<std::string, bool> data_dependent;
};


// "[2,-1,3]" (rank 3; -1 a dynamic dim) or "[]" (rank 0).
bool parse_shape(const std::string& text, Shape* out) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
    return false;
  }
  std::istringstream dims(text.substr(1, text.size() - 2));
  out->rank = 0;
  for (std::string dim; std::getline(dims, dim, ',');) {
    char* end = nullptr;
    const long long value = std::strtoll(dim.c_str(), &end, 10);
    if (out->rank == kMaxRank || dim.empty() || *end != '\0' || value < -1) {
      return false;
    }
    out->dims[out->rank++] = value;
  }
  return true;
}

// `const NAME [SHAPE] v0 v1 ...`, one value per element.
bool parse_constant(const std::vector<std::string>& w, ProgramText* out) {
  Shape shape;
  if (w.size() < 3 || !parse_shape(w[2], &shape)) {
    return false;
  }
  size_t count = 1;
  for (uint8_t d = 0; d < shape.rank; ++d) {
    if (shape.dims[d] < 0 || shape.dims[d] > (1 << 24)) {
      return false;
    }
    count *= static_cast<size_t>(shape.dims[d]);
  }
  if (w.size() != 3 + count) {
    return false;
  }
  std::vector<float> values;
  for (size_t i = 3; i < w.size(); ++i) {
    char* end = nullptr;
    values.push_back(std::strtof(w[i].c_str(), &end));
    if (end == w[i].c_str() || *end != '\0') {
      return false;
    }
  }
  out->constants[w[1]] = {shape, std::move(values)};
  return true;
}

// `input NAME [SHAPE]`, `output NAME [SHAPE]` or `profile NAME MIN OPT MAX`.
bool parse_declaration(const std::vector<std::string>& w, ProgramText* out) {
  const bool int64_input = w[0] == "input" && w.size() == 4 && w[3] == "int64";
  if ((w[0] == "input" || w[0] == "output") && (w.size() == 2 || w.size() == 3 || int64_input)) {
    Declared tensor{w[1], std::nullopt, {}};
    Shape shape;
    if (w.size() >= 3 && !parse_shape(w[2], &shape)) {
      return false;
    }
    tensor.shape = w.size() >= 3 ? std::optional<Shape>(shape) : std::nullopt;
    tensor.dtype = int64_input ? kInt64 : kFloat32;
    (w[0] == "input" ? out->inputs : out->outputs).push_back(tensor);
    return true;
  }
  if (w[0] == "profile" && w.size() == 5) {
    ShapeRange range;
    for (Declared& input : out->inputs) {
      if (input.name == w[1] && parse_shape(w[2], &range.min) && parse_shape(w[3], &range.opt) &&
          parse_shape(w[4], &range.max)) {
        input.profiles.push_back(range);
        return true;
      }
    }
  }
  return false;
}

size_t arity(const std::string& op) {
  if (op == "add" || op == "sub" || op == "mul" || op == "mm") {
    return 2;
  }
  if (op == "relu" || op == "neg" || op == "copy" || op == "transpose" || op == "softmax" || op == "nonzero") {
    return 1;
  }
  return op == "index_put" ? 3 : 0;
}

// Ops that see their operands' shapes (PROGRAM_FORMAT.md); the rest are elementwise.
bool is_shaped(const std::string& op) {
  return op == "mm" || op == "transpose" || op == "softmax" || op == "index_put";
}

Error bad_program(const std::string& why) {
  return report_error(Error::InvalidProgram, "test engine: %s", why.c_str());
}

int64_t* memory_field(const std::string& word, MemoryModel* memory) {
  if (word == "weights") {
    return &memory->weights;
  }
  if (word == "streamable") {
    return &memory->streamable;
  }
  if (word == "automatic_budget") {
    return &memory->automatic_budget;
  }
  if (word == "activation") {
    return &memory->activation;
  }
  if (word == "run_delay_us") {
    return &memory->run_delay_us;
  }
  if (word == "run_rendezvous") {
    return &memory->run_rendezvous;
  }
  return nullptr;
}

// A line `end` ends the program: the bytes after it are never read, so a test
// can make an engine of any size (a sparse file past 4 GiB) without touching
// its pages. Returns the length of the program text, `end` line excluded.
size_t program_length(const uint8_t* bytes, size_t size) {
  size_t at = 0;
  while (at < size) {
    const void* newline = std::memchr(bytes + at, '\n', size - at);
    const size_t line_end = newline != nullptr ? static_cast<size_t>(static_cast<const uint8_t*>(newline) - bytes) : size;
    if (newline != nullptr && line_end - at == 3 && std::memcmp(bytes + at, "end", 3) == 0) {
      return at;
    }
    at = line_end + 1;
  }
  return size;
}

Error parse_program(const std::string& text, ProgramText* out) {
  out->source = text;
  std::istringstream lines(text);
  std::string line;
  if (!std::getline(lines, line) || line != "etrt-test-engine 1") {
    return bad_program("program must start with 'etrt-test-engine 1'");
  }
  std::map<std::string, bool> defined;
  int line_no = 1;
  while (std::getline(lines, line)) {
    ++line_no;
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string word; words >> word;) {
      w.push_back(word);
    }
    if (w.empty() || w[0][0] == '#') {
      continue;
    }
    const std::string where = " (line " + std::to_string(line_no) + ")";
    if (int64_t* field = memory_field(w[0], &out->memory)) {
      char* end = nullptr;
      const long long value = w.size() == 2 ? std::strtoll(w[1].c_str(), &end, 10) : -1;
      if (w.size() != 2 || end == w[1].c_str() || *end != '\0' || value < 0) {
        return bad_program("'" + w[0] + "' takes one non-negative byte count" + where);
      }
      *field = value;
      continue;
    }
    if (w[0] == "const") {
      if (!parse_constant(w, out)) {
        return bad_program("cannot parse constant '" + w[1] + "': 'const NAME [SHAPE]' then one value per element" + where);
      }
      defined[w[1]] = true;
      continue;
    }
    if (w[0] == "alias") {
      if (w.size() != 3) {
        return bad_program("'alias' takes an output and an input" + where);
      }
      out->aliases[w[1]] = w[2];
      continue;
    }
    if (w[0] == "weight") {
      DeclaredWeight weight{w.size() == 3 ? w[1] : "", Shape{}};
      bool fixed = w.size() == 3 && parse_shape(w[2], &weight.shape) && defined.count(w[1]) == 0;
      for (size_t d = 0; fixed && d < weight.shape.rank; ++d) {
        fixed = weight.shape.dims[d] >= 0;
      }
      if (!fixed) {
        return bad_program("'weight' takes a new name and a static shape, e.g. 'weight w [2,3]'" + where);
      }
      defined[weight.name] = true;
      out->weights.push_back(weight);
      continue;
    }
    if (w[0] == "input" || w[0] == "output" || w[0] == "profile") {
      if (!parse_declaration(w, out)) {
        return bad_program("cannot parse declaration '" + line + "'" + where);
      }
      if (w[0] == "input") {
        defined[w[1]] = true;
      }
      continue;
    }
    if (w.size() < 3 || w[1] != "=") {
      return bad_program("cannot parse '" + line + "'" + where);
    }
    Instruction ins{w[0], w[2], {}};
    const size_t n = arity(ins.op);
    if (n == 0 || w.size() != 3 + n) {
      return bad_program("unknown op or wrong argument count in '" + line + "'" + where);
    }
    for (size_t i = 3; i < w.size(); ++i) {
      Operand operand;
      char* end = nullptr;
      const float value = std::strtof(w[i].c_str(), &end);
      if (end != w[i].c_str() && *end == '\0') {
        operand.constant = value;
      } else if (out->data_dependent.count(w[i]) != 0) {
        return bad_program("'" + w[i] + "' is nonzero's int64 result: it can only be an output" + where);
      } else if (defined.count(w[i]) != 0) {
        operand.is_tensor = true;
        operand.name = w[i];
      } else {
        return bad_program("'" + w[i] + "' is used before it is defined" + where);
      }
      ins.args.push_back(operand);
    }
    if (!ins.args[0].is_tensor && (ins.args.size() < 2 || !ins.args[1].is_tensor)) {
      return bad_program("an op needs at least one tensor argument" + where);
    }
    if (is_shaped(ins.op) && !std::all_of(ins.args.begin(), ins.args.end(), [](const Operand& a) { return a.is_tensor; })) {
      return bad_program("'" + ins.op + "' takes tensor arguments only" + where);
    }
    if (ins.op == "nonzero") {
      out->data_dependent[ins.dst] = true;
    }
    defined[ins.dst] = true;
    out->body.push_back(std::move(ins));
  }
  for (const Declared& output : out->outputs) {
    if (defined.count(output.name) == 0) {
      return bad_program("output '" + output.name + "' is never assigned");
    }
  }
  for (const auto& [output, input] : out->aliases) {
    auto declared = [](const std::vector<Declared>& list, const std::string& name) {
      return std::any_of(list.begin(), list.end(), [&](const Declared& d) { return d.name == name; });
    };
    if (!declared(out->outputs, output) || !declared(out->inputs, input)) {
      return bad_program("'alias " + output + " " + input + "' needs a declared output and input");
    }
  }
  for (const auto& entry : out->data_dependent) {
    const bool is_output = std::any_of(
        out->outputs.begin(), out->outputs.end(), [&](const Declared& o) { return o.name == entry.first; });
    if (!is_output) {
      return bad_program("nonzero's result '" + entry.first + "' must be an output");
    }
  }
  if (out->memory.streamable > out->memory.weights) {
    return bad_program("'streamable' exceeds 'weights'");
  }
  return Error::Ok;
}

float apply(const std::string& op, float a, float b) {
  if (op == "add") {
    return a + b;
  }
  if (op == "sub") {
    return a - b;
  }
  if (op == "mul") {
    return a * b;
  }
  if (op == "relu") {
    return a > 0.0f ? a : 0.0f;
  }
  if (op == "neg") {
    return -a;
  }
  return a; // copy
}

// The shape of an op's result from its operands' (`shapes` holds every
// tensor defined so far); false with `why` when they do not fit the op.
bool result_shape(const Instruction& ins, const std::map<std::string, Shape>& shapes, Shape* out, std::string* why) {
  auto shape_of = [&](size_t i) -> const Shape& {
    static const Shape kScalar{};
    auto it = ins.args[i].is_tensor ? shapes.find(ins.args[i].name) : shapes.end();
    return it != shapes.end() ? it->second : kScalar;
  };
  if (ins.op == "mm") {
    const Shape &a = shape_of(0), &b = shape_of(1);
    if (a.rank != 2 || b.rank != 2 || a.dims[1] != b.dims[0]) {
      *why = "mm of " + a.to_string() + " and " + b.to_string();
      return false;
    }
    *out = Shape{};
    out->rank = 2;
    out->dims[0] = a.dims[0];
    out->dims[1] = b.dims[1];
    return true;
  }
  if (ins.op == "transpose") {
    const Shape& a = shape_of(0);
    if (a.rank != 2) {
      *why = "transpose of rank " + std::to_string(a.rank);
      return false;
    }
    *out = a;
    std::swap(out->dims[0], out->dims[1]);
    return true;
  }
  *out = shape_of(ins.args[0].is_tensor ? 0 : 1);
  return true;
}

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (uint8_t d = 0; d < shape.rank; ++d) {
    n *= shape.dims[d];
  }
  return n;
}

// mm, transpose, softmax (over the last dim) and index_put (rows of the
// first dim of SELF at the positions IDX holds, from VALUES) into `result`.
bool apply_shaped(
    const Instruction& ins,
    const std::vector<const std::vector<float>*>& args,
    const std::vector<Shape>& shapes,
    std::vector<float>* result,
    std::string* why) {
  const Shape& a = shapes[0];
  if (ins.op == "mm") {
    const int64_t m = a.dims[0], k = a.dims[1], n = shapes[1].dims[1];
    result->assign(static_cast<size_t>(m * n), 0.0f);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        float sum = 0.0f;
        for (int64_t t = 0; t < k; ++t) {
          sum += (*args[0])[i * k + t] * (*args[1])[t * n + j];
        }
        (*result)[i * n + j] = sum;
      }
    }
    return true;
  }
  if (ins.op == "transpose") {
    const int64_t rows = a.dims[0], cols = a.dims[1];
    result->resize(args[0]->size());
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        (*result)[j * rows + i] = (*args[0])[i * cols + j];
      }
    }
    return true;
  }
  if (ins.op == "softmax") {
    const int64_t last = a.rank == 0 ? 1 : a.dims[a.rank - 1];
    *result = *args[0];
    for (size_t row = 0; last > 0 && row < result->size(); row += static_cast<size_t>(last)) {
      float* x = result->data() + row;
      const float top = *std::max_element(x, x + last);
      float total = 0.0f;
      for (int64_t i = 0; i < last; ++i) {
        total += (x[i] = std::exp(x[i] - top));
      }
      for (int64_t i = 0; i < last; ++i) {
        x[i] /= total;
      }
    }
    return true;
  }
  // index_put SELF IDX VALUES
  const int64_t rows = a.rank == 0 ? 1 : a.dims[0];
  const size_t width = rows == 0 ? 0 : args[0]->size() / static_cast<size_t>(rows);
  *result = *args[0];
  if (args[2]->size() != args[1]->size() * width) {
    *why = "index_put of " + std::to_string(args[1]->size()) + " positions with " + std::to_string(args[2]->size()) +
        " values into rows of " + std::to_string(width);
    return false;
  }
  for (size_t i = 0; i < args[1]->size(); ++i) {
    const float position = (*args[1])[i];
    if (!(position >= 0.0f && position < static_cast<float>(rows)) || position != std::floor(position)) {
      *why = "index_put position " + std::to_string(position) + " outside [0, " + std::to_string(rows) + ")";
      return false;
    }
    std::copy_n(args[2]->begin() + static_cast<ptrdiff_t>(i * width), width,
                result->begin() + static_cast<ptrdiff_t>(static_cast<size_t>(position) * width));
  }
  return true;
}

// What the sharers of one deserialized engine have in common
// (share_engine): the program, its weights on the device and the budget, as
// a TensorRT ICudaEngine shared by several execution contexts.
struct EngineCore {
  explicit EngineCore(ProgramText text) : program(std::move(text)) {}
  const ProgramText program;
  DeviceBlock resident_weights;
  // The streamed weights kept resident: allocated with the first context
  // (under the budget), freed with the last.
  DeviceBlock streamed_weights;
  std::mutex mutex; // guards the members below
  int64_t budget = -1;
  int contexts = 0;
  bool rendezvous_reached = false;
  std::condition_variable rendezvous;
  int runs_in_flight = 0;
  // The declared weights' values (refit); a program with weights runs only
  // once every one is here.
  std::map<std::string, std::vector<float>> weight_values;
};

int64_t elements_of(const Shape& shape) {
  int64_t count = 1;
  for (uint8_t d = 0; d < shape.rank; ++d) {
    count *= shape.dims[d];
  }
  return count;
}

class TestEngine final : public Engine {
 public:
  // Fails when the simulated device cannot hold the resident weights.
  static Result<std::unique_ptr<Engine>> create(ProgramText program, const EngineMetadata& metadata) {
    auto core = std::make_shared<EngineCore>(std::move(program));
    const MemoryModel& m = core->program.memory;
    if (!core->resident_weights.allocate(m.weights - m.streamable)) {
      return report_error(Error::MemoryAllocationFailed, "test engine: out of simulated device memory for weights");
    }
    return std::unique_ptr<Engine>(new TestEngine(std::move(core), metadata));
  }

  ~TestEngine() override {
    release_execution_context();
  }

  Result<std::unique_ptr<Engine>> share_engine() override {
    ++g_shares;
    return std::unique_ptr<Engine>(new TestEngine(core_, input_names_, output_names_, state_shapes_));
  }

  int64_t streamable_weights_bytes() const override {
    return program_.memory.streamable;
  }

  int64_t automatic_weight_streaming_budget() const override {
    const MemoryModel& m = program_.memory;
    return m.automatic_budget >= 0 ? m.automatic_budget : m.streamable / 2;
  }

  Error set_weight_streaming_budget(int64_t bytes) override {
    ++g_budget_calls;
    g_last_budget.store(bytes);
    std::lock_guard<std::mutex> lock(core_->mutex);
    // Mirrors TensorRT's rules, so a delegate that breaks them fails here:
    // no context of ANY sharer may exist.
    if (program_.memory.streamable == 0) {
      return report_error(Error::InvalidState, "test engine: budget set on an engine built without weight streaming");
    }
    if (core_->contexts > 0) {
      return report_error(
          Error::InvalidState, "test engine: budget set while %d execution context(s) exist", core_->contexts);
    }
    if (bytes < 0 || bytes > program_.memory.streamable) {
      return report_error(Error::InvalidArgument, "test engine: budget %lld out of range", static_cast<long long>(bytes));
    }
    core_->budget = bytes;
    return Error::Ok;
  }

  Error create_execution_context(ContextMemory memory) override {
    if (has_context_) {
      return Error::Ok;
    }
    // Streamed weights resident under the budget (all of them by default, as
    // when no budget was ever set; once per engine), then the activation
    // memory unless the delegate provides it (user-managed, like TensorRT's
    // kUSER_MANAGED).
    std::lock_guard<std::mutex> lock(core_->mutex);
    const int64_t resident = core_->budget >= 0 ? core_->budget : program_.memory.streamable;
    const int64_t owned_activation = memory == ContextMemory::kOwned ? program_.memory.activation : 0;
    const bool first = core_->contexts == 0;
    if ((first && !core_->streamed_weights.allocate(resident)) || !activation_.allocate(owned_activation)) {
      if (first) {
        core_->streamed_weights.reset();
      }
      return report_error(Error::MemoryAllocationFailed, "test engine: out of simulated device memory for the execution context");
    }
    ++core_->contexts;
    has_context_ = true;
    ++generation_;
    user_managed_ = memory == ContextMemory::kUserManaged;
    bound_memory_ = nullptr;
    bound_bytes_ = -1;
    ++g_context_creations;
    return Error::Ok;
  }

  void release_execution_context() override {
    if (!has_context_) {
      return;
    }
    std::lock_guard<std::mutex> lock(core_->mutex);
    if (--core_->contexts == 0) {
      core_->streamed_weights.reset();
    }
    activation_.reset();
    has_context_ = false;
    bound_memory_ = nullptr;
    bound_bytes_ = -1;
  }

  int64_t execution_memory_bytes() const override {
    return program_.memory.activation;
  }

  // Like TensorRT's setDeviceMemoryV2: only for a user-managed context;
  // checked when the run starts (the memory must be device memory at least
  // execution_memory_bytes() long).
  Error bind_execution_memory(void* memory, int64_t bytes) override {
    if (!has_context_ || !user_managed_) {
      return report_error(Error::InvalidState, "test engine: execution memory bound to a context that owns its memory");
    }
    bound_memory_ = memory;
    bound_bytes_ = bytes;
    return Error::Ok;
  }

  bool has_execution_context() const override {
    return has_context_;
  }

  // The weights count once, on the original engine; a sharer holds only
  // its context's memory.
  int64_t device_bytes() const override {
    std::lock_guard<std::mutex> lock(core_->mutex);
    const int64_t weights = shares_ ? 0 : core_->resident_weights.bytes() + core_->streamed_weights.bytes();
    return weights + activation_.bytes();
  }


  Result<std::vector<uint8_t>> serialize() const override {
    return std::vector<uint8_t>(program_.source.begin(), program_.source.end());
  }

  // Like TensorRT's IRefitter on a weight-stripped engine: weights the
  // program does not declare are ignored, a declared one must come as
  // float32 of its shape, and every declared one must be given.
  Error refit(Span<const NamedWeights> weights) override {
    std::lock_guard<std::mutex> lock(core_->mutex);
    if (core_->contexts > 0) {
      return report_error(Error::InvalidState, "test engine: refit while %d execution context(s) exist", core_->contexts);
    }
    std::map<std::string, std::vector<float>> values;
    for (const NamedWeights& given : weights) {
      const DeclaredWeight* declared = find_weight(given.name);
      if (declared == nullptr) {
        ++g_refit_ignored;
        continue;
      }
      const int64_t count = elements_of(declared->shape);
      if (given.dtype != kFloat32 || given.shape.to_string() != declared->shape.to_string() ||
          given.nbytes != static_cast<size_t>(count) * sizeof(float) || given.data == nullptr) {
        return report_error(
            Error::InvalidArgument,
            "test engine: weight '%s' is float32 %s in the engine, refit gave dtype %u %s (%zu bytes)",
            given.name.c_str(),
            declared->shape.to_string().c_str(),
            given.dtype,
            given.shape.to_string().c_str(),
            given.nbytes);
      }
      const auto* data = static_cast<const float*>(given.data);
      values[given.name].assign(data, data + count);
    }
    std::string missing;
    for (const DeclaredWeight& declared : program_.weights) {
      if (values.count(declared.name) == 0) {
        missing += (missing.empty() ? "" : ", ") + declared.name;
      }
    }
    if (!missing.empty()) {
      return report_error(Error::InvalidArgument, "test engine: refit left weights missing: %s", missing.c_str());
    }
    core_->weight_values = std::move(values);
    ++g_refits;
    return Error::Ok;
  }

  // The program's own declarations: every tensor float32 (all it computes),
  // the shapes and profiles it declares, no profile count unless some input
  // declares its ranges.
  Result<EngineDescription> describe() const override {
    EngineDescription out;
    for (const auto* list : {&program_.inputs, &program_.outputs}) {
      for (const Declared& tensor : *list) {
        const uint8_t dtype = program_.data_dependent.count(tensor.name) != 0 ? kInt64 : tensor.dtype;
        out.tensors.push_back(TensorDescription{tensor.name, list == &program_.inputs, dtype, tensor.shape, tensor.profiles});
        if (!tensor.profiles.empty() && !out.num_profiles.has_value()) {
          out.num_profiles = static_cast<uint32_t>(tensor.profiles.size());
        }
      }
    }
    return out;
  }

 private:
  TestEngine(std::shared_ptr<EngineCore> core, const EngineMetadata& metadata)
      : core_(std::move(core)), program_(core_->program), id_(g_next_engine_id.fetch_add(1)), shares_(false) {
    for (const TensorSpec& spec : metadata.inputs) {
      input_names_.push_back(spec.name);
    }
    for (const TensorSpec& spec : metadata.outputs) {
      output_names_.push_back(spec.name);
    }
    for (const TensorSpec& spec : metadata.state_inputs) {
      state_shapes_.emplace_back(spec.name, spec.ranges.empty() ? Shape{} : spec.ranges[0].min);
    }
  }
  // A sharer (share_engine): same core, its own id, context and memory.
  TestEngine(
      std::shared_ptr<EngineCore> core,
      std::vector<std::string> inputs,
      std::vector<std::string> outputs,
      std::vector<std::pair<std::string, Shape>> states)
      : core_(std::move(core)),
        program_(core_->program),
        id_(g_next_engine_id.fetch_add(1)),
        shares_(true),
        input_names_(std::move(inputs)),
        output_names_(std::move(outputs)),
        state_shapes_(std::move(states)) {}

 public:
  Error infer_output_shapes(uint32_t /*profile*/, Span<const Shape> input_shapes, Span<Shape> output_shapes) override {
    std::map<std::string, Shape> shapes(state_shapes_.begin(), state_shapes_.end());
    for (size_t i = 0; i < input_names_.size(); ++i) {
      shapes[input_names_[i]] = input_shapes[i];
    }
    for (const auto& [name, constant] : program_.constants) {
      shapes[name] = constant.first;
    }
    for (const DeclaredWeight& weight : program_.weights) {
      shapes[weight.name] = weight.shape;
    }
    for (const Instruction& ins : program_.body) {
      std::string why;
      if (ins.op == "nonzero") {
        shapes[ins.dst] = nonzero_shape(shapes[ins.args[0].name]);
        continue;
      }
      if (!result_shape(ins, shapes, &shapes[ins.dst], &why)) {
        return report_error(Error::InvalidArgument, "test engine: '%s': %s", ins.dst.c_str(), why.c_str());
      }
    }
    for (size_t i = 0; i < output_names_.size(); ++i) {
      output_shapes[i] = shapes.at(output_names_[i]);
      if (program_.data_dependent.count(output_names_[i]) != 0) {
        output_shapes[i].dims[0] = kDataDependentDim; // nonzero's count: known after the run
      }
    }
    return Error::Ok;
  }

  // What the last run produced for a `nonzero` output (Engine::produced_output).
  ProducedOutput produced_output(size_t output_index) const override {
    return output_index < produced_.size() ? produced_[output_index] : ProducedOutput{};
  }

  // --- Execute path: the "device" is the simulated device memory of
  // test_device_memory.h; the "stream" runs each piece of work at once, so
  // synchronize() has nothing to wait for. ---

  Result<void*> allocate_device(size_t nbytes) override {
    void* pointer = device_allocate(nbytes);
    if (pointer == nullptr) {
      return report_error(Error::MemoryAllocationFailed, "test engine: out of simulated device memory (%zu bytes asked)", nbytes);
    }
    return pointer;
  }

  void free_device(void* pointer) override {
    device_free(pointer);
  }

  Error copy_to_device(void* device, const void* host, size_t nbytes) override {
    g_pinned_copies += is_pinned(host) ? 1 : 0;
    return device_copy_from_host(device, host, nbytes)
        ? Error::Ok
        : report_error(Error::Internal, "test engine: copy_to_device target is not simulated device memory");
  }

  Error copy_to_host(void* host, const void* device, size_t nbytes) override {
    g_pinned_copies += is_pinned(host) ? 1 : 0;
    return device_copy_to_host(host, device, nbytes)
        ? Error::Ok
        : report_error(Error::Internal, "test engine: copy_to_host source is not simulated device memory");
  }

  Error use_stream(const CallerStream& stream) override {
    if (stream.given) {
      ++g_caller_stream_calls;
      g_last_caller_stream = reinterpret_cast<intptr_t>(stream.handle);
    }
    return Error::Ok;
  }

  // Runs here are finished when enqueue returns; counted so tests see that
  // a shared pool hands its memory on with an ordering, not a host wait.
  Error order_after(const Engine& earlier) override {
    if (&earlier == this) {
      return report_error(Error::Internal, "test engine: ordered after itself");
    }
    ++g_order_after_calls;
    return Error::Ok;
  }

  // "Pinned" host memory is plain host memory the engine tracks, so tests
  // see which copies staged through it.
  Result<void*> allocate_host(size_t nbytes) override {
    void* pointer = std::malloc(nbytes == 0 ? 1 : nbytes);
    if (pointer == nullptr) {
      return Error::MemoryAllocationFailed;
    }
    std::lock_guard<std::mutex> lock(g_pinned_mutex);
    g_pinned[static_cast<const char*>(pointer)] = nbytes == 0 ? 1 : nbytes;
    return pointer;
  }

  void free_host(void* pointer) override {
    {
      std::lock_guard<std::mutex> lock(g_pinned_mutex);
      g_pinned.erase(static_cast<const char*>(pointer));
    }
    std::free(pointer);
  }

  Error enqueue(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) override {
    return run(inputs, outputs, nullptr);
  }

  // Like a CUDA graph, a capture replays the addresses and execution memory
  // it was captured with, whatever the call binds later: a delegate that
  // replayed a graph for other bindings computes into the old tensors, and
  // tests see it.
  class Captured final : public CapturedEnqueue {
   public:
    Captured(TestEngine& engine, Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs, void* scratch)
        : engine_(engine),
          inputs_(inputs.begin(), inputs.end()),
          outputs_(outputs.begin(), outputs.end()),
          scratch_(scratch),
          generation_(engine.generation_) {}
    Error launch() override {
      if (engine_.generation_ != generation_) {
        return report_error(Error::Internal, "test engine: a graph of a released execution context was replayed");
      }
      ++g_replays;
      return engine_.run({inputs_.data(), inputs_.size()}, {outputs_.data(), outputs_.size()}, &scratch_);
    }

   private:
    TestEngine& engine_;
    std::vector<DeviceTensor> inputs_;
    std::vector<DeviceTensor> outputs_;
    void* scratch_;
    uint64_t generation_;
  };

  Result<std::unique_ptr<CapturedEnqueue>> capture_enqueue(
      Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) override {
    if (g_refuse_capture.load() != 0) {
      return report_error(Error::NotSupported, "test engine: capture refused for this test");
    }
    if (!program_.data_dependent.empty()) {
      // Like TensorRT: a replay could not report the shapes it produced.
      return report_error(Error::NotSupported, "test engine: an output has a data-dependent shape (nonzero)");
    }
    Result<void*> scratch = execution_memory();
    if (!scratch.ok()) {
      return scratch.error();
    }
    ++g_captures;
    return std::unique_ptr<CapturedEnqueue>(new Captured(*this, inputs, outputs, *scratch));
  }

  uint64_t context_generation() const override {
    return generation_;
  }

  // One run on these bindings; `captured_scratch` (a replay) must still be
  // the execution memory in force.
  Error run(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs, void* const* captured_scratch) {
    if (!has_context_) {
      return report_error(Error::InvalidState, "test engine: run without an execution context");
    }
    // A host pointer reaching the engine would be a delegate bug (a real
    // engine would fault): refuse it.
    for (const DeviceTensor& t : inputs) {
      if (!is_device_pointer(t.data)) {
        return report_error(Error::Internal, "test engine: input '%s' is not in device memory", t.spec->name.c_str());
      }
    }
    for (const DeviceTensor& t : outputs) {
      if (!is_device_pointer(t.data)) {
        return report_error(Error::Internal, "test engine: output '%s' is not in device memory", t.spec->name.c_str());
      }
    }
    // Like TensorRT, an aliased output must be bound to its input's memory.
    for (const DeviceTensor& out : outputs) {
      auto alias = program_.aliases.find(out.spec->name);
      for (const DeviceTensor& in : inputs) {
        if (alias != program_.aliases.end() && alias->second == in.spec->name && in.data != out.data) {
          return report_error(
              Error::InvalidArgument, "test engine: output '%s' aliases input '%s' but is bound to other memory",
              out.spec->name.c_str(), in.spec->name.c_str());
        }
      }
    }
    Result<void*> scratch = execution_memory();
    if (!scratch.ok()) {
      return scratch.error();
    }
    if (captured_scratch != nullptr && *captured_scratch != *scratch) {
      return report_error(Error::Internal, "test engine: a graph was replayed with other execution memory bound");
    }
    RunInFlight in_flight(*core_);
    // Claim the execution memory for this run, compute, then check nobody
    // else wrote to it meanwhile: two runs sharing memory at once (what the
    // delegate's pool lease must prevent) shows up as a failed run.
    stamp(*scratch);
    if (program_.memory.run_delay_us > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(program_.memory.run_delay_us));
    }
    Error err = evaluate(inputs, outputs);
    if (!stamp_intact(*scratch)) {
      ++g_memory_overlaps;
      return report_error(Error::Internal, "test engine: another run overwrote this run's execution memory");
    }
    return err;
  }

  Error synchronize() override {
    return Error::Ok;
  }

  bool output_aliases_input(const std::string& output, const std::string& input) const override {
    auto it = program_.aliases.find(output);
    return it != program_.aliases.end() && it->second == input;
  }

  Error copy_device_to_device(void* destination, const void* source, size_t nbytes) override {
    return device_copy_on_device(destination, source, nbytes)
        ? Error::Ok
        : report_error(Error::Internal, "test engine: a device-to-device copy outside simulated device memory");
  }

 private:
  Error evaluate(Span<const DeviceTensor> inputs, Span<const DeviceTensor> outputs) {
    ++g_run_count;
    std::map<std::string, std::vector<float>> values;
    std::map<std::string, Shape> shapes;
    {
      std::lock_guard<std::mutex> lock(core_->mutex);
      if (core_->weight_values.size() != program_.weights.size()) {
        return report_error(
            Error::InvalidState,
            "test engine: the engine was built without its %zu weights and was not refitted",
            program_.weights.size());
      }
      values = core_->weight_values;
    }
    for (const DeclaredWeight& weight : program_.weights) {
      shapes[weight.name] = weight.shape;
    }
    for (const DeviceTensor& input : inputs) {
      if (input.spec->dtype == kInt64) {
        const auto* data = static_cast<const int64_t*>(input.data);
        values[input.spec->name].assign(data, data + input.nbytes / sizeof(int64_t));
      } else if (input.spec->dtype == kFloat32) {
        const auto* data = static_cast<const float*>(input.data);
        values[input.spec->name].assign(data, data + input.nbytes / sizeof(float));
      } else {
        return report_error(Error::NotSupported, "test engine: input '%s' is neither float32 nor int64", input.spec->name.c_str());
      }
      shapes[input.spec->name] = input.shape;
    }
    for (const auto& [name, constant] : program_.constants) {
      values[name] = constant.second;
      shapes[name] = constant.first;
    }
    std::map<std::string, std::vector<int64_t>> indices; // nonzero's results
    for (const Instruction& ins : program_.body) {
      if (ins.op == "nonzero") {
        shapes[ins.dst] = nonzero_shape(shapes[ins.args[0].name]);
        indices[ins.dst] = nonzero_indices(values[ins.args[0].name], shapes.at(ins.args[0].name));
        continue;
      }
      Error err = is_shaped(ins.op) ? compute_shaped(ins, values, shapes) : compute_elementwise(ins, values, shapes);
      if (err != Error::Ok) {
        return err;
      }
    }
    // Like TensorRT with an output allocator that refuses to grow: a
    // data-dependent output that needs more than its bound memory fails
    // the run before anything is written, and says what it needed.
    produced_.assign(outputs.size(), ProducedOutput{});
    for (size_t i = 0; i < outputs.size(); ++i) {
      auto found = indices.find(outputs[i].spec->name);
      if (found == indices.end()) {
        continue;
      }
      ProducedOutput& produced = produced_[i];
      produced.reported = produced.shape_known = true;
      produced.shape = shapes.at(found->first);
      produced.shape.dims[0] = produced.shape.dims[1] == 0 ? 0 : static_cast<int64_t>(found->second.size()) / produced.shape.dims[1];
      produced.bytes = found->second.size() * sizeof(int64_t);
      if (produced.bytes > outputs[i].nbytes) {
        ++g_refused_outputs;
        return report_error(
            Error::OutOfResources, "test engine: output '%s' needs %llu bytes, %zu are bound",
            outputs[i].spec->name.c_str(), static_cast<unsigned long long>(produced.bytes), outputs[i].nbytes);
      }
    }
    for (const DeviceTensor& output : outputs) {
      auto found = indices.find(output.spec->name);
      if (found != indices.end()) {
        std::copy(found->second.begin(), found->second.end(), static_cast<int64_t*>(output.data));
        continue;
      }
      const std::vector<float>& value = values[output.spec->name];
      if (value.size() * sizeof(float) != output.nbytes) {
        return report_error(Error::Internal, "test engine: output '%s' has %zu values for %zu bytes", output.spec->name.c_str(), value.size(), output.nbytes);
      }
      std::copy(value.begin(), value.end(), static_cast<float*>(output.data));
    }
    return Error::Ok;
  }

  using Values = std::map<std::string, std::vector<float>>;

  static Error compute_elementwise(const Instruction& ins, Values& values, std::map<std::string, Shape>& shapes) {
    const std::vector<float>* a = ins.args[0].is_tensor ? &values[ins.args[0].name] : nullptr;
    const std::vector<float>* b = ins.args.size() > 1 && ins.args[1].is_tensor ? &values[ins.args[1].name] : nullptr;
    const size_t n = a ? a->size() : b->size();
    if (a && b && a->size() != b->size()) {
      return report_error(Error::InvalidArgument, "test engine: '%s' mixes sizes %zu and %zu", ins.dst.c_str(), a->size(), b->size());
    }
    std::vector<float> result(n);
    for (size_t k = 0; k < n; ++k) {
      const float x = a ? (*a)[k] : ins.args[0].constant;
      const float y = ins.args.size() < 2 ? 0.0f : (b ? (*b)[k] : ins.args[1].constant);
      result[k] = apply(ins.op, x, y);
    }
    std::string why;
    result_shape(ins, shapes, &shapes[ins.dst], &why);
    values[ins.dst] = std::move(result);
    return Error::Ok;
  }

  static Error compute_shaped(const Instruction& ins, Values& values, std::map<std::string, Shape>& shapes) {
    std::vector<const std::vector<float>*> args;
    std::vector<Shape> arg_shapes;
    for (const Operand& operand : ins.args) {
      args.push_back(&values[operand.name]);
      arg_shapes.push_back(shapes[operand.name]);
      if (static_cast<int64_t>(args.back()->size()) != numel(arg_shapes.back())) {
        return report_error(Error::InvalidArgument, "test engine: '%s': operand '%s' has no shape", ins.dst.c_str(), operand.name.c_str());
      }
    }
    Shape shape;
    std::string why;
    std::vector<float> result;
    if (!result_shape(ins, shapes, &shape, &why) || !apply_shaped(ins, args, arg_shapes, &result, &why)) {
      return report_error(Error::InvalidArgument, "test engine: '%s': %s", ins.dst.c_str(), why.c_str());
    }
    shapes[ins.dst] = shape;
    values[ins.dst] = std::move(result);
    return Error::Ok;
  }

  // nonzero's result shape: [count, rank] with the count of the largest
  // case (every element nonzero); the run reports the real count.
  static Shape nonzero_shape(const Shape& source) {
    uint64_t elements = 0, bytes = 0;
    checked_shape_bytes(source, kFloat32, &elements, &bytes);
    Shape indices;
    indices.rank = 2;
    indices.dims[0] = static_cast<int64_t>(elements);
    indices.dims[1] = source.rank;
    return indices;
  }

  // torch.nonzero: the row-major indices of the nonzero elements of a
  // tensor of `shape`, one row of `shape.rank` int64 per element.
  static std::vector<int64_t> nonzero_indices(const std::vector<float>& values, const Shape& shape) {
    std::vector<int64_t> out;
    for (size_t k = 0; k < values.size(); ++k) {
      if (values[k] == 0.0f) {
        continue;
      }
      const size_t row = out.size();
      out.resize(row + shape.rank);
      size_t rest = k;
      for (int d = static_cast<int>(shape.rank) - 1; d >= 0; --d) {
        const size_t extent = static_cast<size_t>(shape.dims[d]);
        out[row + d] = static_cast<int64_t>(extent == 0 ? 0 : rest % extent);
        rest = extent == 0 ? 0 : rest / extent;
      }
    }
    return out;
  }

  // Counts runs in flight across all engines and on this one (with its
  // sharers); holds the run at the program's rendezvous, if any.
  struct RunInFlight {
    explicit RunInFlight(EngineCore& core) : core_(core) {
      raise_to(g_max_runs_in_flight, ++g_runs_in_flight);
      std::unique_lock<std::mutex> lock(core.mutex);
      raise_to(g_max_runs_on_one_engine, ++core.runs_in_flight);
      const int64_t wanted = core.program.memory.run_rendezvous;
      if (wanted > 0 && !core.rendezvous_reached) {
        if (core.runs_in_flight >= wanted) {
          core.rendezvous_reached = true;
          core.rendezvous.notify_all();
        } else {
          core.rendezvous.wait_for(lock, kRendezvousLimit, [&] { return core.rendezvous_reached; });
        }
      }
    }
    ~RunInFlight() {
      --g_runs_in_flight;
      std::lock_guard<std::mutex> lock(core_.mutex);
      --core_.runs_in_flight;
    }
    EngineCore& core_;
  };

  // The memory this run computes in: its own (owned context) or what the
  // delegate bound (user-managed), which must be live device memory at
  // least as large as the need. nullptr when the need is 0.
  Result<void*> execution_memory() {
    const int64_t need = program_.memory.activation;
    if (!user_managed_) {
      return activation_.pointer();
    }
    if (bound_bytes_ < 0) {
      return report_error(Error::InvalidState, "test engine: user-managed context ran without execution memory bound");
    }
    if (bound_bytes_ < need) {
      return report_error(
          Error::InvalidState,
          "test engine: %lld bytes of execution memory bound, the engine needs %lld",
          static_cast<long long>(bound_bytes_),
          static_cast<long long>(need));
    }
    if (need > 0 &&
        (!is_device_pointer(bound_memory_) ||
         !is_device_pointer(static_cast<char*>(bound_memory_) + need - 1))) {
      return report_error(Error::InvalidState, "test engine: the bound execution memory is not live device memory");
    }
    return need > 0 ? bound_memory_ : nullptr;
  }

  // Writes this engine's id over the first bytes of its execution memory.
  void stamp(void* scratch) const {
    if (scratch != nullptr && program_.memory.activation >= static_cast<int64_t>(sizeof(id_))) {
      std::memcpy(scratch, &id_, sizeof(id_));
    }
  }
  bool stamp_intact(const void* scratch) const {
    if (scratch == nullptr || program_.memory.activation < static_cast<int64_t>(sizeof(id_))) {
      return true;
    }
    uint64_t found = 0;
    std::memcpy(&found, scratch, sizeof(found));
    return found == id_;
  }

  const DeclaredWeight* find_weight(const std::string& name) const {
    for (const DeclaredWeight& weight : program_.weights) {
      if (weight.name == name) {
        return &weight;
      }
    }
    return nullptr;
  }

  const std::shared_ptr<EngineCore> core_;
  const ProgramText& program_; // core_->program
  const uint64_t id_; // unique per engine (and sharer) in the process: its stamp
  const bool shares_; // made by share_engine()
  bool user_managed_ = false;
  void* bound_memory_ = nullptr;
  int64_t bound_bytes_ = -1; // -1: nothing bound since the context was created
  std::vector<std::string> input_names_;
  std::vector<std::string> output_names_;
  std::vector<std::pair<std::string, Shape>> state_shapes_; // the state inputs' static shapes
  DeviceBlock activation_;
  std::vector<ProducedOutput> produced_; // the last run's, per output (metadata order)
  bool has_context_ = false;
  uint64_t generation_ = 0; // bumped per context, like the adapter's
};

class TestEngineRuntime final : public EngineRuntime {
 public:
  EngineIdentity identity() const override {
    return EngineIdentity{Flavour::kTest, "1.0.0"};
  }

  std::string description() const override {
    return "test engine 1.0.0 (CPU, tests/engine)";
  }

  Error check_device(int32_t device_index) override {
    const int count = g_device_count.load();
    if (device_index >= count) {
      return report_error(
          Error::NotSupported,
          "test engine: no device %d (this run simulates %d device(s))",
          device_index,
          count);
    }
    return Error::Ok;
  }

  Result<void*> allocate_persistent(int32_t /*device_index*/, size_t nbytes) override {
    void* pointer = device_allocate(nbytes);
    if (pointer == nullptr) {
      return report_error(Error::MemoryAllocationFailed, "test engine: out of simulated device memory (%zu bytes asked)", nbytes);
    }
    return pointer;
  }

  void free_persistent(int32_t /*device_index*/, void* pointer) override {
    device_free(pointer);
  }

  Error read_persistent(int32_t /*device_index*/, void* host, const void* device, size_t nbytes) override {
    return device_copy_to_host(host, device, nbytes)
        ? Error::Ok
        : report_error(Error::Internal, "test engine: read_persistent source is not simulated device memory");
  }

  Result<std::unique_ptr<Engine>> deserialize(
      const uint8_t* engine,
      size_t engine_size,
      const EngineMetadata& metadata) override {
    ++g_deserialize_count;
    ProgramText program;
    const size_t length = program_length(engine, engine_size);
    Error err = parse_program(std::string(reinterpret_cast<const char*>(engine), length), &program);
    if (err != Error::Ok) {
      return err;
    }
    return TestEngine::create(std::move(program), metadata);
  }
};

const bool g_registered = [] {
  return register_engine_runtime(std::make_unique<TestEngineRuntime>()) == Error::Ok;
}();

} // namespace
} // namespace test_engine
} // namespace executorch_tensorrt

// Controls and counters for the tests.
extern "C" {
int etrt_test_engine_registered() {
  return executorch_tensorrt::test_engine::g_registered ? 1 : 0;
}
int etrt_test_engine_deserialize_count() {
  return executorch_tensorrt::test_engine::g_deserialize_count.load();
}
int etrt_test_engine_run_count() {
  return executorch_tensorrt::test_engine::g_run_count.load();
}
int etrt_test_engine_budget_calls() {
  return executorch_tensorrt::test_engine::g_budget_calls.load();
}
int64_t etrt_test_engine_last_budget() {
  return executorch_tensorrt::test_engine::g_last_budget.load();
}
int etrt_test_engine_context_creations() {
  return executorch_tensorrt::test_engine::g_context_creations.load();
}
int etrt_test_engine_memory_overlaps() {
  return executorch_tensorrt::test_engine::g_memory_overlaps.load();
}
int etrt_test_engine_max_runs_in_flight() {
  return executorch_tensorrt::test_engine::g_max_runs_in_flight.load();
}
int etrt_test_engine_max_runs_on_one_engine() {
  return executorch_tensorrt::test_engine::g_max_runs_on_one_engine.load();
}
int etrt_test_engine_shares() {
  return executorch_tensorrt::test_engine::g_shares.load();
}
void etrt_test_engine_reset_run_tracking() {
  executorch_tensorrt::test_engine::g_memory_overlaps.store(0);
  executorch_tensorrt::test_engine::g_max_runs_in_flight.store(0);
  executorch_tensorrt::test_engine::g_max_runs_on_one_engine.store(0);
}
int etrt_test_engine_caller_stream_calls() {
  return executorch_tensorrt::test_engine::g_caller_stream_calls.load();
}
intptr_t etrt_test_engine_last_caller_stream() {
  return executorch_tensorrt::test_engine::g_last_caller_stream.load();
}
int etrt_test_engine_pinned_copies() {
  return executorch_tensorrt::test_engine::g_pinned_copies.load();
}
int etrt_test_engine_captures() {
  return executorch_tensorrt::test_engine::g_captures.load();
}
int etrt_test_engine_replays() {
  return executorch_tensorrt::test_engine::g_replays.load();
}
int etrt_test_engine_refits() {
  return executorch_tensorrt::test_engine::g_refits.load();
}
int etrt_test_engine_refit_ignored() {
  return executorch_tensorrt::test_engine::g_refit_ignored.load();
}
int etrt_test_engine_order_after_calls() {
  return executorch_tensorrt::test_engine::g_order_after_calls.load();
}
int etrt_test_engine_refused_outputs() {
  return executorch_tensorrt::test_engine::g_refused_outputs.load();
}
void etrt_test_engine_refuse_capture(int refuse) {
  executorch_tensorrt::test_engine::g_refuse_capture.store(refuse);
}
void etrt_test_engine_set_device_count(int count) {
  executorch_tensorrt::test_engine::g_device_count.store(count);
}
}
