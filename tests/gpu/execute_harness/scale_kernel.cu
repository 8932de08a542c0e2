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
