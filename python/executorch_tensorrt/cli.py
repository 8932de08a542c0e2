"""The ``executorch-tensorrt`` command: export, inspect and run ``.pte`` programs."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import math
import os
import re
import runpy
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Sequence

from . import option_table as table

PROG = "executorch-tensorrt"


class UserError(Exception):
    """A problem the user can fix; printed as one ``error:`` line."""


# Errors that describe the user's input or environment, not a bug here; they
# print as one line without a traceback. Anything else propagates.
_USER_ERRORS = (UserError, ValueError, TypeError, OSError, ImportError, NotImplementedError, RuntimeError)


def _non_negative_int(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _tolerance_value(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


# Loggers of ExecuTorch's dependencies that print on every import of its
# Python package (torchao's optional CUDA kernels failing to load on a CPU
# machine; a torch deprecation notice torchao triggers): nothing a user of
# this command can act on.
_DEPENDENCY_NOISE = ("torchao", "torch.utils._pytree")


def _repeatable(parser: argparse.ArgumentParser, flag: str, metavar: str, help: str) -> None:
    parser.add_argument(flag, action="append", default=[], metavar=metavar, help=help)


def _add_option_flags(export: argparse.ArgumentParser) -> None:
    """One flag per export option of the option table; absent flags keep the API's defaults."""
    budget = export.add_mutually_exclusive_group()
    for option in table.OPTIONS:
        if not option.allows(table.EXPORT) or option.kind == table.SHAPES:  # dynamic_shapes comes from the model file
            continue
        budgets = (table.KEY_WEIGHT_STREAMING_BUDGET, table.KEY_WEIGHT_STREAMING_BUDGET_TOTAL)
        group = budget if option.key in budgets else export
        flag = dict(dest=option.key, default=argparse.SUPPRESS, help=option.doc)
        if option.kind == table.FLAG:
            group.add_argument(option.cli_flag, action="store_true", **flag)
        elif option.kind in (table.TARGETS, table.OPS, table.PROFILES):
            group.add_argument(option.cli_flag, action="append", metavar=option.metavar, **flag)
        elif option.kind in (table.INT, table.BYTES):
            group.add_argument(option.cli_flag, type=_non_negative_int, metavar=option.metavar, **flag)
        else:
            group.add_argument(option.cli_flag, choices=option.choices or None, metavar=option.metavar, **flag)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Run PyTorch models on NVIDIA TensorRT through ExecuTorch.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    export = commands.add_parser(
        "export",
        help="export a model to a .pte",
        description="Export MODEL's `model` with its `example_inputs` to a .pte whose supported operators run on "
        "TensorRT. MODEL may also define `dynamic_shapes` (for torch.export) and `optimization_profiles`.",
    )
    export.add_argument(
        "model_file",
        metavar="MODEL",
        help="a Python file (path/to/model.py) or an importable module (package.module) defining `model` "
        "(an nn.Module or a zero-argument callable returning one) and `example_inputs` (a tuple of tensors "
        "or a zero-argument callable returning one); or an ONNX file (model.onnx), built as one engine",
    )
    export.add_argument("-o", "--output", required=True, metavar="OUT.pte", help="where to write the program")
    _add_option_flags(export)
    export.add_argument(
        "--strict",
        action="store_true",
        help="fail when TensorRT refuses to build an operator instead of moving it to the CPU",
    )
    export.add_argument(
        "--validate",
        action="store_true",
        help="check accuracy on the example inputs (each partition's ONNX in ONNX Runtime, the whole program) "
        "and fail, writing nothing, when an output is out of tolerance",
    )
    export.add_argument("--atol", type=_tolerance_value, metavar="X", help="--validate's absolute tolerance")
    export.add_argument("--rtol", type=_tolerance_value, metavar="X", help="--validate's relative tolerance")
    export.add_argument("--keep-onnx", metavar="DIR", help="write each TensorRT partition's ONNX to DIR")

    inspect = commands.add_parser(
        "inspect", help="describe a .pte", description="Describe the TensorRT engines of a .pte."
    )
    inspect.add_argument("pte", metavar="PTE", help="the .pte to describe")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")

    run = commands.add_parser(
        "run", help="run a .pte", description="Load a .pte, run one method and print its outputs."
    )
    run.add_argument("pte", metavar="PTE", help="the .pte to run")
    run.add_argument("--method", default="forward", help="method to run (default: forward)")
    _repeatable(run, "--input", "FILE.npy", "one per method input, in order (default: tensors of ones)")
    _repeatable(run, "--backend-option", "KEY=VALUE", "load-time option for the TensorRT delegate (repeatable)")
    run.add_argument(
        "--data-path", metavar="PTD", help="the program's .ptd (default: PTE's name with .ptd, when that file exists)"
    )
    run.add_argument("--verbose", action="store_true", help="print the program's description and full outputs")
    return parser


