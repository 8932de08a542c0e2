// Concurrency: the delegate under threads, with the test engine computing real
// values so a race shows up as a wrong number, not only as a crash. Time is
// bounded by ctest's --timeout (tests/test_cpp.py, tests/sanitizers/run.sh):
// a deadlock fails the run. Under tests/sanitizers/run.sh the same tests run
// with AddressSanitizer + UBSan.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>
#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/backend/options.h>

#include <backend_id.h>
#include <blob/delegate_blob.h>
#include <options/delegate_options.h>
#include <common/error_report.h>

#include "backend_driver.h"
#include "blob_builder.h"

using executorch::extension::make_tensor_ptr;
using executorch::extension::module::Module;

extern "C" int etrt_test_engine_max_runs_on_one_engine();
extern "C" int etrt_test_engine_memory_overlaps();
extern "C" void etrt_test_engine_reset_run_tracking();
using executorch::runtime::Error;
using executorch::runtime::EValue;
using namespace executorch_tensorrt;
using namespace executorch_tensorrt::testing;

namespace {

constexpr int kThreads = 8;
constexpr int kCallsPerThread = 150;

// A delegate initialized from a blob whose engine computes y = x * 3 + 1
// over a dynamic batch, straight through the registered BackendInterface.
constexpr const char* kTripleEngine = "etrt-test-engine 1\ninput x\noutput y\nt = mul x 3.0\ny = add t 1.0\n";

// `directives` go before the engine's ops (tests/engine/PROGRAM_FORMAT.md).
std::vector<uint8_t> triple_blob(const std::string& directives = "") {
  BlobParts parts;
  parts.inputs = {{"x", 6, {1, 4}, {2, 4}, {8, 4}}};
  parts.outputs = {{"y", 6, {1, 4}, {2, 4}, {8, 4}}};
  parts.engine = std::string("etrt-test-engine 1\n") + directives + (kTripleEngine + std::strlen("etrt-test-engine 1\n"));
  return encode_blob(parts);
}

// Load-time option execution_contexts=`contexts`.
executorch::runtime::BackendOption contexts_option(int contexts) {
  executorch::runtime::BackendOption option{};
  std::strncpy(option.key, kOptionExecutionContexts, sizeof(option.key) - 1);
  option.value = contexts;
  return option;
}

class TripleDelegate {
 public:
  // `contexts`: the load-time execution_contexts (0: not given).
  explicit TripleDelegate(const std::string& directives = "", int contexts = 0) {
    blob_ = triple_blob(directives);
    backend_ = registered_delegate();
    std::vector<executorch::runtime::BackendOption> options;
    if (contexts > 0) {
      options.push_back(contexts_option(contexts));
    }
    InitCall call(blob_.data(), blob_.size(), {}, {options.data(), options.size()});
    auto handle = call.run(backend_);
    EXPECT_TRUE(handle.ok()) << last_error_message();
    handle_ = handle.ok() ? *handle : nullptr;
    metadata_ = parse_delegate_blob(blob_.data(), blob_.size())->engines[0].metadata;
  }
  ~TripleDelegate() {
    if (handle_ != nullptr) {
      backend_->destroy(handle_);
    }
  }

  // One execute with inputs derived from `seed`; true when every output is right.
  bool execute_and_check(float seed) const {
    DelegateArguments args;
    if (!args.make(metadata_, 1024, seed)) {
      return false;
    }
    executorch::runtime::BackendExecutionContext context;
    if (backend_->execute(context, handle_, args.span()) != Error::Ok) {
      return false;
    }
    const auto& x = args.tensor(0);
    const auto& y = args.tensor(1);
    if (y.numel() != x.numel()) {
      return false;
    }
    for (ssize_t i = 0; i < x.numel(); ++i) {
      if (y.const_data_ptr<float>()[i] != x.const_data_ptr<float>()[i] * 3.0f + 1.0f) {
        return false;
      }
    }
    return true;
  }

  bool ready() const {
    return handle_ != nullptr;
  }

