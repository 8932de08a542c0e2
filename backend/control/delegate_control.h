#pragma once

// set_option() and get_option() for live delegates: applying a request to one
// delegate (waiting for its work in flight) and answering queries.

#include <optional>

#include <executorch/runtime/backend/options.h>
#include <executorch/runtime/core/span.h>

#include "options/delegate_options.h"
#include "engines/loaded_delegate.h"

namespace executorch_tensorrt {

// Applies a set_option() request to one delegate under its mutex.
Error apply_option_request(LoadedDelegate& delegate, const OptionRequest& request);

// Applies `request` to every live delegate of its program (every program
// when it names none). Fails when no delegate matches.
Error apply_option_request_to_live_delegates(const OptionRequest& request);

// Answers get_option(): fills each entry whose key is a known query with the
// values of the delegates of the program named by the entry `program` (all
// programs when absent), comma-separated in load order.
Error answer_option_queries(executorch::runtime::Span<executorch::runtime::BackendOption> options);

} // namespace executorch_tensorrt
