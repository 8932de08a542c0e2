#include "engines/external_weights.h"

#include <cstdint>
#include <new>
#include <string>

#include "common/error_report.h"
#include "common/printable_text.h"
#include "engines/named_data.h"

namespace executorch_tensorrt {

using executorch::runtime::FreeableBuffer;
using executorch::runtime::NamedDataMap;

namespace {

constexpr const char* kRemedy =
    "load the program with the .ptd it was exported with (Python: load(pte, data_path=...); runner: --data-path), "
    "or re-export it";

std::string described(const ExternalWeightSpec& spec) {
  return printable_quoted(spec.name.data(), spec.name.size()) + " (named data key " +
      printable_quoted(spec.key.data(), spec.key.size()) + ")";
}

std::string spec_text(const ExternalWeightSpec& spec) {
  return std::string(dtype_name(spec.dtype)) + " " + spec.shape.to_string();
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
    Error err = check_named_layout(*map, spec.key, spec.dtype, spec.shape, "external weight " + described(spec), kRemedy);
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
