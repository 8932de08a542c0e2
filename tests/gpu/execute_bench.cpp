// Execute-path cost in C++ (no Python in the loop), with TensorRT's runtime
// REPLACED BY THE TEST DOUBLE (tests/gpu/trt_double; nothing here runs
// TensorRT). Built by bundle.sh; bench/gpu_execute.py runs it:
//   execute_bench PROGRAMS_DIR CALLS
// For io16 (8 inputs, 8 outputs of [1, 256] float32; the double's plan for
// it launches 16 elementwise kernels plus its 2 stamp kernels), per call:
//   bare_graph_us   a bare loop of cudaGraphLaunch of the double's enqueueV3
//                   of the same plan, captured once (the floor);
//   plain_us        Module::execute of io16_device.pte on the caller's
//                   stream (device I/O, cuda_graphs off);
//   graph_us        the same with cuda_graphs on;
//   host_pinned_us / host_pageable_us   io16.pte with host tensors,
//                   host_staging pinned / pageable (both with cuda_graphs,
//                   so the staging, not the double's enqueue, is compared);
// each the median of 5 runs of CALLS calls ending in one stream sync; the
// delegate's host waits per steady-state device-I/O call; and calls per
// second of io2.pte (host I/O, each call returns finished outputs) from 1
// thread with 1 execution context and from 4 threads with
// execution_contexts=4 (4 Modules of the file under one program tag, whose
// delegates share the engine; each thread its own method instance), with
// cuda_graphs off and on.

#include <NvInferRuntime.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr_maker.h>
#include <executorch/runtime/backend/backend_options_map.h>

#include "backend_id.h"
#include "common/error_report.h"
#include "control/delegate_registry.h"
#include "control/program_tag.h"
#include "engines/engine_runtime_registry.h"
#include "execute/caller_stream.h"
#include "option_table.h"
#include "support/backend_option_list.h"

namespace {

using executorch::extension::TensorPtr;
using executorch::extension::module::Module;
using executorch::runtime::EValue;
using namespace executorch_tensorrt;

constexpr int kTensors = 8; // inputs (and outputs) of io16
constexpr int kFeatures = 256;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "execute_bench: %s\n", what.c_str());
  std::exit(1);
}

// Median µs per call of `calls` calls of `call`, then one sync of `stream`.
double median_us(cudaStream_t stream, int calls, const std::function<void()>& call) {
  for (int i = 0; i < 50; ++i) {
    call();
  }
  cudaStreamSynchronize(stream);
  std::vector<double> runs;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) {
      call();
    }
    cudaStreamSynchronize(stream);
    runs.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / calls);
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

class Logger final : public nvinfer1::ILogger {
  void log(Severity severity, const char* msg) noexcept override {
    if (severity <= Severity::kERROR) {
      std::fprintf(stderr, "double: %s\n", msg);
    }
  }
};

