#pragma once

// Decodes fuzzer bytes into compile specs and backend options. The layout is
// simple so tests/fuzz/make_seeds.py can write meaningful seeds:
//
//   spec list:   u8 count, then count x (u8 key_len, key, u8 value_len, value)
//   option list: u8 count, then count x (u8 kind, u8 key_len, key, u8 value_len, value)
//                kind % 3: 0 bool (value[0] != 0), 1 int (value bytes, LE), 2 string
//
// Running out of bytes ends a list early; whatever follows the lists is the
// rest of the input (the blob, for the init() target).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <executorch/runtime/backend/options.h>

#include "../cpp/backend_driver.h"

namespace executorch_tensorrt {
namespace fuzzing {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t byte() {
    if (size_ == 0) {
      return 0;
    }
    --size_;
    return *data_++;
  }
  std::vector<uint8_t> bytes(size_t n) {
    n = std::min(n, size_);
    std::vector<uint8_t> out(data_, data_ + n);
    data_ += n;
    size_ -= n;
    return out;
  }
  const uint8_t* rest() const {
    return data_;
  }
  size_t rest_size() const {
    return size_;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

// memcpy of at most `n` bytes; an empty vector's data() may be null, which
// memcpy must never see, even for zero bytes.
inline void copy_prefix(void* dst, const std::vector<uint8_t>& src, size_t n) {
  n = std::min(n, src.size());
  if (n > 0) {
    std::memcpy(dst, src.data(), n);
  }
}

inline std::vector<testing::OwnedCompileSpec> read_compile_specs(ByteReader& in) {
  std::vector<testing::OwnedCompileSpec> specs(in.byte());
  for (testing::OwnedCompileSpec& spec : specs) {
    const std::vector<uint8_t> key = in.bytes(in.byte());
    // ExecuTorch hands keys over as C strings (flatbuffer strings).
    spec.key.assign(key.begin(), std::find(key.begin(), key.end(), 0));
    spec.value = in.bytes(in.byte());
  }
  return specs;
}

inline std::vector<executorch::runtime::BackendOption> read_backend_options(ByteReader& in) {
  using executorch::runtime::BackendOption;
  using executorch::runtime::kMaxOptionKeyLength;
  using executorch::runtime::kMaxOptionValueLength;
  std::vector<BackendOption> options(in.byte());
  for (BackendOption& option : options) {
    const uint8_t kind = in.byte() % 3;
    const std::vector<uint8_t> key = in.bytes(in.byte());
    copy_prefix(option.key, key, kMaxOptionKeyLength - 1);
    const std::vector<uint8_t> value = in.bytes(in.byte());
    if (kind == 0) {
      option.value = !value.empty() && value[0] != 0;
    } else if (kind == 1) {
      int number = 0;
      copy_prefix(&number, value, sizeof(number));
      option.value = number;
    } else {
      // NUL-terminated, as BackendOptions::set_option stores strings.
      std::array<char, kMaxOptionValueLength> text{};
      copy_prefix(text.data(), value, kMaxOptionValueLength - 1);
      option.value = text;
    }
  }
  return options;
}

} // namespace fuzzing
} // namespace executorch_tensorrt
