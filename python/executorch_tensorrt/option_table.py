"""Every option of the TensorRT delegate, written once: one row per key with
where it may be given, its kind, allowed values, default and one line of doc.

The exporter's validator and codec (exporter/compile_specs.py), the export CLI
flags, the loader's checks and docs/options.md's table read it; the C++ header
the delegate parses with is generated from it at build time (``--cpp-header``,
cmake/OptionTable.cmake), so it imports only the standard library. One value
grammar for the Python and C++ readers: a decimal is ``0`` or ``[1-9][0-9]*``
within the row's range (no sign, leading zero or whitespace), a choice one of
the row's names exactly, a compile-spec flag ``0`` or ``1``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

# Where a key may be given.
EXPORT = "export"  # keyword of save()/export() and flag of `executorch-tensorrt export`
RECORD = "record"  # compile spec the exporter writes for inspection; the delegate accepts and ignores it
COMPILE_SPEC = "compile_spec"  # compile spec the delegate reads at init()
ENGINE_POLICY = "engine_policy"  # keyword of save_engine()/save_onnx()
ONNX_BUILD = "onnx_build"  # build keyword of save_onnx()
LOAD = "load"  # load-time backend option
SET = "set_option"  # set_option() after load
QUERY = "get_option"  # get_option() key

# Kinds of value, named by what they accept (messages and docs show them).
# Decimal kinds travel as ASCII decimal text in compile specs.
BYTES = "bytes, 0..2**63-1"  # TensorRT takes int64 sizes
INT = "an int"  # in [minimum, maximum]
FLAG = "a bool"  # "0"/"1" in a compile spec
CHOICE = "one of the choices"
NAME = "a builder name"  # lowercase ASCII, registered
PATH = "an ASCII path"
TARGETS = "compute capabilities like sm89"  # "sm89,sm120" in a compile spec
PROFILES = "[{dim: (min, opt, max)}, ...]"  # JSON in a compile spec
OPS = "operator names like aten.sigmoid"
SHAPES = "torch.export dynamic_shapes"
TAG = "an int (a program tag)"
TEXT = "text"
REPORT = "reported"  # a value get_option answers, never set

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
DECIMAL_RE = re.compile(r"(0|[1-9][0-9]*)")
_POLICY = (EXPORT, COMPILE_SPEC, ENGINE_POLICY, LOAD, SET, QUERY)


@dataclass(frozen=True)
class Option:
    key: str
    sources: Tuple[str, ...]
    kind: str
    doc: str
    default: Any = None  # in force when unset (for delegate policies: the delegate's default)
    choices: Tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = INT64_MAX
    always_recorded: bool = False  # compile spec written even when it holds the default
    cpp_enum: str = ""  # C++ enum the delegate parses a choice into
    flag: str = ""  # CLI flag when not --key-with-dashes
    metavar: Optional[str] = None

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.key.replace("_", "-")

    def allows(self, source: str) -> bool:
        return source in self.sources

    def accepted(self) -> str:
        """What the value may be, for messages and docs."""
        if self.kind == CHOICE:
            return ", ".join(self.choices)
        if self.kind == INT:
            return f"an int, {self.minimum}..{'2**31-1' if self.maximum == INT32_MAX else self.maximum}"
        return self.kind


# Keys the code names; every other key is only a row below.
KEY_DEVICE_INDEX = "device_index"
KEY_ENABLE_WEIGHT_STREAMING = "enable_weight_streaming"
KEY_OPTIMIZATION_PROFILES = "optimization_profiles"
KEY_WEIGHT_STREAMING_BUDGET = "weight_streaming_budget"
KEY_INIT_POLICY = "init_policy"
KEY_OUTPUT_BUFFERS = "output_buffers"
KEY_BATCH_ENGINES = "batch_engines"
KEY_EXECUTION_MEMORY = "execution_memory"
KEY_TARGET_DEVICE = "target_device"
KEY_DYNAMIC_SHAPES = "dynamic_shapes"
KEY_COMPUTE_CAPABILITIES = "compute_capabilities"
KEY_TORCH_EXECUTED_OPS = "torch_executed_ops"
KEY_MIN_BLOCK_SIZE = "min_block_size"
KEY_WEIGHT_STREAMING_BUDGET_TOTAL = "weight_streaming_budget_total"
KEY_OFFLOAD = "offload"
KEY_PROGRAM = "program"
KEY_PRECISION = "precision"
KEY_ENGINES = "engines"
KEY_STATE = "state"
KEY_DEVICE_BYTES = "device_bytes"
KEY_VERSION_COMPATIBLE = "version_compatible"
KEY_EXECUTION_MEMORY_BYTES = "execution_memory_bytes"
KEY_BATCHES_SERVED = "batches_served"
KEY_INPUT_NAMES = "input_names"
KEY_DIM_NAMES = "dim_names"
KEY_CUDA_GRAPHS = "cuda_graphs"
KEY_HOST_WAITS = "host_waits"
KEY_EXECUTION_CONTEXTS = "execution_contexts"
KEY_CONTEXTS_IN_USE = "contexts_in_use"
KEY_CONTEXTS_IN_USE_PEAK = "contexts_in_use_peak"
KEY_CONTEXTS_CREATED = "contexts_created"
KEY_RESET_STATE = "reset_state"
KEY_EXTERNAL_WEIGHTS = "external_weights"
KEY_REFITTED_WEIGHTS = "refitted_weights"
KEY_REFITTED_WEIGHT_BYTES = "refitted_weight_bytes"
KEY_NAMED_ENGINES = "named_engines"
KEY_ENGINES_SHARED = "engines_shared"


_BUILD = (EXPORT, RECORD, ONNX_BUILD)
OPTIONS: Tuple[Option, ...] = (
    Option("engine_builder", _BUILD, NAME, "auto (tensorrt if installed, else tensorrt_rtx), tensorrt, "
           "tensorrt_rtx, or a registered builder name", "auto", always_recorded=True),
    Option(KEY_DEVICE_INDEX, _BUILD, INT, "CUDA device the delegate runs its engines on", 0, maximum=INT32_MAX,
           always_recorded=True, metavar="N"),
    Option("workspace_bytes", _BUILD, BYTES, "TensorRT workspace memory-pool limit (unset: TensorRT's)", metavar="N"),
    Option(KEY_VERSION_COMPATIBLE, _BUILD, FLAG, "build version-compatible engines (TensorRT's VERSION_COMPATIBLE)",
           False, always_recorded=True),
    Option(KEY_PRECISION, (EXPORT, RECORD), CHOICE, "convert the model to this precision before export",
           choices=("fp32", "fp16", "bf16")),
    Option("optimization_level", _BUILD, INT, "TensorRT builder optimization level", maximum=5, metavar="0-5"),
    Option("timing_cache", _BUILD, PATH, "timing-cache file, read if present and written back", metavar="FILE"),
    Option(KEY_ENABLE_WEIGHT_STREAMING, (EXPORT, RECORD, ENGINE_POLICY), FLAG,
           "build weight-streaming engines (BuilderFlag.WEIGHT_STREAMING)", False),
    Option(KEY_EXTERNAL_WEIGHTS, (EXPORT, RECORD), FLAG, "keep the engines' weights and the constants left on the "
           "CPU in a .ptd beside the .pte (ExecuTorch's named data): engines are built weight-stripped and refitted "
           "from the .ptd when they load, or (a builder that cannot refit) read the weights as inputs", False),
    Option(KEY_COMPUTE_CAPABILITIES, _BUILD, TARGETS, "TensorRT-RTX targets, e.g. sm89 (repeatable flag)", (),
           flag="--compute-capability", metavar="SMxx"),
    Option(KEY_OPTIMIZATION_PROFILES, _BUILD, PROFILES, "optimization profiles; on the CLI one --profile each, "
           "e.g. --profile batch=1:4:8", (), flag="--profile", metavar="DIM=MIN:OPT:MAX[,...]"),
    Option(KEY_WEIGHT_STREAMING_BUDGET, _POLICY, BYTES,
           "device bytes of streamable weights per engine (unset: TensorRT's automatic budget)", metavar="BYTES"),
    Option(KEY_INIT_POLICY, _POLICY, CHOICE, "when engines are deserialized and their contexts created (the "
           "exporter bakes deferred for programs of several engines)", "eager",
           ("eager", "deferred", "deferred_context"), cpp_enum="InitPolicy"),
    Option(KEY_OUTPUT_BUFFERS, _POLICY, CHOICE, "device buffers for host I/O: reuse (grow when needed), fresh (per "
           "call), reuse_profile_max (sized for every profile's maximum at the first call)", "reuse",
           ("reuse", "fresh", "reuse_profile_max"), cpp_enum="OutputBufferPolicy"),
    Option(KEY_BATCH_ENGINES, (EXPORT, RECORD), CHOICE, "one engine holding every profile (max_batch) or one "
           "engine per profile (per_range)", "max_batch", ("max_batch", "per_range"), always_recorded=True),
    Option(KEY_EXECUTION_MEMORY, _POLICY, CHOICE, "who shares execution-context memory: each context (private), "
           "the program's engines on a device (program), every program of the process (process)", "program",
           ("private", "program", "process"), cpp_enum="ExecutionMemoryScope"),
    Option("host_staging", _POLICY, CHOICE, "host memory that host tensors are staged through: pinned (a pinned "
           "mirror of the staging buffer, so copies run asynchronously) or pageable (the tensors' own memory)",
           "pinned", ("pinned", "pageable"), cpp_enum="HostStaging"),
    Option(KEY_CUDA_GRAPHS, _POLICY, FLAG, "replay each engine's enqueue as a CUDA graph, captured at the second call "
           "with the same engine, profile, shapes and addresses (at most 8 graphs per engine and context)", False),
    Option(KEY_NAMED_ENGINES, (EXPORT, RECORD), FLAG, "keep engine bytes in the program's named data, each distinct "
           "engine stored once however many delegates hold it (default on for save(methods=...))", False),
    Option(KEY_EXECUTION_CONTEXTS, (EXPORT, COMPILE_SPEC, ENGINE_POLICY, LOAD, QUERY), INT,
           "execution contexts per engine: up to this many calls on one program run at once, each on its own "
           "context and stream (weights shared); fixed at load", 1, minimum=1, maximum=16, metavar="N"),
    Option(KEY_TARGET_DEVICE, (RECORD,), TEXT, "device of the delegate's I/O for ExecuTorch's memory planning"),
    Option(KEY_INPUT_NAMES, (RECORD,), TEXT, "JSON list: what each delegate input is to the user (the forward() "
           "argument, parameter, or operator output it comes from); inspect names inputs by it"),
    Option(KEY_DIM_NAMES, (RECORD,), TEXT, "JSON object {symbol: torch.export.Dim name} of the delegate's dynamic "
           "dimensions; inspect keys profiles by it"),
    Option(KEY_DYNAMIC_SHAPES, (EXPORT,), SHAPES, "torch.export dynamic_shapes (a model file defines it)"),
    Option(KEY_TORCH_EXECUTED_OPS, (EXPORT,), OPS, "keep these operators on the CPU (repeatable flag)", (),
           flag="--torch-executed-op", metavar="OP"),
    Option(KEY_MIN_BLOCK_SIZE, (EXPORT,), INT, "smallest number of operators a TensorRT engine takes", 1, minimum=1,
           maximum=INT32_MAX, metavar="N"),
    Option(KEY_WEIGHT_STREAMING_BUDGET_TOTAL, (EXPORT,), BYTES,
           "streaming budget for the whole program, split across engines by weight size", metavar="BYTES"),
    Option(KEY_OFFLOAD, (SET,), FLAG, "release the delegates' device memory now; the next call brings it back"),
    Option(KEY_PROGRAM, (SET, QUERY), TAG, "restrict set_option/get_option to one program tag (default: all)"),
    Option("weight_streaming_budget_source", (QUERY,), REPORT,
           "where the budget came from: load_option, compile_spec, automatic, not_streamable, unresolved"),
    Option(KEY_STATE, (QUERY,), REPORT, "host, deserialized or device: the most advanced of the delegate's engines"),
    Option(KEY_DEVICE_BYTES, (QUERY,), REPORT, "device bytes its engines hold (a shared pool is reported apart)"),
    Option(KEY_EXECUTION_MEMORY_BYTES, (QUERY,), REPORT, "the largest execution-memory need of its engines, -1: unknown"),
    Option("execution_memory_pool_bytes", (QUERY,), REPORT, "bytes its pool holds now (none under private)"),
    Option(KEY_ENGINES, (QUERY,), REPORT, "how many engines the delegate holds"),
    Option(KEY_BATCHES_SERVED, (QUERY,), REPORT, "batch sizes served and the engine that served each: 4:e0;9:e1"),
    Option(KEY_HOST_WAITS, (QUERY,), REPORT, "calls that waited on the host for the GPU (a call with device I/O on "
           "the caller's stream waits for nothing)"),
    Option("cuda_graph_captures", (QUERY,), REPORT, "CUDA graphs captured"),
    Option("cuda_graph_replays", (QUERY,), REPORT, "calls that replayed a captured CUDA graph"),
    Option("cuda_graph_status", (QUERY,), REPORT, "why calls run without a graph (the first reason seen), else ok"),
    Option("pinned_bytes", (QUERY,), REPORT, "pinned host bytes allocated for staging so far"),
    Option("init_ms", (QUERY,), REPORT, "duration of the last host-to-device initialization"),
    Option(KEY_CONTEXTS_IN_USE, (QUERY,), REPORT, "calls running on the delegate now (each holds one lane of "
           "execution contexts)"),
    Option(KEY_CONTEXTS_IN_USE_PEAK, (QUERY,), REPORT, "the most calls that ran on the delegate at once since load"),
    Option(KEY_CONTEXTS_CREATED, (QUERY,), REPORT, "execution contexts that exist now, over its engines and lanes"),
    Option(KEY_RESET_STATE, (SET,), TEXT, "start the owned state buffer of this name (or all) from its initial value "
           "at the next call"),
    Option("state_host_copies", (QUERY,), REPORT, "host-to-device copies of its owned state: the initial fill and "
           "one per reset, never per call"),
    Option("state_device_updates", (QUERY,), REPORT, "owned-state updates made on the device (in place or a "
           "device-to-device copy)"),
    Option(
        "state_bytes", (QUERY,), REPORT,
        "device bytes of the state buffers it owns and of the weights its engines read as inputs",
    ),
    Option(KEY_REFITTED_WEIGHTS, (QUERY,), REPORT, "weights its engines were refitted with from the program's named "
           "data (.ptd) at their last deserialization; 0: none kept outside the engines"),
    Option(KEY_REFITTED_WEIGHT_BYTES, (QUERY,), REPORT, "bytes of those weights"),
    Option(KEY_ENGINES_SHARED, (QUERY,), REPORT, "of its engines, how many run on another delegate's deserialized "
           "engine of the same program (identical engine bytes: one set of device weights, a context each)"),
)
BY_KEY: Dict[str, Option] = {option.key: option for option in OPTIONS}


def keys(source: str) -> Tuple[str, ...]:
    """The keys that may be given through ``source``, in table order."""
    return tuple(option.key for option in OPTIONS if option.allows(source))


def spec_fields() -> Tuple[Option, ...]:
    """The options of ``TensorRTCompileSpec``: export keywords recorded in the ``.pte``."""
    return tuple(o for o in OPTIONS if o.allows(EXPORT) and (o.allows(RECORD) or o.allows(COMPILE_SPEC)))


def _camel(word: str) -> str:
    return "".join(part.capitalize() for part in word.split("_"))


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()


def _cpp_keys(words: Tuple[str, ...]) -> str:
    return "{" + ", ".join(f"kOption{_camel(w)}" for w in words) + "}"


def cpp_header() -> str:
    """The delegate's option constants (option_table.h in the build tree)."""
    lines = [
        "#pragma once\n\n// Generated from python/executorch_tensorrt/option_table.py by cmake/OptionTable.cmake;",
        "// edit the table, not this file.\n\n#include <cstdint>\n#include <cstring>\n#include <optional>\n",
        "namespace executorch_tensorrt {\n",
        "template <typename Enum, size_t N> // a choice's name, in the table's order",
        "const char* choice_name(const char* const (&names)[N], Enum value) {",
        '  return static_cast<size_t>(value) < N ? names[static_cast<size_t>(value)] : "unknown";\n}',
        "template <typename Enum, size_t N> // the choice named exactly `size` bytes of `text`",
        "std::optional<Enum> parse_choice(const char* const (&names)[N], const char* text, size_t size) {",
        "  for (size_t i = 0; i < N; ++i) {",
        "    if (std::strlen(names[i]) == size && std::memcmp(text, names[i], size) == 0) {",
        "      return static_cast<Enum>(i);\n    }\n  }\n  return std::nullopt;\n}\n",
        "// Every key the delegate sees: compile specs, backend options, get_option.",
    ]
    native = [o for o in OPTIONS if any(o.allows(s) for s in (RECORD, COMPILE_SPEC, LOAD, SET, QUERY))]
    lines += [f'inline constexpr const char* kOption{_camel(o.key)} = "{o.key}";' for o in native]
    lines.append("\n// The range and default of each int policy the delegate reads.")
    for o in (o for o in native if o.kind == INT and any(o.allows(s) for s in (COMPILE_SPEC, LOAD, SET))):
        lines += [f"inline constexpr int64_t kOption{_camel(o.key)}{part} = {value};"
                  for part, value in (("Minimum", o.minimum), ("Maximum", o.maximum), ("Default", o.default))]
    for option in (o for o in OPTIONS if o.cpp_enum):
        enum, names = option.cpp_enum, ", ".join(f'"{c}"' for c in option.choices)
        lines += [
            f"\n// {option.key}: {option.doc}",
            f"enum class {enum} : uint8_t {{ {', '.join('k' + _camel(c) for c in option.choices)} }};",
            f"inline constexpr const char* k{enum}Names[] = {{{names}}};",
            f'inline constexpr const char* k{enum}Choices = "{option.accepted()}";',
            f"inline constexpr {enum} kDefault{enum} = {enum}::k{_camel(option.default)};",
            f"inline const char* {_snake(enum)}_name({enum} value) {{ return choice_name(k{enum}Names, value); }}",
            f"inline std::optional<{enum}> parse_{_snake(enum)}(const char* text, size_t size) {{",
            f"  return parse_choice<{enum}>(k{enum}Names, text, size);\n}}",
        ]
    backend = ", ".join(o.key for o in OPTIONS if o.allows(LOAD) or o.allows(SET))
    lines += [
        "\n// Compile specs the exporter records and the delegate accepts and ignores.",
        f"inline constexpr const char* kRecordedCompileSpecs[] = {_cpp_keys(keys(RECORD))};",
        f'inline constexpr const char* kBackendOptionKeys = "{backend}";',
        "// get_option keys (`program` restricts the query, it is not answered).",
        f"inline constexpr const char* kQueryKeys[] = {_cpp_keys(keys(QUERY))};",
        f'inline constexpr const char* kQueryKeysText = "{", ".join(keys(QUERY))}";',
        "\n} // namespace executorch_tensorrt",
    ]
    return "\n".join(lines) + "\n"


def markdown_table() -> str:
    """docs/options.md's table of every key."""
    columns = (EXPORT, COMPILE_SPEC, RECORD, LOAD, SET, QUERY)
    rows = [
        "| Key | Values | Default | " + " | ".join(f"`{c}`" for c in columns) + " | Meaning |",
        "|---" * (len(columns) + 4) + "|",
    ]
    for option in OPTIONS:
        default = "" if option.default in (None, ()) else f"`{option.default}`"
        marks = " | ".join("yes" if option.allows(c) else "" for c in columns)
        rows.append(f"| `{option.key}` | {option.accepted()} | {default} | {marks} | {option.doc} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    # `option_table.py --cpp-header OUT.h` (the build), `option_table.py --markdown` (docs/options.md).
    if sys.argv[1:2] == ["--cpp-header"] and len(sys.argv) == 3:
        Path(sys.argv[2]).write_text(cpp_header(), encoding="ascii")
    elif sys.argv[1:] == ["--markdown"]:
        sys.stdout.write(markdown_table())
    else:
        sys.exit(f"usage: {sys.argv[0]} --cpp-header OUT.h | --markdown")
