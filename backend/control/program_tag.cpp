#include "control/program_tag.h"

#include <atomic>

namespace executorch_tensorrt {
namespace {

thread_local int64_t t_program_tag = 0;
thread_local int32_t t_method_instance = -1;
std::atomic<int64_t> g_next_tag{1};

} // namespace

int64_t& program_tag_slot() {
  return t_program_tag;
}

int32_t& method_instance_slot() {
  return t_method_instance;
}

int64_t current_program_tag() {
  return t_program_tag;
}

int32_t current_method_instance() {
  return t_method_instance;
}

int64_t new_program_tag() {
  // Wraps only after 2^31 loads; 0 stays reserved for "untagged".
  int64_t tag = g_next_tag.fetch_add(1) % INT32_MAX;
  return tag == 0 ? g_next_tag.fetch_add(1) % INT32_MAX : tag;
}

} // namespace executorch_tensorrt
