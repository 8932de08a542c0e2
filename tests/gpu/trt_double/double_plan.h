#pragma once

// The TensorRT runtime double's plan (PLAN_FORMAT.md): parsing and shape
// inference, host-only so CI can check it without a GPU. A test double, not
// TensorRT.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace trt_double {

constexpr int kMaxRank = 8;
constexpr int kMaxProfiles = 8;
constexpr int64_t kAlignment = 256;
constexpr const char* kHeader = "trt-runtime-double-plan 1";

using Shape = std::vector<int64_t>;

struct Range {
  Shape min, opt, max;
};

struct IoTensor {
  std::string name;
  bool is_input = false;
  int rank = 0;                 // inputs; outputs get theirs by inference
  std::vector<Range> ranges;    // inputs: one per profile
};

struct Weight {
  std::string name;
  bool streamable = false;
  int64_t rows = 0, cols = 0;
  std::vector<float> values;
  bool stripped = false;        // `values stripped`: zeros until refitted (IRefitter)
  int64_t offset = 0;           // in its area (resident or streamable), aligned
  int64_t bytes() const { return rows * cols * 4; }
};

enum class OpKind { kAdd, kSub, kMul, kRelu, kNeg, kCopy, kLinear, kNonzero };

struct Arg {
  enum Kind { kTensor, kWeight, kLiteral } kind = kLiteral;
  std::string name;
  float literal = 0;
};

struct Op {
  OpKind kind = OpKind::kCopy;
  std::string dst;
  std::vector<Arg> args;
};

struct Plan {
  int profiles = 1;
  std::vector<IoTensor> io;       // inputs then outputs, in plan order
  std::vector<Weight> weights;
  std::vector<Op> ops;
  std::vector<std::string> temps; // op results that are not outputs
  int64_t resident_bytes = 0;     // resident weights + pad, aligned
  int64_t streamable_bytes = 0;   // streamable weights + pad, aligned
  int64_t streamable_weights_end = 0;  // the streamable weights ops read (the pad follows)
  int64_t activation_extra = 0;
  int64_t run_delay_us = 0;
  std::map<std::string, std::string> aliases; // `alias OUT IN`: output -> the input it updates in place

  // Outputs assigned by `nonzero`: int64 [count, rank], count known only
  // during the run (a data-dependent shape, reported through IOutputAllocator).
  std::vector<std::string> data_dependent;

  const IoTensor* find_io(const std::string& name) const;
  bool is_data_dependent(const std::string& name) const;
  const Weight* find_weight(const std::string& name) const;
  int input_count() const;
};

// How many of the `size` bytes at `bytes` are the plan: through its `end`
// line and that line's newline, or all of them when no line is `end`
// (PLAN_FORMAT.md). Reads nothing past that line, so a plan followed by a
// hole of gigabytes costs its own bytes only.
std::size_t plan_extent(const char* bytes, std::size_t size);

// Parses `text` (up to its `end` line, if any); on failure returns false
// with the reason in `*error`.
bool parse_plan(const std::string& text, Plan* plan, std::string* error);

// Shapes of every tensor (inputs, temporaries, outputs) for the given input
// shapes; false with a reason when they do not fit the ops.
bool infer_shapes(
    const Plan& plan,
    const std::map<std::string, Shape>& inputs,
    std::map<std::string, Shape>* shapes,
    std::string* error);

int64_t element_count(const Shape& dims);
int64_t align_up(int64_t bytes);

// Execution memory for `profile` with `scratch` streaming bytes: the stamp,
// each temporary at the profile's maximum shapes, the scratch, the extra.
int64_t execution_memory_bytes(const Plan& plan, int profile, int64_t scratch);

// Byte offset of each temporary in the execution memory (after the stamp).
std::map<std::string, int64_t> temporary_offsets(const Plan& plan, const std::map<std::string, Shape>& shapes);

std::string dims_text(const Shape& dims);

} // namespace trt_double
