#include "engines/named_data.h"

#include "common/error_report.h"
#include "common/printable_text.h"

namespace executorch_tensorrt {

using executorch::runtime::FreeableBuffer;
using executorch::runtime::NamedDataMap;
using executorch::runtime::TensorLayout;

namespace {

std::string layout_text(const TensorLayout& layout) {
  const char* name = dtype_name(static_cast<uint8_t>(layout.scalar_type()));
  std::string text = name != nullptr ? name : "scalar_type_" + std::to_string(static_cast<int>(layout.scalar_type()));
  text += " [";
  for (size_t d = 0; d < layout.sizes().size(); ++d) {
    text += (d == 0 ? "" : ", ") + std::to_string(layout.sizes()[d]);
  }
  return text + "]";
}

} // namespace

Error check_named_layout(
    const NamedDataMap& map,
    const std::string& key,
    uint8_t dtype,
    const Shape& shape,
    const std::string& described,
    const char* remedy) {
  Result<const TensorLayout> layout = map.get_tensor_layout(key.c_str());
  if (!layout.ok()) {
    return Error::Ok;
  }
  bool same = static_cast<uint8_t>(layout->scalar_type()) == dtype && layout->sizes().size() == shape.rank;
  for (size_t d = 0; same && d < shape.rank; ++d) {
    same = layout->sizes()[d] == shape.dims[d];
  }
  if (same) {
    return Error::Ok;
  }
  return report_error(
      Error::InvalidProgram,
      "%s is %s in the program's named data, the engine was built for %s %s; %s",
      described.c_str(),
      layout_text(*layout).c_str(),
      dtype_name(dtype),
      shape.to_string().c_str(),
      remedy);
}

Result<FreeableBuffer> read_named_data(
    const NamedDataMap* map,
    const std::string& key,
    const char* what,
    uint64_t expected_size) {
  const std::string shown = printable_quoted(key.data(), key.size());
  if (map == nullptr) {
    return report_error(
        Error::InvalidProgram,
        "the delegate keeps %s in the program's named data under %s, but the program has no named data; "
        "re-export the model",
        what,
        shown.c_str());
  }
  Result<FreeableBuffer> data = map->get_data(key.c_str());
  if (!data.ok()) {
    return report_error(
        data.error() == Error::NotFound ? Error::InvalidProgram : data.error(),
        "named data %s (%s) is missing from the program (%s); the .pte is incomplete: re-export the model",
        shown.c_str(),
        what,
        data.error() == Error::NotFound ? "no such key" : "it could not be read");
  }
  if (data->size() != expected_size) {
    return report_error(
        Error::InvalidProgram,
        "named data %s (%s) holds %zu bytes; the delegate blob records %llu; re-export the model",
        shown.c_str(),
        what,
        data->size(),
        static_cast<unsigned long long>(expected_size));
  }
  return data;
}

Result<std::vector<HostEngineBytes>> engine_bytes_of(
    const DelegateBlob& blob,
    const std::shared_ptr<FreeableBuffer>& blob_buffer,
    const NamedDataMap* map) {
  std::vector<HostEngineBytes> bytes;
  for (const EngineBlob& engine : blob.engines) {
    if (engine.named_key.empty()) {
      bytes.emplace_back(blob_buffer, engine.engine, engine.engine_size, engine.digest);
      continue;
    }
    Result<FreeableBuffer> data = read_named_data(map, engine.named_key, "an engine", engine.engine_size);
    if (!data.ok()) {
      return data.error();
    }
    auto held = std::make_shared<FreeableBuffer>(std::move(*data));
    bytes.emplace_back(held, static_cast<const uint8_t*>(held->data()), held->size(), engine.digest);
  }
  return bytes;
}

} // namespace executorch_tensorrt
