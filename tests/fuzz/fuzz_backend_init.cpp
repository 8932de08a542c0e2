// libFuzzer target: the delegate's init() as a whole, reached through
// ExecuTorch's backend registry, on arbitrary compile specs, load-time
// options and blob bytes (layout: fuzz_records.h; the blob is the rest). When
// init() succeeds the delegate is executed on tensors its metadata describes
// and destroyed, as a Method would. The test engine (flavour `test`) is linked
// in, so blobs that parse can run all the way through.

#include <cstdint>
#include <cstdlib>
#include <vector>

#include <blob/delegate_blob.h>
#include <engines/delegate_metadata.h>

#include "fuzz_records.h"

using namespace executorch_tensorrt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  executorch::runtime::BackendInterface* backend = testing::registered_delegate();
  if (backend == nullptr) {
    std::abort(); // the delegate did not register: nothing would be fuzzed
  }
  fuzzing::ByteReader in(data, size);
  const std::vector<testing::OwnedCompileSpec> specs = fuzzing::read_compile_specs(in);
  const std::vector<executorch::runtime::BackendOption> options = fuzzing::read_backend_options(in);

  testing::InitCall call(in.rest(), in.rest_size(), specs, {options.data(), options.size()});
  auto handle = call.run(backend);
  if (!handle.ok()) {
    return 0;
  }
  // Same bytes, parsed again for the argument shapes (init() accepted them).
  Result<DelegateBlob> blob = parse_delegate_blob(in.rest(), in.rest_size());
  testing::DelegateArguments args;
  if (blob.ok() && args.make(combine_engines(*blob).io, 1 << 12)) {
    executorch::runtime::BackendExecutionContext context;
    (void)backend->execute(context, *handle, args.span());
    (void)backend->execute(context, *handle, args.span());
  }
  backend->destroy(*handle);
  return 0;
}