 private:
  std::vector<uint8_t> blob_;
  executorch::runtime::BackendInterface* backend_ = nullptr;
  executorch::runtime::DelegateHandle* handle_ = nullptr;
  EngineMetadata metadata_;
};

std::string program_path(const char* name) {
  const char* dir = std::getenv("ETTRT_TEST_PROGRAMS");
  return dir == nullptr ? std::string() : std::string(dir) + "/" + name;
}

// forward(x, y) = (relu(x + y), x * 2) on inputs made from `seed`.
bool add_relu_forward_is_right(Module& module, float seed) {
  std::vector<float> xs(6), ys(6);
  for (int i = 0; i < 6; ++i) {
    xs[i] = seed + static_cast<float>(i) - 3.0f;
    ys[i] = static_cast<float>(i % 3) - seed;
  }
  auto x = make_tensor_ptr({2, 3}, xs);
  auto y = make_tensor_ptr({2, 3}, ys);
  auto outputs = module.forward({EValue(x), EValue(y)});
  if (!outputs.ok() || outputs->size() != 2) {
    return false;
  }
  const float* relu = (*outputs)[0].toTensor().const_data_ptr<float>();
  const float* twice = (*outputs)[1].toTensor().const_data_ptr<float>();
  for (int i = 0; i < 6; ++i) {
    const float sum = xs[i] + ys[i];
    if (relu[i] != (sum > 0 ? sum : 0.0f) || twice[i] != xs[i] * 2.0f) {
      return false;
    }
  }
  return true;
}

// Runs `body(thread_index)` on `threads` threads; returns how many calls failed.
template <typename Body>
int run_threads(int threads, Body body) {
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] { failures += body(t); });
  }
  for (auto& thread : pool) {
    thread.join();
  }
  return failures.load();
}

} // namespace

TEST(Concurrency, ManyThreadsExecuteOneDelegate) {
  TripleDelegate delegate;
  ASSERT_TRUE(delegate.ready());
  const int failures = run_threads(kThreads, [&](int t) {
    int failed = 0;
    for (int i = 0; i < kCallsPerThread; ++i) {
      failed += delegate.execute_and_check(static_cast<float>(t * 1000 + i)) ? 0 : 1;
    }
    return failed;
  });
  EXPECT_EQ(failures, 0) << "of " << kThreads * kCallsPerThread << " executes";
}

TEST(Concurrency, SeveralProgramsExecuteAtOnce) {
  ASSERT_FALSE(program_path("add_relu.pte").empty()) << "ETTRT_TEST_PROGRAMS is not set";
  const int failures = run_threads(4, [&](int t) {
    Module module(program_path("add_relu.pte"));
    if (module.load() != Error::Ok) {
      return kCallsPerThread;
    }
    int failed = 0;
    for (int i = 0; i < kCallsPerThread; ++i) {
      failed += add_relu_forward_is_right(module, static_cast<float>(t + i)) ? 0 : 1;
    }
    return failed;
  });
  EXPECT_EQ(failures, 0) << "of " << 4 * kCallsPerThread << " forwards";
}

TEST(Concurrency, DestroyingOneProgramWhileAnotherRuns) {
  ASSERT_FALSE(program_path("add_relu.pte").empty()) << "ETTRT_TEST_PROGRAMS is not set";
  Module running(program_path("add_relu.pte"));
  ASSERT_EQ(running.load(), Error::Ok);
  std::atomic<bool> stop{false};
  std::atomic<int> runner_failures{0}, runner_calls{0};
  std::thread runner([&] {
    while (!stop.load()) {
      runner_failures += add_relu_forward_is_right(running, static_cast<float>(runner_calls++ % 7)) ? 0 : 1;
    }
  });
  // The cycles below take a few milliseconds: let the runner start first, or
  // on a busy machine they may all finish before it runs once.
  while (runner_calls.load() == 0) {
    std::this_thread::yield();
  }
  int cycle_failures = 0;
  for (int cycle = 0; cycle < 40; ++cycle) {
    // Created, run and destroyed (delegate destroy()) while `running` executes.
    Module transient(program_path("add_relu.pte"));
    cycle_failures += add_relu_forward_is_right(transient, static_cast<float>(cycle)) ? 0 : 1;
    TripleDelegate delegate;
    cycle_failures += delegate.execute_and_check(static_cast<float>(cycle)) ? 0 : 1;
  }
  stop = true;
  runner.join();
  EXPECT_EQ(cycle_failures, 0);
  EXPECT_EQ(runner_failures.load(), 0) << "of " << runner_calls.load() << " forwards";
  EXPECT_GT(runner_calls.load(), 0);
}

