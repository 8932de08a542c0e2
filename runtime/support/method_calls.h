#pragma once

// What both loaders (the Python extension and the runner) do around
// ExecuTorch's Module so that a failure says what went wrong: check the whole
// program before ExecuTorch reads it, check what a method needs before it
// loads, and name the input ExecuTorch refuses with its planned size.

#include <memory>
#include <string>
#include <vector>

#include <executorch/extension/module/module.h>

#include "program_check.h"

namespace executorch_tensorrt {

using executorch::extension::module::Module;
using executorch::runtime::EValue;

// How the program file is read: "mmap" (the default; pages are read when
// touched, so a file truncated or overwritten in place after load crashes
// the process at its next read: replace a program by renaming a new file
// over it) or "read" (segments are read into memory with ExecuTorch's
// FileDataLoader, so later changes to the file do not reach the program).
inline constexpr const char* kLoadModeNames = "\"mmap\" or \"read\"";
// False when `name` is neither.
bool parse_load_mode(const std::string& name, Module::LoadMode* mode);

// The checked program and the Module over it.
struct CheckedModule {
  ProgramLayout layout;
  std::unique_ptr<Module> module;
};

// Checks the file (program_check.h), then creates the Module and loads the
// program with full flatbuffer verification and `options`. `data_path`
// (empty: none) is the program's .ptd (ExecuTorch's named data: external
// constants and, with external weights, the engines' weights). A refusal is
// reported (error_report.h) and returned.
Result<CheckedModule> load_checked_program(
    const std::string& path,
    Module::LoadMode mode,
    const executorch::runtime::LoadBackendOptionsMap& options,
    const std::string& data_path = "");

// Checks what `method` needs (backends, kernels), then loads it; an
// allocation failure of its planned memory becomes an error, not an abort.
Error load_checked_method(CheckedModule& program, const std::string& method);

// Sets each input on its own, so a refused one is named with the size the
// program planned for it, then executes.
// A failure ExecuTorch gives no reason for is reported with what the
// program check knows of the method.
Result<std::vector<EValue>> execute_checked(
    CheckedModule& program,
    const std::string& method,
    const std::vector<EValue>& inputs);

} // namespace executorch_tensorrt