_MODULE_PATH_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _is_module_path(text: str) -> bool:
    return not text.endswith(".py") and not Path(text).exists() and bool(_MODULE_PATH_RE.match(text))


def _load_model_file(path: Path) -> Dict[str, Any]:
    if _is_module_path(str(path)):
        try:
            return vars(importlib.import_module(str(path)))
        except Exception as err:
            raise UserError(f"importing module {path} failed: {type(err).__name__}: {err}") from err
    if not path.is_file():
        raise UserError(f"model file {path} does not exist")
    try:
        return runpy.run_path(str(path), run_name="__executorch_tensorrt_model__")
    except Exception as err:
        raise UserError(f"running {path} failed: {type(err).__name__}: {err}") from err


def _resolve(namespace: Dict[str, Any], name: str, path: Path, expected: str) -> Any:
    if name not in namespace:
        raise UserError(f"{path} does not define `{name}` ({expected})")
    return namespace[name]


def _call(factory: Any, name: str, path: Path) -> Any:
    try:
        return factory()
    except Exception as err:
        raise UserError(f"calling `{name}()` from {path} failed: {type(err).__name__}: {err}") from err


@contextlib.contextmanager
def _importable_from(directory: Path) -> Iterator[None]:
    # Like `python MODEL_FILE`: modules beside the model file can be imported.
    entry = str(directory.resolve())
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _model_and_inputs(path: Path) -> tuple:
    import torch

    namespace = _load_model_file(path)
    model = _resolve(namespace, "model", path, "an nn.Module or a zero-argument callable returning one")
    # nn.Module is callable too: only call what is not already a module.
    if not isinstance(model, torch.nn.Module):
        if not callable(model):
            raise UserError(f"`model` in {path} is a {type(model).__name__}, not an nn.Module or a callable")
        model = _call(model, "model", path)
        if not isinstance(model, torch.nn.Module):
            raise UserError(f"`model()` in {path} returned a {type(model).__name__}, not an nn.Module")
    inputs = _resolve(namespace, "example_inputs", path, "a tuple of tensors or a zero-argument callable returning one")
    if callable(inputs) and not isinstance(inputs, torch.Tensor):
        inputs = _call(inputs, "example_inputs", path)
    if isinstance(inputs, torch.Tensor):
        raise UserError(f"`example_inputs` in {path} must be a tuple of tensors; write `(x,)` for a single input")
    if not isinstance(inputs, (tuple, list)) or not all(isinstance(t, torch.Tensor) for t in inputs):
        raise UserError(f"`example_inputs` in {path} must be a tuple of tensors, got {type(inputs).__name__}")
    from_file = (table.KEY_DYNAMIC_SHAPES, table.KEY_OPTIMIZATION_PROFILES)
    extras = {k: namespace[k] for k in from_file if namespace.get(k) is not None}
    return model, tuple(inputs), extras


def _parse_profile(text: str) -> Dict[str, tuple]:
    profile: Dict[str, tuple] = {}
    for item in text.split(","):
        name, _, bounds = item.partition("=")
        parts = bounds.split(":")
        if not name or len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise UserError(f"--profile {text!r}: write DIM=MIN:OPT:MAX[,DIM=MIN:OPT:MAX], e.g. batch=1:4:8")
        profile[name] = tuple(int(p) for p in parts)
    return profile


