#include "common/printable_text.h"

#include <cstdio>

namespace executorch_tensorrt {

std::string printable_quoted(const char* text, size_t size) {
  std::string out = "\"";
  const size_t shown = size > 80 ? 80 : size;
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\x%02x", c);
      out += buffer;
    }
  }
  out += size > shown ? "...\"" : "\"";
  return out;
}

} // namespace executorch_tensorrt
