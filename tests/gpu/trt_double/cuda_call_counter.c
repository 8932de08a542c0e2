// Counts CUDA runtime allocations and host<->device copies in a process
// (LD_PRELOAD; the GPU checks and bench/gpu_execute.py read the counts with
// cuda_call_counter_get). Each call is forwarded to the real libcudart.

#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>

enum { kMallocs, kFrees, kH2dCopies, kD2hCopies, kH2dBytes, kD2hBytes, kCount };
static _Atomic int64_t g_counts[kCount];

__attribute__((visibility("default"))) int64_t cuda_call_counter_get(int index) {
  return index >= 0 && index < kCount ? atomic_load(&g_counts[index]) : -1;
}

static void count_copy(size_t bytes, enum cudaMemcpyKind kind) {
  if (kind == cudaMemcpyHostToDevice) {
    atomic_fetch_add(&g_counts[kH2dCopies], 1);
    atomic_fetch_add(&g_counts[kH2dBytes], (int64_t)bytes);
  } else if (kind == cudaMemcpyDeviceToHost) {
    atomic_fetch_add(&g_counts[kD2hCopies], 1);
    atomic_fetch_add(&g_counts[kD2hBytes], (int64_t)bytes);
  }
}

// libcudart's definition of `name`. RTLD_NEXT finds it only when libcudart
// is in the global scope; a process that dlopen()s it with RTLD_LOCAL (the
// runner loads the adapter, and through it libcudart, that way) needs the
// loaded copy's handle.
static void* real_symbol(const char* name) {
  void* symbol = dlsym(RTLD_NEXT, name);
  if (symbol == NULL) {
    void* cudart = dlopen("libcudart.so.13", RTLD_LAZY | RTLD_NOLOAD);
    symbol = cudart != NULL ? dlsym(cudart, name) : NULL;
  }
  return symbol;
}

// Declares `real`, libcudart's `name`, of type `fn`.
#define REAL(name, fn) \
  static fn real = NULL; \
  if (real == NULL) real = (fn)real_symbol(name)

typedef cudaError_t (*malloc_fn)(void**, size_t);
typedef cudaError_t (*malloc_async_fn)(void**, size_t, cudaStream_t);
typedef cudaError_t (*free_fn)(void*);
typedef cudaError_t (*free_async_fn)(void*, cudaStream_t);
typedef cudaError_t (*memcpy_fn)(void*, const void*, size_t, enum cudaMemcpyKind);
typedef cudaError_t (*memcpy_async_fn)(void*, const void*, size_t, enum cudaMemcpyKind, cudaStream_t);

__attribute__((visibility("default"))) cudaError_t cudaMalloc(void** p, size_t bytes) {
  REAL("cudaMalloc", malloc_fn);
  atomic_fetch_add(&g_counts[kMallocs], 1);
  return real(p, bytes);
}

__attribute__((visibility("default"))) cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t s) {
  REAL("cudaMallocAsync", malloc_async_fn);
  atomic_fetch_add(&g_counts[kMallocs], 1);
  return real(p, bytes, s);
}

__attribute__((visibility("default"))) cudaError_t cudaFree(void* p) {
  REAL("cudaFree", free_fn);
  atomic_fetch_add(&g_counts[kFrees], 1);
  return real(p);
}

__attribute__((visibility("default"))) cudaError_t cudaFreeAsync(void* p, cudaStream_t s) {
  REAL("cudaFreeAsync", free_async_fn);
  atomic_fetch_add(&g_counts[kFrees], 1);
  return real(p, s);
}

__attribute__((visibility("default"))) cudaError_t cudaMemcpy(void* d, const void* s, size_t n, enum cudaMemcpyKind k) {
  REAL("cudaMemcpy", memcpy_fn);
  count_copy(n, k);
  return real(d, s, n, k);
}

__attribute__((visibility("default"))) cudaError_t cudaMemcpyAsync(
    void* d, const void* s, size_t n, enum cudaMemcpyKind k, cudaStream_t st) {
  REAL("cudaMemcpyAsync", memcpy_async_fn);
  count_copy(n, k);
  return real(d, s, n, k, st);
}
