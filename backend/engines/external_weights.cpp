#include "engines/external_weights.h"

#include <cstdint>
#include <new>
#include <string>

#include "common/error_report.h"
#include "common/printable_text.h"

namespace executorch_tensorrt {

using executorch::runtime::FreeableBuffer;
using executorch::runtime::NamedDataMap;
using executorch::runtime::TensorLayout;

namespace {

constexpr const char* kRemedy =
    "load the program with the .ptd it was exported with (Python: load(pte, data_path=...); runner: --data-path), "
    "or re-export it";

std::string described(const ExternalWeightSpec& spec) {
  return printable_quoted(spec.name.data(), spec.name.size()) + " (named data key " +
      printable_quoted(spec.key.data(), spec.key.size()) + ")";
}

std::string layout_text(const TensorLayout& layout) {
  std::string text = dtype_name(static_cast<uint8_t>(layout.scalar_type())) != nullptr
      ? dtype_name(static_cast<uint8_t>(layout.scalar_type()))
      : "scalar_type_" + std::to_string(static_cast<int>(layout.scalar_type()));
  text += " [";
  for (size_t d = 0; d < layout.sizes().size(); ++d) {
    text += (d == 0 ? "" : ", ") + std::to_string(layout.sizes()[d]);
  }
  return text + "]";
}

std::string spec_text(const ExternalWeightSpec& spec) {
  return std::string(dtype_name(spec.dtype)) + " " + spec.shape.to_string();
}

// Where the named data has a tensor layout for the key, it must be the
// blob's dtype and shape.
Error check_layout(const NamedDataMap& map, const ExternalWeightSpec& spec) {
  Result<const TensorLayout> layout = map.get_tensor_layout(spec.key);
  if (!layout.ok()) {
    return Error::Ok; // raw bytes without a layout: the size check decides
  }
  bool same = static_cast<uint8_t>(layout->scalar_type()) == spec.dtype && layout->sizes().size() == spec.shape.rank;
  for (size_t d = 0; same && d < spec.shape.rank; ++d) {
    same = layout->sizes()[d] == spec.shape.dims[d];
  }
  if (same) {
    return Error::Ok;
  }
  return report_error(
      Error::InvalidProgram,
      "external weight %s is %s in the program's named data, the engine was built for %s; %s",
      described(spec).c_str(),
      layout_text(*layout).c_str(),
      spec_text(spec).c_str(),
      kRemedy);
}

} // namespace

Result<std::shared_ptr<const ExternalWeights>> ExternalWeights::load(
    const NamedDataMap* map,
    const std::vector<ExternalWeightSpec>& specs) {
  std::shared_ptr<ExternalWeights> weights(new (std::nothrow) ExternalWeights());
  if (!weights) {
    return report_error(Error::MemoryAllocationFailed, "out of host memory for the external weights");
  }
  weights->specs_ = specs;
  weights->buffers_.reserve(specs.size());
  for (const ExternalWeightSpec& spec : specs) {
    if (map == nullptr) {
      return report_error(
          Error::NotFound,
          "the program keeps its engines' weights outside the .pte (external weight %s and %zu more), but it was "
          "loaded without named data; %s",
          described(spec).c_str(),
          specs.size() - 1,
          kRemedy);
    }
    Error err = check_layout(*map, spec);
    if (err != Error::Ok) {
      return err;
    }
    Result<FreeableBuffer> data = map->get_data(spec.key);
    if (!data.ok()) {
      return report_error(
          Error::NotFound,
          "external weight %s is not in the program's named data (ExecuTorch error %u); %s",
          described(spec).c_str(),
          static_cast<unsigned>(data.error()),
          kRemedy);
    }
    if (data->size() != spec.nbytes) {
      return report_error(
          Error::InvalidProgram,
          "external weight %s holds %zu bytes in the program's named data, the engine was built for %llu (%s); %s",
          described(spec).c_str(),
          data->size(),
          static_cast<unsigned long long>(spec.nbytes),
          spec_text(spec).c_str(),
          kRemedy);
    }
    if (spec.nbytes > UINT64_MAX - weights->bytes_) {
      return report_error(Error::InvalidProgram, "the external weights hold more than 2^64 bytes in all");
    }
    weights->bytes_ += spec.nbytes;
    weights->buffers_.push_back(std::move(*data));
  }
  return std::shared_ptr<const ExternalWeights>(std::move(weights));
}

std::vector<NamedWeights> ExternalWeights::views() const {
  std::vector<NamedWeights> views;
  views.reserve(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    views.push_back(NamedWeights{specs_[i].name, specs_[i].dtype, specs_[i].shape, buffers_[i].data(), buffers_[i].size()});
  }
  return views;
}

} // namespace executorch_tensorrt