// The floor: the double's enqueueV3 of the same plan, captured once.
double bare_graph_us(const std::string& plan_path, cudaStream_t stream, int calls) {
  std::ifstream file(plan_path, std::ios::binary);
  const std::string plan((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  Logger logger;
  std::unique_ptr<nvinfer1::IRuntime> runtime(nvinfer1::createInferRuntime(logger));
  std::unique_ptr<nvinfer1::ICudaEngine> engine(runtime->deserializeCudaEngine(plan.data(), plan.size()));
  if (!engine) {
    fail("the double refused " + plan_path);
  }
  std::unique_ptr<nvinfer1::IExecutionContext> context(
      engine->createExecutionContext(nvinfer1::ExecutionContextAllocationStrategy::kSTATIC));
  std::vector<void*> buffers;
  for (int i = 0; i < engine->getNbIOTensors(); ++i) {
    const char* name = engine->getIOTensorName(i);
    if (engine->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT) {
      context->setInputShape(name, engine->getProfileShape(name, 0, nvinfer1::OptProfileSelector::kOPT));
    }
  }
  for (int i = 0; i < engine->getNbIOTensors(); ++i) {
    void* buffer = nullptr;
    cudaMalloc(&buffer, kFeatures * sizeof(float));
    cudaMemset(buffer, 0, kFeatures * sizeof(float));
    buffers.push_back(buffer);
    context->setTensorAddress(engine->getIOTensorName(i), buffer);
  }
  context->enqueueV3(stream); // warm-up, as the delegate does before capturing
  cudaStreamSynchronize(stream);
  cudaStream_t capture = nullptr;
  cudaStreamCreateWithFlags(&capture, cudaStreamNonBlocking);
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  cudaStreamBeginCapture(capture, cudaStreamCaptureModeThreadLocal);
  context->enqueueV3(capture);
  cudaStreamEndCapture(capture, &graph);
  if (graph == nullptr || cudaGraphInstantiate(&exec, graph, 0) != cudaSuccess) {
    fail("capturing the double's enqueueV3 failed");
  }
  const double us = median_us(stream, calls, [&] { cudaGraphLaunch(exec, stream); });
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(capture);
  for (void* b : buffers) {
    cudaFree(b);
  }
  return us;
}

std::unique_ptr<Module> load(const std::string& path, BackendOptionList& options) {
  executorch::runtime::LoadBackendOptionsMap map;
  if (!options.empty() && map.set_options(kBackendId, options.view()) != executorch::runtime::Error::Ok) {
    fail("backend options refused");
  }
  auto module = std::make_unique<Module>(path, Module::LoadMode::Mmap);
  if (module->load(map) != executorch::runtime::Error::Ok || module->load_method("forward") != executorch::runtime::Error::Ok) {
    fail("loading " + path + ": " + last_error_message());
  }
  return module;
}

struct Program {
  std::unique_ptr<Module> module;
  std::vector<TensorPtr> inputs;
  std::vector<TensorPtr> outputs;
  std::vector<EValue> values;
  bool device = false;
  std::vector<void*> buffers;
  Program() = default;
  Program(Program&&) = default;
  ~Program() {
    module.reset(); // the delegate first: its work may read the buffers
    for (void* b : buffers) {
      device ? static_cast<void>(cudaFree(b)) : std::free(b);
    }
  }
};

// io16 with its I/O on the device (caller memory) or on the host.
Program make(const std::string& path, bool device, BackendOptionList options, int tensors = kTensors) {
  Program p;
  p.module = load(path, options);
  p.device = device;
  const auto type = executorch::aten::ScalarType::Float;
  const auto where = device ? executorch::aten::Device(executorch::aten::DeviceType::CUDA, 0)
                            : executorch::aten::Device(executorch::aten::DeviceType::CPU);
  for (int i = 0; i < 2 * tensors; ++i) {
    void* data = nullptr;
    if (device) {
      cudaMalloc(&data, kFeatures * sizeof(float));
      cudaMemset(data, 0, kFeatures * sizeof(float));
    } else {
      data = std::calloc(kFeatures, sizeof(float));
    }
    p.buffers.push_back(data);
    TensorPtr t = executorch::extension::from_blob(data, {1, kFeatures}, type, where);
    (i < tensors ? p.inputs : p.outputs).push_back(t);
  }
  for (const TensorPtr& t : p.inputs) {
    p.values.emplace_back(t);
  }
  if (device) {
    for (int i = 0; i < tensors; ++i) {
      if (p.module->set_output("forward", EValue(p.outputs[i]), i) != executorch::runtime::Error::Ok) {
        fail("binding output " + std::to_string(i) + " of " + path);
      }
    }
  }
  return p;
}

void run(Program& p) {
  auto result = p.module->execute("forward", p.values);
  if (!result.ok()) {
    fail(std::string("execute failed: ") + last_error_message());
  }
}

uint64_t host_waits() {
  uint64_t total = 0;
  for (const DelegateReport& report : delegate_reports(std::nullopt)) {
    total += report.counters.host_waits;
  }
  return total;
}

// Calls per second of `threads` threads, thread t calling instance t.
double calls_per_second(std::vector<Program>& instances, int threads, int calls) {
  std::vector<double> rates;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&instances, t, calls] {
        MethodInstanceScope instance(t);
        for (int i = 0; i < calls; ++i) {
          run(instances[t]);
        }
      });
    }
    for (std::thread& thread : pool) {
      thread.join();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rates.push_back(threads * calls / seconds);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

// `count` instances of io2.pte under one program tag with
// execution_contexts=count (and cuda_graphs when `graphs`), each called once.
std::vector<Program> instances_of(const std::string& path, int count, bool graphs) {
  ProgramTagScope tag(new_program_tag());
  std::vector<Program> out;
  out.reserve(count);
  for (int i = 0; i < count; ++i) {
    BackendOptionList options;
    options.add_int(kOptionExecutionContexts, count);
    options.add_bool(kOptionCudaGraphs, graphs);
    out.push_back(make(path, false, std::move(options), 1));
    MethodInstanceScope instance(i);
    run(out.back());
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fail("usage: execute_bench PROGRAMS_DIR CALLS");
  }
  const std::string dir = argv[1];
  const int calls = std::atoi(argv[2]);
  // Progress on stderr: under a sanitizer a slow phase is named, not silent.
  const auto phase = [](const char* name) { std::fprintf(stderr, "execute_bench: %s\n", name); };
  (void)engine_runtime_for(Flavour::kTensorRT); // registers ExecuTorch's CUDA DeviceAllocator
  cudaStream_t stream = nullptr;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  const double floor = bare_graph_us(dir + "/io16.plan", stream, calls);

  phase("programs");
  BackendOptionList graphs_on;
  graphs_on.add_bool(kOptionCudaGraphs, true);
  Program plain = make(dir + "/io16_device.pte", true, BackendOptionList());
  Program graphed = make(dir + "/io16_device.pte", true, graphs_on);
  BackendOptionList pinned, pageable;
  pinned.add_string(kOptionHostStaging, "pinned");
  pinned.add_bool(kOptionCudaGraphs, true);
  pageable.add_string(kOptionHostStaging, "pageable");
  pageable.add_bool(kOptionCudaGraphs, true);
  Program host_pinned = make(dir + "/io16.pte", false, pinned);
  Program host_pageable = make(dir + "/io16.pte", false, pageable);

  double threads_1 = 0, threads_4 = 0, threads_1_graphs = 0, threads_4_graphs = 0;
  {
    phase("threads");
    std::vector<Program> single = instances_of(dir + "/io2.pte", 1, false);
    std::vector<Program> four = instances_of(dir + "/io2.pte", 4, false);
    threads_1 = calls_per_second(single, 1, calls);
    threads_4 = calls_per_second(four, 4, calls);
  }
  {
    phase("threads with graphs");
    std::vector<Program> single = instances_of(dir + "/io2.pte", 1, true);
    std::vector<Program> four = instances_of(dir + "/io2.pte", 4, true);
    threads_1_graphs = calls_per_second(single, 1, calls);
    threads_4_graphs = calls_per_second(four, 4, calls);
  }

  phase("caller stream");
  CallerStreamGuard on_stream(stream);
  const double plain_us = median_us(stream, calls, [&] { run(plain); });
  const uint64_t waits_before = host_waits();
  const double graph_us = median_us(stream, calls, [&] { run(graphed); });
  const double waits_per_call = static_cast<double>(host_waits() - waits_before) / (calls * 5 + 50);
  const double pinned_us = median_us(stream, calls, [&] { run(host_pinned); });
  const double pageable_us = median_us(stream, calls, [&] { run(host_pageable); });
  std::printf(
      "bare_graph_us=%.2f plain_us=%.2f graph_us=%.2f host_pinned_us=%.2f host_pageable_us=%.2f "
      "device_io_host_waits_per_call=%.3f threads_1_calls_per_s=%.0f threads_4_calls_per_s=%.0f "
      "threads_1_graphs_calls_per_s=%.0f threads_4_graphs_calls_per_s=%.0f\n",
      floor, plain_us, graph_us, pinned_us, pageable_us, waits_per_call, threads_1, threads_4, threads_1_graphs,
      threads_4_graphs);
  cudaStreamSynchronize(stream);
  return 0;
}
