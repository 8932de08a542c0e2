#include "runner_options.h"

namespace executorch_tensorrt {

const char* runner_usage() {
  return "usage: executorch-tensorrt-runner --model PROGRAM.pte [--method NAME]\n"
         "         [--backend-option KEY=VALUE]... [--input FILE]... [--load-mode mmap|read]\n"
         "         [--data-path PROGRAM.ptd] [--verbose]\n"
         "       executorch-tensorrt-runner --list-backends\n"
         "\n"
         "  --model PATH            the .pte program to load\n"
         "  --method NAME           method to run (default: forward)\n"
         "  --backend-option K=V    load-time option for ExecutorchTensorRTBackend (repeatable)\n"
         "  --input FILE            raw little-endian bytes of one input, in order (repeatable);\n"
         "                          without --input every input is filled with ones\n"
         "  --load-mode MODE        mmap (default): map the file, so it must not change while the\n"
         "                          runner uses it (replace it by renaming); read: read it into memory\n"
         "  --data-path PATH        the program's .ptd (named data: external constants, engine weights)\n"
         "  --list-backends         print the backends registered with ExecuTorch and exit\n"
         "  --verbose               print every output value\n";
}

bool parse_runner_options(int argc, const char* const* argv, RunnerOptions* out, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        *error = std::string(flag) + " needs a value";
        return nullptr;
      }
      return argv[++i];
    };
    const char* v = nullptr;
    if (arg == "--help" || arg == "-h") {
      out->help = true;
    } else if (arg == "--list-backends") {
      out->list_backends = true;
    } else if (arg == "--verbose") {
      out->verbose = true;
    } else if (arg == "--model" || arg == "--method" || arg == "--backend-option" || arg == "--input" ||
               arg == "--load-mode" || arg == "--data-path") {
      if ((v = value(arg.c_str())) == nullptr) {
        return false;
      }
      if (arg == "--model") {
        out->model_path = v;
      } else if (arg == "--method") {
        out->method = v;
      } else if (arg == "--load-mode") {
        out->load_mode = v;
      } else if (arg == "--data-path") {
        out->data_path = v;
      } else if (arg == "--backend-option") {
        out->backend_options.emplace_back(v);
      } else {
        out->input_files.emplace_back(v);
      }
    } else {
      *error = "unknown argument '" + arg + "'";
      return false;
    }
  }
  if (!out->help && !out->list_backends && out->model_path.empty()) {
    *error = "--model is required";
    return false;
  }
  return true;
}

} // namespace executorch_tensorrt
