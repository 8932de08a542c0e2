#pragma once

#include <string>
#include <vector>

namespace executorch_tensorrt {

// Command line of executorch-tensorrt-runner.
struct RunnerOptions {
  std::string model_path;
  std::string method = "forward";
  std::vector<std::string> backend_options; // "key=value", for our backend
  std::vector<std::string> input_files; // raw bytes, one per input, in order
  std::string load_mode = "mmap"; // parse_load_mode() (runtime/support/method_calls.h)
  std::string data_path; // the program's .ptd (named data); empty: none
  bool list_backends = false;
  bool verbose = false;
  bool help = false;
};

// Parses argv; on a bad command line returns false and sets *error.
bool parse_runner_options(int argc, const char* const* argv, RunnerOptions* out, std::string* error);

const char* runner_usage();

} // namespace executorch_tensorrt
