#pragma once

namespace executorch_tensorrt {

// The id under which the delegate registers with ExecuTorch. It must equal the
// name of the Python BackendDetails class (exporter/backend_details.py), which
// is what ExecuTorch stores in the .pte. Distinct from Torch-TensorRT's
// "TensorRTBackend" so both delegates can live in one process.
inline constexpr const char kBackendId[] = "ExecutorchTensorRTBackend";

} // namespace executorch_tensorrt
