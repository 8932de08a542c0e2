#pragma once

// The TensorRT runtime double's own C entry points, beside the TensorRT ones
// it provides (createInferRuntime_INTERNAL, getInferLib*Version). THIS IS A
// TEST DOUBLE, NOT TENSORRT: it implements the part of the public TensorRT
// 11.1 runtime API our adapter calls, runs its own plan format
// (tests/gpu/trt_double/PLAN_FORMAT.md) with its own CUDA kernels, and checks
// the calls against what TensorRT documents.

#include <cstddef>
#include <cstdint>

extern "C" {

// What the double has done in this process since load (or the last reset).
struct TrtDoubleCounters {
  int64_t device_bytes_live;    // device memory it holds now (weights, contexts)
  int64_t device_allocations;   // cudaMalloc calls it made
  int64_t enqueues;             // successful enqueueV3 calls
  int64_t errors_logged;        // kERROR messages sent to the ILogger
  int64_t streamed_bytes;       // weight bytes copied to the device by runs (streaming)
};

// Copies the counters (enqueues, errors and streamed bytes since the last
// reset; live bytes always absolute).
void trt_double_counters(TrtDoubleCounters* out);
void trt_double_reset_counters();

// Runs whose execution memory another run overwrote before they finished
// (each run stamps its memory and checks the stamp at its end, on the GPU).
// Synchronizes the device.
int64_t trt_double_memory_overlaps();

// The most enqueueV3 calls seen on the host at once on ONE engine (through
// any of its execution contexts, from several threads).
int64_t trt_double_max_enqueues_on_one_engine();

// Parses a plan without touching CUDA; writes a one-line summary or the
// parse error into `text` (NUL-terminated, truncated to `capacity`).
// Returns 1 when the plan is valid, 0 otherwise.
int trt_double_describe_plan(const void* plan, size_t size, char* text, size_t capacity);

// "TensorRT runtime double <version> (not TensorRT)".
const char* trt_double_identity();
}
