// libFuzzer target: parse_compile_specs and parse_backend_options on
// arbitrary keys and values (layout: fuzz_records.h). A parse that succeeds
// must only have accepted values the option names allow.

#include <cstdint>
#include <cstdlib>
#include <vector>

#include <options/delegate_options.h>
#include <options/weight_streaming_budget.h>

#include "fuzz_records.h"

using namespace executorch_tensorrt;

namespace {

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

void check_options(const DelegateOptions& options) {
  if (options.weight_streaming_budget.has_value()) {
    require(*options.weight_streaming_budget <= kMaxWeightStreamingBudget);
  }
  if (options.init_policy.has_value()) {
    require(parse_init_policy(init_policy_name(*options.init_policy),
                              std::strlen(init_policy_name(*options.init_policy))) == options.init_policy);
  }
  if (options.output_buffers.has_value()) {
    const char* name = output_buffer_policy_name(*options.output_buffers);
    require(parse_output_buffer_policy(name, std::strlen(name)) == options.output_buffers);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzzing::ByteReader in(data, size);
  std::vector<testing::OwnedCompileSpec> owned = fuzzing::read_compile_specs(in);
  std::vector<executorch::runtime::CompileSpec> specs;
  for (testing::OwnedCompileSpec& spec : owned) {
    specs.push_back({spec.key.c_str(), {spec.value.empty() ? nullptr : spec.value.data(), spec.value.size()}});
  }
  Result<DelegateOptions> from_specs = parse_compile_specs({specs.data(), specs.size()});
  if (from_specs.ok()) {
    check_options(*from_specs);
  }

  const std::vector<executorch::runtime::BackendOption> options = fuzzing::read_backend_options(in);
  for (const char* where : {"load-time option", "set_option"}) {
    Result<OptionRequest> request = parse_backend_options({options.data(), options.size()}, where);
    if (request.ok()) {
      check_options(request->options);
      if (from_specs.ok()) {
        check_options(merge_options(request->options, *from_specs));
      }
    }
  }
  return 0;
}
