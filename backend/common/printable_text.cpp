#include "common/printable_text.h"

#include <cstdio>

namespace executorch_tensorrt {
namespace {

void append_escaped(std::string& out, unsigned char c) {
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "\\x%02x", c);
  out += buffer;
}

// Length of the valid UTF-8 sequence starting at text[i] (1..4), or 0 when
// the bytes there are not one (overlong forms and surrogates included).
size_t utf8_sequence_length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  size_t length = 0;
  unsigned char low = 0x80, high = 0xBF; // allowed range of the second byte
  if (c < 0x80) {
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    low = c == 0xE0 ? 0xA0 : 0x80;
    high = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    low = c == 0xF0 ? 0x90 : 0x80;
    high = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (text.size() - i < length || byte(i + 1) < low || byte(i + 1) > high) {
    return 0;
  }
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) {
      return 0;
    }
  }
  return length;
}

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

} // namespace

std::string printable_quoted(const char* text, size_t size) {
  std::string out = "\"";
  const size_t shown = size > 80 ? 80 : size;
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      append_escaped(out, c);
    }
  }
  out += size > shown ? "...\"" : "\"";
  return out;
}

std::string printable_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    out += (out.empty() ? "" : ", ") + printable_quoted(item);
  }
  return out.empty() ? "none" : out;
}

std::string printable_message(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t length = utf8_sequence_length(text, i);
    if (length == 0 || (length == 1 && is_control(c) && c != '\n' && c != '\t')) {
      append_escaped(out, c);
      ++i;
    } else {
      out.append(text, i, length);
      i += length;
    }
  }
  return out;
}

bool is_printable_utf8(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = utf8_sequence_length(text, i);
    if (length == 0 || (length == 1 && is_control(static_cast<unsigned char>(text[i])))) {
      return false;
    }
    i += length;
  }
  return true;
}

} // namespace executorch_tensorrt