namespace {

Error set_output_buffers(const char* value) {
  executorch::runtime::BackendOptions<1> options;
  // The key is kOptionOutputBuffers; BackendOptions wants a literal.
  if (options.set_option("output_buffers", value) != Error::Ok) {
    return Error::Internal;
  }
  return executorch::runtime::set_option(kBackendId, options.view());
}

} // namespace

TEST(Concurrency, SetOptionDuringExecutes) {
  TripleDelegate delegate;
  ASSERT_TRUE(delegate.ready());
  std::atomic<bool> stop{false};
  std::atomic<int> set_option_errors{0}, set_option_calls{0};
  std::thread options_thread([&] {
    for (int i = 0; !stop.load(); ++i) {
      ++set_option_calls;
      set_option_errors += set_output_buffers(i % 2 == 0 ? "fresh" : "reuse") == Error::Ok ? 0 : 1;
    }
  });
  const int failures = run_threads(4, [&](int t) {
    int failed = 0;
    for (int i = 0; i < kCallsPerThread; ++i) {
      failed += delegate.execute_and_check(static_cast<float>(t * 100 + i)) ? 0 : 1;
    }
    return failed;
  });
  stop = true;
  options_thread.join();
  EXPECT_EQ(failures, 0) << "executes failed while set_option ran";
  EXPECT_EQ(set_option_errors.load(), 0) << "of " << set_option_calls.load() << " set_option calls";
  // The delegate refuses a value it does not know, naming it.
  EXPECT_EQ(set_output_buffers("neither_reuse_nor_fresh"), Error::InvalidArgument);
}

// `calls` checked executes of `delegate` on each of `threads` threads; how many failed.
int failed_calls(const TripleDelegate& delegate, int threads, int calls) {
  return run_threads(threads, [&](int t) {
    int failed = 0;
    for (int i = 0; i < calls; ++i) {
      failed += delegate.execute_and_check(static_cast<float>(t * 100 + i)) ? 0 : 1;
    }
    return failed;
  });
}

// Several execution contexts (execution_contexts=4): four threads calling one
// delegate handle run at once on its one engine, each on its own lane; the
// rendezvous directive holds the first runs until four run at once.
TEST(Concurrency, SeveralContextsRunCallsOnOneEngineAtOnce) {
  etrt_test_engine_reset_run_tracking();
  TripleDelegate delegate("activation 4096\nrun_rendezvous 4\n", 4);
  ASSERT_TRUE(delegate.ready());
  EXPECT_EQ(failed_calls(delegate, 4, 40), 0);
  EXPECT_EQ(etrt_test_engine_max_runs_on_one_engine(), 4);
  EXPECT_EQ(etrt_test_engine_memory_overlaps(), 0);
}

// One context (the default): calls on one delegate never overlap.
TEST(Concurrency, OneContextNeverOverlaps) {
  etrt_test_engine_reset_run_tracking();
  TripleDelegate delegate("activation 4096\nrun_delay_us 200\n");
  ASSERT_TRUE(delegate.ready());
  EXPECT_EQ(failed_calls(delegate, 4, 20), 0);
  EXPECT_EQ(etrt_test_engine_max_runs_on_one_engine(), 1);
}

// Method instances of one delegate (the same blob, program and options, with
// execution_contexts > 1) share one delegate; with one context each has its own.
TEST(Concurrency, InstancesWithSeveralContextsShareOneDelegate) {
  executorch::runtime::BackendInterface* backend = registered_delegate();
  const std::vector<uint8_t> blob = triple_blob();
  for (const int contexts : {1, 3}) {
    std::vector<executorch::runtime::BackendOption> options{contexts_option(contexts)};
    InitCall first(blob.data(), blob.size(), {}, {options.data(), options.size()});
    InitCall second(blob.data(), blob.size(), {}, {options.data(), options.size()});
    auto a = first.run(backend);
    auto b = second.run(backend);
    ASSERT_TRUE(a.ok() && b.ok()) << last_error_message();
    EXPECT_EQ(*a == *b, contexts > 1) << contexts << " contexts";
    backend->destroy(*a);
    backend->destroy(*b); // the last instance destroys a shared delegate
  }
}
