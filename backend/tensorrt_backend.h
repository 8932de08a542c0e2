#pragma once

#include <executorch/runtime/backend/interface.h>

namespace executorch_tensorrt {

// The ExecuTorch BackendInterface. Each entry point only catches exceptions
// and hands over to the pieces holding the policy (delegate_init, executor,
// delegate_control), each testable on its own.
class TensorRTBackend final : public executorch::runtime::BackendInterface {
 public:
  bool is_available() const override;

  executorch::runtime::Result<executorch::runtime::DelegateHandle*> init(
      executorch::runtime::BackendInitContext& context,
      executorch::runtime::FreeableBuffer* processed,
      executorch::runtime::ArrayRef<executorch::runtime::CompileSpec> compile_specs)
      const override;

  executorch::runtime::Error execute(
      executorch::runtime::BackendExecutionContext& context,
      executorch::runtime::DelegateHandle* handle,
      executorch::runtime::Span<executorch::runtime::EValue*> args) const override;

  void destroy(executorch::runtime::DelegateHandle* handle) const override;

  // Backend-wide in ExecuTorch; the `program` option restricts them to one
  // program (program_tag.h). Keys: docs/options.md.
  executorch::runtime::Error set_option(
      executorch::runtime::BackendOptionContext& context,
      const executorch::runtime::Span<executorch::runtime::BackendOption>& options) override;
  executorch::runtime::Error get_option(
      executorch::runtime::BackendOptionContext& context,
      executorch::runtime::Span<executorch::runtime::BackendOption>& options) override;
};

} // namespace executorch_tensorrt
