// TensorRTEngine::refit: a weight-stripped engine (built with kSTRIP_PLAN and
// kREFIT_IDENTICAL) gets its weights from the program's named data through
// TensorRT's IRefitter, once per deserialization, before any context exists.

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/error_report.h"
#include "tensorrt/tensorrt_engine.h"

namespace executorch_tensorrt {
namespace tensorrt_adapter {
namespace {

// The ExecuTorch ScalarType of a TensorRT weights type (-1: none we refit).
int scalar_type_of_weights(nvinfer1::DataType type) {
  switch (type) {
    case nvinfer1::DataType::kFLOAT:
      return 6;
    case nvinfer1::DataType::kHALF:
      return 5;
    case nvinfer1::DataType::kBF16:
      return 15;
    case nvinfer1::DataType::kINT8:
      return 1;
    default:
      return -1;
  }
}

// The names a list call of the refitter returns (getAllWeights, getMissingWeights).
template <typename List>
std::vector<std::string> names_of(List list) {
  const int32_t count = list(0, nullptr);
  std::vector<const char*> names(count > 0 ? static_cast<size_t>(count) : 0, nullptr);
  if (count > 0) {
    list(count, names.data());
  }
  std::vector<std::string> out;
  for (const char* name : names) {
    out.emplace_back(name != nullptr ? name : "?");
  }
  return out;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) {
    text += (text.empty() ? "'" : ", '") + name + "'";
  }
  return text;
}

} // namespace

Error TensorRTEngine::refit(Span<const NamedWeights> weights) {
  if (shares_weights_ || context_) {
    return report_error(Error::InvalidState, "internal: refit of an engine with a context or of a sharer");
  }
  ScopedDevice device(device_index_);
  if (device.status() != cudaSuccess) {
    return device_failure(device_index_, device);
  }
  logger_.clear_last_error();
  std::unique_ptr<nvinfer1::IRefitter> refitter(nvinfer1::createInferRefitter(*engine_, logger_));
  if (!refitter) {
    return report_error(
        Error::DelegateInvalidCompatibility,
        "TensorRT cannot refit this engine (%s); it was not built refittable: re-export the model",
        logger_.take_last_error().c_str());
  }
  const std::vector<std::string> all = names_of(
      [&](int32_t size, const char** names) { return refitter->getAllWeights(size, names); });
  const std::unordered_set<std::string> wanted(all.begin(), all.end());
  for (const NamedWeights& given : weights) {
    if (wanted.count(given.name) == 0) {
      continue; // TensorRT folded it into the plan (kept there, not stripped)
    }
    const nvinfer1::Weights prototype = refitter->getWeightsPrototype(given.name.c_str());
    uint64_t elements = 0, bytes = 0;
    const bool sized = checked_shape_bytes(given.shape, given.dtype, &elements, &bytes) && bytes == given.nbytes;
    const int64_t count = sized ? static_cast<int64_t>(elements) : -1;
    if (!sized || scalar_type_of_weights(prototype.type) != given.dtype || prototype.count != count) {
      return report_error(
          Error::InvalidProgram,
          "TensorRT's engine takes weight '%s' as %lld elements of TensorRT type %d, the program's named data holds "
          "%s %s; load the program with the .ptd it was exported with, or re-export it",
          given.name.c_str(),
          static_cast<long long>(prototype.count),
          static_cast<int>(prototype.type),
          dtype_name(given.dtype) != nullptr ? dtype_name(given.dtype) : "?",
          given.shape.to_string().c_str());
    }
    // TensorRT reads the values during refitCudaEngine(), which returns when
    // they are on the device; the caller keeps `given.data` alive until then.
    if (!refitter->setNamedWeights(given.name.c_str(), nvinfer1::Weights{prototype.type, given.data, count})) {
      return report_error(
          Error::InvalidProgram,
          "TensorRT refused weight '%s': %s",
          given.name.c_str(),
          logger_.take_last_error().c_str());
    }
  }
  const std::vector<std::string> missing = names_of(
      [&](int32_t size, const char** names) { return refitter->getMissingWeights(size, names); });
  if (!missing.empty()) {
    return report_error(
        Error::InvalidProgram,
        "the engine still misses %zu weight(s) after refit from the program's named data: %s; re-export the model",
        missing.size(),
        joined(missing).c_str());
  }
  if (!refitter->refitCudaEngine()) {
    return report_error(
        Error::Internal, "TensorRT could not refit the engine: %s", logger_.take_last_error().c_str());
  }
  return Error::Ok;
}

} // namespace tensorrt_adapter
} // namespace executorch_tensorrt
