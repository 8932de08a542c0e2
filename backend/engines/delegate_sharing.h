#pragma once

// Delegate instances that share one LoadedDelegate (option
// `execution_contexts` > 1).
//
// ExecuTorch runs a method on one thread at a time (a Method is not
// re-entrant and its planned memory holds the delegate's I/O), so calls run
// at once only on several method instances: several Modules over one
// program, as our Python loader makes for `execution_contexts=N`. Each
// instance's init() gets its own copy of the delegate blob; instances whose
// blob bytes, program tag and load-time options are the same join the first
// one's LoadedDelegate instead of deserializing the engine again, so the
// engine's weights are on the device once and the instances' calls run on
// its lanes of execution contexts.

#include <cstddef>
#include <cstdint>
#include <string>

#include "blob/delegate_blob.h"
#include "engines/loaded_delegate.h"
#include "options/delegate_options.h"

namespace executorch_tensorrt {

struct DelegateShareKey {
  int64_t program_tag = 0;
  uint64_t blob_fingerprint = 0;
  size_t blob_size = 0;
  std::string load_options; // options_identity() of the load-time options
  bool operator<(const DelegateShareKey& other) const;
};

// FNV-1a over the bytes.
uint64_t blob_fingerprint(const void* data, size_t size);
// The parsed blob's identity without reading its engine bytes where it can:
// when every engine records its digest (or lives in named data, by key) the
// header and metadata (which hold them) identify the delegate; else, for
// blobs without digests, every byte.
uint64_t delegate_fingerprint(const DelegateBlob& blob, const void* data, size_t size);

// The load-time options as text: instances given different options do not
// share. Pure.
std::string options_identity(const DelegateOptions& options);

// The live delegate for `key`, counted as one more instance; null when none.
LoadedDelegate* join_shared_delegate(const DelegateShareKey& key);
// Offers `delegate` (one instance) to later instances with the same key.
void offer_shared_delegate(const DelegateShareKey& key, LoadedDelegate* delegate);
// One instance of `delegate` is destroyed: true when it was the last (or the
// delegate was never shared), so the caller destroys it.
bool leave_shared_delegate(LoadedDelegate* delegate);

} // namespace executorch_tensorrt
