"""``executorch-tensorrt run``: load a program, run one method, print outputs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List

import torch

from ..option_table import BY_KEY, KEY_BATCHES_SERVED, KEY_ENGINES
from .program import DelegateError, Program, load


def parse_backend_options(assignments: List[str]) -> Dict[str, str]:
    options: Dict[str, str] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise ValueError(f"--backend-option {assignment!r} is not of the form KEY=VALUE")
        if key in options:
            raise ValueError(f"--backend-option {key!r} is given twice")
        options[key] = value
    return options


def _read_inputs(program: Program, method: str, files: List[str]) -> List[Any]:
    specs = program.input_specs(method)
    if files and len(files) != len(specs):
        raise ValueError(f"method {method!r} takes {len(specs)} inputs, got {len(files)} --input files")
    inputs: List[Any] = []
    for index, spec in enumerate(specs):
        if spec is None:
            raise ValueError(f"input {index} of {method!r} is not a tensor; `run` feeds tensors only")
        shape, dtype = spec
        if not files:
            inputs.append(torch.ones(shape, dtype=dtype))
            continue
        import numpy as np

        array = np.load(files[index])
        tensor = torch.from_numpy(array)
        if tuple(tensor.shape) != tuple(shape) or tensor.dtype != dtype:
            raise ValueError(
                f"--input {files[index]} holds {tensor.dtype} {tuple(tensor.shape)}; "
                f"input {index} needs {dtype} {tuple(shape)}"
            )
        inputs.append(tensor)
    return inputs


def _key_values(report: Dict[str, Any], keys: Iterable[str]) -> str:
    return " ".join(f"{key}={'none' if report[key] is None else report[key]}" for key in keys)


def format_delegate_states(program: Program) -> str:
    """Per delegate: its policies and reports in the option table's order,
    its shared pool (if any), each engine's range, state and memory need, and
    which engine served each batch size (an execution_memory_bytes of -1:
    unknown until the engine is loaded)."""
    lines = []
    for index, state in enumerate(program.delegate_states):
        scalars = [key for key in BY_KEY if key in state and not isinstance(state[key], (list, dict))]
        lines.append(f"delegate {index}: {_key_values(state, scalars)}")
        pool = state["pool"]
        if pool is not None:
            lines.append(
                f"  pool #{pool['id']}: {pool['bytes']} bytes held, "
                f"largest need {pool['largest_need_bytes']} bytes, {pool['members']} engine(s) drawing on it "
                f"(private memory would hold {pool['summed_need_bytes']} bytes), "
                f"{pool['runs']} run(s), {pool['waits']} waited for another engine"
            )
        for number, engine in enumerate(state[KEY_ENGINES]):
            lines.append(f"  engine {number}: {_key_values(engine, engine)}")
        for served in state[KEY_BATCHES_SERVED]:
            batch = "no batch dim" if served["batch"] < 0 else f"batch {served['batch']}"
            lines.append(
                f"  {batch} -> engine {served['engine']} profile {served['profile']} ({served['calls']} call(s))"
            )
    return "\n".join(lines) if lines else "no TensorRT delegates"


def cli_run(args: argparse.Namespace) -> int:
    """Runs ``args.pte``; returns the process exit code."""
    try:
        options = parse_backend_options(args.backend_option or [])
        beside = Path(args.pte).with_suffix(".ptd")
        data_path = getattr(args, "data_path", None) or (beside if beside.is_file() else None)
        program = load(Path(args.pte), backend_options=options, load_methods=False, data_path=data_path)
        if args.verbose:
            print(f"program: {args.pte}")
            print(f"methods: {', '.join(program.method_names)}")
            print(f"backend options: {options or '(none)'}")
            from ..exporter import inspect_program
            from ..exporter.inspect import format_report

            print(format_report(inspect_program(args.pte)))
        # Names the methods the program has when --method is wrong, and runs
        # the delegates' init() before inputs are read.
        program.load_method(args.method)
        inputs = _read_inputs(program, args.method, args.input or [])
        outputs = program.run(args.method, inputs)
        if args.verbose:
            # After the run, so deferred delegates show the budget they resolved.
            print(format_delegate_states(program))
    except (DelegateError, ValueError, TypeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for index, value in enumerate(outputs):
        if isinstance(value, torch.Tensor):
            shown = value.flatten()[: None if args.verbose else 8].tolist()
            more = "" if args.verbose or value.numel() <= 8 else " ..."
            print(f"output {index}: {value.dtype} {list(value.shape)} = {shown}{more}")
        else:
            print(f"output {index}: {value!r}")
    return 0
