#include "engines/shared_engines.h"

#include <map>
#include <mutex>
#include <tuple>

namespace executorch_tensorrt {
namespace {

struct OfferedEngines {
  std::mutex mutex;
  std::map<EngineShareKey, std::weak_ptr<Engine>> by_key;
};

OfferedEngines& offered() {
  // Never destroyed: engines may be destroyed from static destructors.
  static OfferedEngines* instance = new OfferedEngines();
  return *instance;
}

} // namespace

bool EngineShareKey::operator<(const EngineShareKey& other) const {
  return std::tie(program, flavour, device_index, digest, size) <
      std::tie(other.program, other.flavour, other.device_index, other.digest, other.size);
}

void offer_engine(const EngineShareKey& key, const std::shared_ptr<Engine>& engine) {
  std::lock_guard<std::mutex> lock(offered().mutex);
  auto& slot = offered().by_key[key];
  if (slot.expired()) {
    slot = engine;
  }
  // Forget engines that are gone, so the map holds only live ones.
  for (auto it = offered().by_key.begin(); it != offered().by_key.end();) {
    it = it->second.expired() ? offered().by_key.erase(it) : std::next(it);
  }
}

std::unique_ptr<Engine> share_offered_engine(const EngineShareKey& key) {
  // Shares are made one at a time (under the lock), and the engine is held
  // while its sharer is made.
  std::lock_guard<std::mutex> lock(offered().mutex);
  const auto found = offered().by_key.find(key);
  if (found == offered().by_key.end()) {
    return nullptr;
  }
  std::shared_ptr<Engine> engine = found->second.lock();
  if (!engine || engine->streamable_weights_bytes() > 0) {
    return nullptr;
  }
  Result<std::unique_ptr<Engine>> sharer = engine->share_engine();
  return sharer.ok() ? std::move(*sharer) : nullptr;
}

} // namespace executorch_tensorrt
