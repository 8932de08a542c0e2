#pragma once

// The program's named data (ExecuTorch's NamedDataMap, which init() gets
// from BackendInitContext::get_named_data_map()), as the delegate reads it:
// the one place that touches the map, so every reader (engine bytes kept in
// named data, and anything else a blob section keeps there) refuses a
// missing or mis-sized entry the same way, naming the key.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <executorch/runtime/core/freeable_buffer.h>
#include <executorch/runtime/core/named_data_map.h>
#include <executorch/runtime/core/result.h>

#include "blob/delegate_blob.h"
#include "engines/deferred_engine.h"

namespace executorch_tensorrt {

// The bytes stored under `key` (`what` names them in messages), exactly
// `expected_size` of them; zero-copy where the program's data loader allows
// (mmap). A null map, a missing key or another size is refused naming it.
Result<executorch::runtime::FreeableBuffer> read_named_data(
    const executorch::runtime::NamedDataMap* map,
    const std::string& key,
    const char* what,
    uint64_t expected_size);

// Where `map` has a tensor layout for `key` (named data written from a tensor,
// as a .ptd's weights are, records one), it must be `dtype` and `shape`;
// else InvalidProgram naming `described` (the tensor and its key), both sides
// and `remedy`. Raw bytes without a layout pass: the size check decides.
Error check_named_layout(
    const executorch::runtime::NamedDataMap& map,
    const std::string& key,
    uint8_t dtype,
    const Shape& shape,
    const std::string& described,
    const char* remedy);

// Each engine's bytes: inside `blob_buffer` (the blob ExecuTorch handed
// init()) or, for engines kept in named data, that data (each its own
// buffer). Each carries the engine's digest (EngineBlob::digest).
Result<std::vector<HostEngineBytes>> engine_bytes_of(
    const DelegateBlob& blob,
    const std::shared_ptr<executorch::runtime::FreeableBuffer>& blob_buffer,
    const executorch::runtime::NamedDataMap* map);

} // namespace executorch_tensorrt
