// The "engine" of the CUDA execute harness: y = x * scale + shift, enqueued
// on the stream it is given.
#include <cuda_runtime_api.h>

namespace {
__global__ void scale_shift(const float* x, float* y, size_t n, float scale, float shift) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i < n) {
    y[i] = x[i] * scale + shift;
  }
}
} // namespace

extern "C" cudaError_t harness_scale_shift(const float* x, float* y, size_t n, float scale, float shift, cudaStream_t stream) {
  if (n == 0) {
    return cudaSuccess;
  }
  const unsigned threads = 256;
  const unsigned blocks = static_cast<unsigned>((n + threads - 1) / threads);
  scale_shift<<<blocks, threads, 0, stream>>>(x, y, n, scale, shift);
  return cudaGetLastError();
}

// Shared execution memory (case_shared_execution_memory): an "engine" that
// computes through its execution memory, like a TensorRT context through its
// activations: scratch = x * scale, wait, y = scratch + shift. Another run
// writing the same scratch meanwhile corrupts y.
namespace {
__global__ void scale_into(const float* x, float* scratch, size_t n, float scale) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i < n) {
    scratch[i] = x[i] * scale;
  }
}
__global__ void shift_from(const float* scratch, float* y, size_t n, float shift, unsigned wait_ns) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  for (unsigned waited = 0; waited < wait_ns; waited += 1000) {
    __nanosleep(1000);
  }
  if (i < n) {
    y[i] = scratch[i] + shift;
  }
}
} // namespace

extern "C" cudaError_t harness_through_scratch(
    const float* x, float* scratch, float* y, size_t n, float scale, float shift, unsigned wait_ns, cudaStream_t stream) {
  if (n == 0) {
    return cudaSuccess;
  }
  const unsigned threads = 256;
  const unsigned blocks = static_cast<unsigned>((n + threads - 1) / threads);
  scale_into<<<blocks, threads, 0, stream>>>(x, scratch, n, scale);
  shift_from<<<blocks, threads, 0, stream>>>(scratch, y, n, shift, wait_ns);
  return cudaGetLastError();
}
