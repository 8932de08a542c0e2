#pragma once

// The whole-program check both loaders (the Python extension and the runner)
// run on a .pte before ExecuTorch reads it: the header, the flatbuffer's
// tables and vectors, the segments (in the file, not overlapping, each read
// by one kind of user), the delegates' data references, tensor sizes and
// planned memory, every size overflow-checked. ExecuTorch either crashes on
// such damage or refuses it with a bare error code; this names the problem.
// It reads the flatbuffer with its own bounds-checked reader (the
// executorch wheel ships the schema but no generated C++ header).

#include <cstdint>
#include <string>
#include <vector>

#include <executorch/runtime/core/error.h>
#include <executorch/runtime/core/result.h>

namespace executorch_tensorrt {

using executorch::runtime::Error;
using executorch::runtime::Result;

// Where one delegate of a method reads its processed data from.
struct DelegateReference {
  std::string backend_id;
  bool in_segment = false; // else inline, in the program's backend_delegate_data
  uint32_t index = 0;
};

// What a method needs from the process: backends and kernels.
struct MethodRequirements {
  std::string name;
  std::vector<std::string> operators; // "name.overload", as ExecuTorch looks them up
  std::vector<DelegateReference> delegates;
};

struct ProgramLayout {
  uint64_t file_size = 0;
  std::vector<MethodRequirements> methods;

  // nullptr when the program has no method `name`.
  const MethodRequirements* method(const std::string& name) const;
};

// Maps `path` read-only, checks it and returns what its methods need. A
// refusal is reported (report_error) naming the part and the values, and
// returns Error::InvalidProgram (Error::AccessFailed when the file cannot be
// read).
Result<ProgramLayout> check_program_file(const std::string& path);

// The same check on bytes in memory.
Result<ProgramLayout> check_program_bytes(const uint8_t* data, size_t size);

// Checks the named-data file (.ptd, ExecuTorch's FlatTensor) at `path`
// before ExecuTorch reads it: its named-data table lies inside the file, and
// every entry has a key and a tensor layout (ExecuTorch 1.5.1's
// FlatTensorDataMap::get_tensor_layout dereferences a missing layout, which
// its schema allows, and a delegate asking for it would crash the process).
// A refusal is reported and returns Error::InvalidProgram (AccessFailed when
// the file cannot be read).
Error check_data_file(const std::string& path);

// Before ExecuTorch loads `method`: every backend id it delegates to is
// registered in this process and every operator it calls has a kernel of
// that name; a refusal names the missing ones (ExecuTorch only logs them)
// and returns Error::NotFound or Error::OperatorMissing.
Error check_method_requirements(const MethodRequirements& method);

} // namespace executorch_tensorrt
