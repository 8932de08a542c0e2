// Load / execute / destroy cycles, printing how many heap bytes stay
// allocated after N cycles compared with after a warm-up. Each cycle:
//   - C++ Module over an exported program: load, forward (outputs checked),
//     destroy (the delegate's destroy()),
//   - the delegate through ExecuTorch's registry: init, execute, destroy,
//   - init() of a broken blob (the error path must free what it allocated).
// Built into the sanitizer build (tests/sanitizers/run.sh), where the count
// comes from AddressSanitizer's allocator and LeakSanitizer checks at exit;
// in a plain build it comes from glibc's mallinfo2().
//
// Usage: leak_cycles PROGRAM.pte CYCLES
// Prints: cycles=<N> leaked_bytes=<bytes allocated after N cycles - after warm-up>

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>

#include <blob/delegate_blob.h>

#include "../cpp/backend_driver.h"
#include "../cpp/blob_builder.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ETTRT_WITH_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ETTRT_WITH_ASAN 1
#endif
#ifdef ETTRT_WITH_ASAN
#include <sanitizer/allocator_interface.h>
#endif

using executorch::extension::make_tensor_ptr;
using executorch::extension::module::Module;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using namespace executorch_tensorrt;

namespace {

size_t allocated_bytes() {
#ifdef ETTRT_WITH_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

bool module_cycle(const std::string& path) {
  Module module(path);
  if (module.load() != Error::Ok) {
    return false;
  }
  auto x = make_tensor_ptr({2, 3}, std::vector<float>{-3, -1, 0, 1, 2, 3});
  auto y = make_tensor_ptr({2, 3}, std::vector<float>{1, 1, 1, 1, 1, 1});
  auto outputs = module.forward({EValue(x), EValue(y)});
  return outputs.ok() && (*outputs)[1].toTensor().const_data_ptr<float>()[5] == 6.0f;
}

bool delegate_cycle(const std::vector<uint8_t>& good, const std::vector<uint8_t>& bad) {
  executorch::runtime::BackendInterface* backend = testing::registered_delegate();
  testing::InitCall call(good.data(), good.size(), {{"engine_builder", {'t', 'e', 's', 't'}}});
  auto handle = call.run(backend);
  if (!handle.ok()) {
    return false;
  }
  testing::DelegateArguments args;
  bool ok = args.make(parse_delegate_blob(good.data(), good.size())->engines[0].metadata, 1024, 1.0f);
  executorch::runtime::BackendExecutionContext context;
  ok = ok && backend->execute(context, *handle, args.span()) == Error::Ok;
  backend->destroy(*handle);
  testing::InitCall broken(bad.data(), bad.size(), {});
  return ok && !broken.run(backend).ok();
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PROGRAM.pte CYCLES\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const int cycles = std::atoi(argv[2]);
  testing::BlobLayout layout;
  const std::vector<uint8_t> good = testing::encode_blob(testing::BlobParts{}, &layout);
  std::vector<uint8_t> bad = good;
  testing::poke_u64(bad, testing::entry_field(layout, 0, 1), ~uint64_t{0} - 8); // engine length near 2^64

  // Warm-up: first-use allocations (registries, log buffers, thread-locals)
  // are not growth.
  for (int i = 0; i < 5; ++i) {
    if (!module_cycle(path) || !delegate_cycle(good, bad)) {
      std::fprintf(stderr, "warm-up cycle %d failed\n", i);
      return 1;
    }
  }
  const size_t before = allocated_bytes();
  for (int i = 0; i < cycles; ++i) {
    if (!module_cycle(path) || !delegate_cycle(good, bad)) {
      std::fprintf(stderr, "cycle %d failed\n", i);
      return 1;
    }
  }
  const size_t after = allocated_bytes();
  const long long leaked = static_cast<long long>(after) - static_cast<long long>(before);
  std::printf("cycles=%d leaked_bytes=%lld\n", cycles, leaked);
  return 0;
}
