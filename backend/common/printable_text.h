#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace executorch_tensorrt {

// `text` in double quotes for a log line: printable ASCII kept, any other
// byte escaped as \xNN, long values cut at 80 bytes. Names and values come
// from files that may be corrupt; raw bytes would garble logs and break
// UTF-8 decoding in hosts that read them (Python).
std::string printable_quoted(const char* text, size_t size);
inline std::string printable_quoted(const std::string& text) {
  return printable_quoted(text.data(), text.size());
}

// Each item printable_quoted, comma-separated; "none" for no items.
std::string printable_list(const std::vector<std::string>& items);

// A whole message made safe to show: valid UTF-8 and newlines/tabs kept,
// every other control byte (escape sequences included) and every byte of an
// invalid UTF-8 sequence escaped as \xNN. Never shortens the message.
std::string printable_message(const std::string& text);

// True when `text` is valid UTF-8 with no control characters, i.e. it would
// be shown unchanged by printable_message and decodes in any host.
bool is_printable_utf8(const std::string& text);

} // namespace executorch_tensorrt
