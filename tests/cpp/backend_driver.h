#pragma once

// Drives the delegate through ExecuTorch's backend registry the way a Method
// does (init / execute / destroy on the registered BackendInterface), without
// a .pte around it. Used by the init() fuzzer (tests/fuzz) and the delegate
// level concurrency tests, which need blobs and compile specs of their own.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/core/memory_allocator.h>
#include <executorch/runtime/core/portable_type/scalar_type.h>

#include <backend_id.h>
#include <blob/engine_metadata.h>

namespace executorch_tensorrt {
namespace testing {

// A compile spec that owns its key and value.
struct OwnedCompileSpec {
  std::string key;
  std::vector<uint8_t> value;
};

// The registered delegate, or nullptr when it is not registered.
inline executorch::runtime::BackendInterface* registered_delegate() {
  return executorch::runtime::get_backend_class(kBackendId);
}

// One init() call: the blob is copied into a 64-byte aligned buffer (as a
// .pte segment would be) and handed over as a FreeableBuffer that frees it,
// as the runtime's does (init() frees it early once the engine is loaded);
// the compile specs and load-time options are passed as ExecuTorch passes them.
class InitCall {
 public:
  InitCall(
      const uint8_t* blob,
      size_t size,
      const std::vector<OwnedCompileSpec>& specs,
      executorch::runtime::Span<const executorch::runtime::BackendOption> options = {})
      : specs_owned_(specs),
        options_(options.begin(), options.end()),
        allocator_(sizeof(arena_), arena_),
        buffer_(aligned_copy(blob, size), size, free_copy) {
    for (OwnedCompileSpec& spec : specs_owned_) {
      specs_.push_back(executorch::runtime::CompileSpec{
          spec.key.c_str(), {spec.value.empty() ? nullptr : spec.value.data(), spec.value.size()}});
    }
  }

  executorch::runtime::Result<executorch::runtime::DelegateHandle*> run(
      executorch::runtime::BackendInterface* backend) {
    executorch::runtime::BackendInitContext context(
        &allocator_, nullptr, "forward", nullptr, {options_.data(), options_.size()});
    return backend->init(context, &buffer_, {specs_.data(), specs_.size()});
  }

 private:
  static void* aligned_copy(const uint8_t* blob, size_t size) {
    void* copy = std::aligned_alloc(64, size == 0 ? 64 : (size + 63) / 64 * 64);
    if (copy != nullptr && size > 0) {
      std::memcpy(copy, blob, size);
    }
    return copy;
  }
  static void free_copy(void* /*context*/, void* data, size_t /*size*/) {
    std::free(data);
  }

  std::vector<OwnedCompileSpec> specs_owned_;
  std::vector<executorch::runtime::CompileSpec> specs_;
  std::vector<executorch::runtime::BackendOption> options_;
  alignas(16) uint8_t arena_[4096];
  executorch::runtime::MemoryAllocator allocator_;
  executorch::runtime::FreeableBuffer buffer_;
};

// Delegate arguments for one execute(): inputs at their profile-0 `opt`
// shape, filled from `fill`, and outputs sized to profile 0's `max` shape
// (the delegate resizes them down).
class DelegateArguments {
 public:
  // False when the metadata asks for tensors this helper will not make (more
  // than `max_elements` elements, or dims beyond what ExecuTorch sizes hold).
  bool make(const EngineMetadata& meta, size_t max_elements, float fill_base = 0.0f) {
    for (const TensorSpec& spec : meta.inputs) {
      if (spec.ranges.empty() || !add(spec, spec.ranges[0].opt, max_elements, fill_base)) {
        return false;
      }
    }
    for (const TensorSpec& spec : meta.outputs) {
      if (spec.ranges.empty() || !add(spec, spec.ranges[0].max, max_elements, 0.0f)) {
        return false;
      }
    }
    for (auto& value : values_) {
      pointers_.push_back(&value);
    }
    return true;
  }

  executorch::runtime::Span<executorch::runtime::EValue*> span() {
    return {pointers_.data(), pointers_.size()};
  }
  const executorch::aten::Tensor& tensor(size_t index) const {
    return *tensors_[index];
  }

 private:
  bool add(const TensorSpec& spec, const Shape& shape, size_t max_elements, float fill_base) {
    const auto type = static_cast<executorch::aten::ScalarType>(spec.dtype);
    std::vector<executorch::aten::SizesType> sizes;
    size_t elements = 1;
    for (uint8_t i = 0; i < shape.rank; ++i) {
      if (shape.dims[i] < 0 || shape.dims[i] > static_cast<int64_t>(max_elements)) {
        return false;
      }
      elements *= static_cast<size_t>(shape.dims[i]);
      if (elements > max_elements) {
        return false;
      }
      sizes.push_back(static_cast<executorch::aten::SizesType>(shape.dims[i]));
    }
    const size_t nbytes = elements * executorch::runtime::elementSize(type);
    storage_.emplace_back(nbytes == 0 ? 1 : nbytes, 0);
    if (type == executorch::aten::ScalarType::Float) {
      auto* data = reinterpret_cast<float*>(storage_.back().data());
      for (size_t k = 0; k < elements; ++k) {
        data[k] = fill_base + static_cast<float>(k) - static_cast<float>(elements) / 2.0f;
      }
    }
    tensors_.push_back(executorch::extension::make_tensor_ptr(std::move(sizes), storage_.back().data(), type));
    values_.emplace_back(*tensors_.back());
    return true;
  }

  std::vector<std::vector<uint8_t>> storage_;
  std::vector<executorch::extension::TensorPtr> tensors_;
  std::vector<executorch::runtime::EValue> values_;
  std::vector<executorch::runtime::EValue*> pointers_;
};

} // namespace testing
} // namespace executorch_tensorrt
