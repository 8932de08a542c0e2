#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace executorch_tensorrt {

// Which builder produced an engine; values are the blob's flavour codes
// (docs/blob_format.md).
enum class Flavour : uint8_t {
  kTensorRT = 1,
  kTensorRTRtx = 2,
  kTest = 240,
};

const char* flavour_name(Flavour flavour);
bool is_known_flavour(uint8_t code);

inline constexpr size_t kMaxRank = 16;

// "float32", "int64", ... for an ExecuTorch ScalarType code the blob may hold,
// nullptr for any other code.
const char* dtype_name(uint8_t scalar_type);

// The element count and byte size of `shape` as `dtype` (a code dtype_name()
// knows), computed without overflow; false when a dim is negative or the
// size reaches 2^63 bytes. Every size the delegate derives from a blob or an
// engine goes through this, so no later sum or product can wrap.
struct Shape;
bool checked_shape_bytes(const Shape& shape, uint8_t dtype, uint64_t* elements, uint64_t* bytes);

// A tensor shape of bounded rank, cheap to copy and free of heap allocation so
// it can be used on the execute path.
struct Shape {
  uint8_t rank = 0;
  std::array<int64_t, kMaxRank> dims{};

  bool operator==(const Shape& other) const;
  // "[2, 3, 4]"
  std::string to_string() const;
};

// One optimization profile's range for one tensor.
struct ShapeRange {
  Shape min;
  Shape opt;
  Shape max;

  bool contains(const Shape& shape) const;
  std::string to_string() const;
};

struct TensorSpec {
  std::string name;
  uint8_t dtype = 0; // ExecuTorch ScalarType code
  std::vector<ShapeRange> ranges; // one per optimization profile, same rank
};

// What the exporter recorded about the engine, parsed from the blob.
struct EngineMetadata {
  Flavour flavour = Flavour::kTensorRT;
  bool version_compatible = false;
  int32_t device_index = 0;
  std::string builder_version;
  uint32_t num_profiles = 1;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // The engine's tensors for the mutable buffers the delegate owns (blob
  // section `state`, parallel: state_inputs[k] reads buffer k, state_outputs[k]
  // writes its new value). Not delegate arguments: ExecuTorch never passes
  // them, the delegate binds them to its device copy of each buffer. Static
  // shapes, one range per profile.
  std::vector<TensorSpec> state_inputs;
  std::vector<TensorSpec> state_outputs;
};

} // namespace executorch_tensorrt