def _export_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The export keywords of the flags given."""
    options = {o.key: getattr(args, o.key) for o in table.OPTIONS if o.allows(table.EXPORT) and hasattr(args, o.key)}
    for key in (table.KEY_COMPUTE_CAPABILITIES, table.KEY_TORCH_EXECUTED_OPS):
        if key in options:
            options[key] = tuple(options[key])
    profiles = options.get(table.KEY_OPTIMIZATION_PROFILES)
    if profiles:
        options[table.KEY_OPTIMIZATION_PROFILES] = [_parse_profile(p) for p in profiles]
    return options


def _checks(args: argparse.Namespace) -> Dict[str, Any]:
    """``save``'s validate/keep_onnx keywords from --validate, --atol, --rtol, --keep-onnx."""
    from .exporter.validate import DEFAULT_TOLERANCES, Tolerance

    if (args.atol is not None or args.rtol is not None) and not args.validate:
        raise UserError("--atol and --rtol set --validate's tolerances; add --validate")
    checks: Dict[str, Any] = {"validate": args.validate, "keep_onnx": args.keep_onnx}
    if args.validate and (args.atol is not None or args.rtol is not None):
        default = DEFAULT_TOLERANCES[vars(args).get(table.KEY_PRECISION) or "fp32"]
        checks["validate"] = Tolerance(
            default.atol if args.atol is None else args.atol, default.rtol if args.rtol is None else args.rtol
        )
    return checks


def _cmd_export(args: argparse.Namespace) -> int:
    from .exporter import ValidationError, save

    options = _export_options(args)
    model_file = Path(args.model_file)
    if model_file.suffix == ".onnx":
        if args.validate or args.keep_onnx is not None:
            raise UserError("--validate and --keep-onnx apply to torch models; an ONNX file is its own ONNX")
        return _export_onnx(model_file, args, options)
    checks = _checks(args)
    with _importable_from(model_file.parent if model_file.suffix == ".py" else Path.cwd()):
        model, inputs, extras = _model_and_inputs(model_file)
        for key, value in extras.items():
            options.setdefault(key, value)  # command-line profiles win over the file's
        try:
            saved = save(
                model, args.output, inputs=inputs, strict=args.strict,
                **checks, **options,
            )
        except ValidationError as err:
            print("\n".join(err.report.format_lines()), file=sys.stderr)
            raise UserError(f"{err} ({args.output} was not written)") from err
    print(saved.summary.format())
    print(f"wrote {saved.path} ({saved.path.stat().st_size:,} bytes)")
    for data in saved.external_data:  # the .ptd: load it with the program (run --data-path, load(data_path=))
        print(f"wrote {data} ({data.stat().st_size:,} bytes)")
    return 0


# Options that describe partitioning a torch graph; an ONNX file becomes one engine.
_ENGINE_FILE_SOURCES = (table.ENGINE_POLICY, table.ONNX_BUILD)
_TORCH_ONLY_OPTIONS = tuple(
    o.key for o in table.OPTIONS if o.allows(table.EXPORT) and not any(o.allows(s) for s in _ENGINE_FILE_SOURCES)
)


def _export_onnx(model_file: Path, args: argparse.Namespace, options: Dict[str, Any]) -> int:
    from .exporter import save_onnx

    given = [table.BY_KEY[k].cli_flag for k in _TORCH_ONLY_OPTIONS if k in options]
    given += ["--strict"] if args.strict else []
    if given:
        flags = ", ".join(given)
        raise UserError(f"{flags} apply to torch models, not to an ONNX file (which becomes one engine)")
    kept = {k: v for k, v in options.items() if k not in _TORCH_ONLY_OPTIONS}
    out = save_onnx(model_file, args.output, **kept)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .exporter import format_report, inspect_program

    path = Path(args.pte)
    if not path.is_file():
        raise UserError(f"{path} does not exist")
    report = inspect_program(path)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report, title=str(path)))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    try:
        from .runtime import cli_run
    except ImportError as err:
        raise UserError(f"the executorch-tensorrt runtime is not available: {err}") from err
    return int(cli_run(args) or 0)


_COMMANDS = {"export": _cmd_export, "inspect": _cmd_inspect, "run": _cmd_run}


def _one_line(err: BaseException) -> str:
    # Builder errors list one problem per line; keep them, on one line.
    text = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return text or type(err).__name__


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exit_:  # argparse already printed usage and the error (or --help)
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    for name in _DEPENDENCY_NOISE:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # Emitted by ExecuTorch's own deep copies on every export; nothing a user can act on.
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
            return _COMMANDS[args.command](args)
    except _USER_ERRORS as err:
        # Broad on purpose (builders and ExecuTorch raise RuntimeError and
        # TypeError for bad models); the traceback stays one variable away.
        if os.environ.get("EXECUTORCH_TENSORRT_TRACEBACK"):
            raise
        hint = "" if isinstance(err, UserError) else " (set EXECUTORCH_TENSORRT_TRACEBACK=1 for the traceback)"
        print(f"error: {_one_line(err)}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
