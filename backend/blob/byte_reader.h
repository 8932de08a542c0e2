#pragma once

// Reading untrusted blob metadata (docs/blob_format.md): a bounds-checked
// cursor and the `str` field, shared by the blob and its section readers.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "blob/delegate_blob.h"
#include "common/error_report.h"

namespace executorch_tensorrt {

inline constexpr uint32_t kMaxNameBytes = 1024;

// A cursor over untrusted bytes: every read checks the remaining length first,
// so no read can run past the end whatever the input claims.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t position() const {
    return pos_;
  }
  size_t remaining() const {
    return size_ - pos_;
  }

  template <typename T>
  bool read(T* out) {
    if (remaining() < sizeof(T)) {
      return false;
    }
    // Little-endian host assumed (x86-64 and aarch64 Linux); memcpy avoids
    // unaligned access.
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  bool read_bytes(size_t n, const uint8_t** out) {
    if (remaining() < n) {
      return false;
    }
    *out = data_ + pos_;
    pos_ += n;
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

inline Error truncated(const ByteReader& reader, const char* what) {
  return report_error(
      Error::InvalidProgram,
      "malformed delegate blob: metadata truncated while reading %s at byte %zu; re-export the model",
      what,
      kBlobHeaderSize + reader.position());
}

// Every byte of a length-delimited part was read; `where` ends the message
// ("after the metadata").
inline Error expect_consumed(const ByteReader& reader, const char* where) {
  if (reader.remaining() == 0) {
    return Error::Ok;
  }
  return report_error(
      Error::InvalidProgram, "malformed delegate blob: %zu trailing bytes %s", reader.remaining(), where);
}

// `allow_empty`: a length of 0 reads "" (a field whose absence means something).
inline Error read_string(
    ByteReader& reader,
    uint32_t max_bytes,
    const char* what,
    std::string* out,
    bool allow_empty = false) {
  uint32_t length = 0;
  if (!reader.read(&length)) {
    return truncated(reader, what);
  }
  if (length == 0 && allow_empty) {
    out->clear();
    return Error::Ok;
  }
  if (length == 0 || length > max_bytes) {
    return report_error(
        Error::InvalidProgram, "malformed delegate blob: %s length %u outside 1..%u", what, length, max_bytes);
  }
  const uint8_t* bytes = nullptr;
  if (!reader.read_bytes(length, &bytes)) {
    return truncated(reader, what);
  }
  if (std::memchr(bytes, 0, length) != nullptr) {
    return report_error(Error::InvalidProgram, "malformed delegate blob: %s contains a NUL byte", what);
  }
  out->assign(reinterpret_cast<const char*>(bytes), length);
  return Error::Ok;
}

} // namespace executorch_tensorrt
