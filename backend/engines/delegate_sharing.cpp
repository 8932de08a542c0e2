#include "engines/delegate_sharing.h"

#include <map>
#include <mutex>
#include <tuple>

namespace executorch_tensorrt {
namespace {

struct SharedDelegates {
  std::mutex mutex;
  std::map<DelegateShareKey, LoadedDelegate*> by_key;
  std::map<LoadedDelegate*, std::pair<DelegateShareKey, uint32_t>> instances; // key and instance count
};

SharedDelegates& shared() {
  // Never destroyed: delegates may be destroyed from static destructors.
  static SharedDelegates* instance = new SharedDelegates();
  return *instance;
}

template <typename T>
std::string field(const std::optional<T>& value) {
  return value.has_value() ? std::to_string(static_cast<uint64_t>(*value)) : std::string("-");
}

} // namespace

bool DelegateShareKey::operator<(const DelegateShareKey& other) const {
  return std::tie(program_tag, blob_fingerprint, blob_size, load_options) <
      std::tie(other.program_tag, other.blob_fingerprint, other.blob_size, other.load_options);
}

uint64_t blob_fingerprint(const void* data, size_t size) {
  uint64_t hash = 14695981039346656037ull;
  const auto* bytes = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash = (hash ^ bytes[i]) * 1099511628211ull;
  }
  return hash;
}

uint64_t delegate_fingerprint(const DelegateBlob& blob, const void* data, size_t size) {
  for (const EngineBlob& engine : blob.engines) {
    if (engine.digest == 0 && engine.named_key.empty()) {
      return blob_fingerprint(data, size);
    }
  }
  return blob_fingerprint(data, blob.metadata_end <= size ? blob.metadata_end : size);
}

std::string options_identity(const DelegateOptions& options) {
  return field(options.weight_streaming_budget) + "/" + field(options.init_policy) + "/" +
      field(options.output_buffers) + "/" + field(options.execution_memory) + "/" + field(options.execution_contexts);
}

LoadedDelegate* join_shared_delegate(const DelegateShareKey& key) {
  std::lock_guard<std::mutex> lock(shared().mutex);
  const auto found = shared().by_key.find(key);
  if (found == shared().by_key.end()) {
    return nullptr;
  }
  ++shared().instances[found->second].second;
  return found->second;
}

void offer_shared_delegate(const DelegateShareKey& key, LoadedDelegate* delegate) {
  std::lock_guard<std::mutex> lock(shared().mutex);
  if (shared().by_key.emplace(key, delegate).second) {
    shared().instances[delegate] = {key, 1};
  }
}

bool leave_shared_delegate(LoadedDelegate* delegate) {
  std::lock_guard<std::mutex> lock(shared().mutex);
  const auto found = shared().instances.find(delegate);
  if (found == shared().instances.end()) {
    return true;
  }
  if (--found->second.second > 0) {
    return false;
  }
  // No instance can join any more: destroyed by the caller.
  shared().by_key.erase(found->second.first);
  shared().instances.erase(found);
  return true;
}

} // namespace executorch_tensorrt
