#pragma once

#include <cstddef>
#include <string>

namespace executorch_tensorrt {

// `text` in double quotes for a log line: printable ASCII kept, any other
// byte escaped as \xNN, long values cut at 80 bytes. Names and values come
// from files that may be corrupt; raw bytes would garble logs and break
// UTF-8 decoding in hosts that read them (Python).
std::string printable_quoted(const char* text, size_t size);

} // namespace executorch_tensorrt
