"""``load()`` and ``Program``: the Python face of the native loader."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import torch

from .. import _native
from ..dtypes import SCALAR_TYPES
from ..option_table import BY_KEY, BYTES, INT64_MAX, LOAD, OPTIONS, SET
from . import _runtime

BackendOptionValue = Union[str, int, bool]

# torch dtype <-> ExecuTorch ScalarType code.
_SCALAR_TYPE_OF = {getattr(torch, t.name): t.code for t in SCALAR_TYPES}
_DTYPE_OF = {code: dtype for dtype, code in _SCALAR_TYPE_OF.items()}


class DelegateError(RuntimeError):
    """Loading or running a program failed; the message carries the delegate's reason."""


class InputTypeError(DelegateError, TypeError):
    """A call's argument count or an input's dtype does not match the program."""


class InputShapeError(DelegateError, ValueError):
    """An input's rank or sizes do not fit the program."""


# Byte counts (the weight-streaming budget) exceed ExecuTorch's 32-bit int
# options, so any Python int is passed as decimal text, which the delegate parses.
_BYTES_OPTIONS = tuple(o.key for o in OPTIONS if o.kind == BYTES and (o.allows(LOAD) or o.allows(SET)))


def _bytes_option(key: str, value: BackendOptionValue) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(
            f"backend option {key!r} must be an int or a decimal string of bytes, got {type(value).__name__}: {value!r}"
        )
    if isinstance(value, int):
        if value < 0 or value > INT64_MAX:
            raise ValueError(f"backend option {key!r} must be in [0, 2**63) bytes, got {value}")
        return str(value)
    return value


def _check_backend_options(options: Mapping[str, BackendOptionValue]) -> Dict[str, BackendOptionValue]:
    """Values ExecuTorch can carry; its own limits (key and text lengths,
    32-bit ints) are checked by the native conversion, naming the key."""
    if not isinstance(options, Mapping):
        raise TypeError(f"backend_options must be a dict of option name to value, got {type(options).__name__}")
    checked: Dict[str, BackendOptionValue] = {}
    for key, value in options.items():
        if not isinstance(key, str):
            raise TypeError(f"backend option names must be str, got {key!r}")
        if key in _BYTES_OPTIONS:
            checked[key] = _bytes_option(key, value)
            continue
        if not isinstance(value, (str, int, bool)):
            accepted = f" ({BY_KEY[key].accepted()})" if key in BY_KEY else ""
            raise TypeError(
                f"backend option {key!r} must be str, int or bool{accepted}, got {type(value).__name__}: {value!r}; "
                "pass large integers as decimal strings"
            )
        checked[key] = value
    return checked


def _check_data_path(data_path: Optional[Union[str, os.PathLike]]) -> str:
    """The ``.ptd`` path as text ('' for none); refuses one that is no file."""
    if data_path is None:
        return ""
    if not isinstance(data_path, (str, os.PathLike)):
        raise TypeError(f"data_path must be a path to a .ptd file, got {type(data_path).__name__}")
    if not Path(data_path).is_file():
        raise FileNotFoundError(f"no named-data file (.ptd) at {data_path}")
    return str(data_path)


_DEVICES = ("cpu", "cuda")


def _check_device(device: str, reuse_outputs: bool) -> str:
    if not isinstance(device, str) or device not in _DEVICES:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if not isinstance(reuse_outputs, bool):
        raise TypeError(f"reuse_outputs must be a bool, got {type(reuse_outputs).__name__}")
    if reuse_outputs and device != "cuda":
        raise ValueError("reuse_outputs=True applies to device='cuda' (CPU results are always new tensors)")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device='cuda' needs a CUDA build of torch and a visible GPU; this torch "
            f"({torch.__version__}) sees none. Use device='cpu' here"
        )
    return device


def _to_native_input(value: Any, keep_alive: List[torch.Tensor], index: int) -> Any:
    if isinstance(value, torch.Tensor):
        if value.device.type != "cpu":
            raise ValueError(
                f"input {index} is on {value.device}; this program was loaded for CPU tensors: "
                "load it with device='cuda' (export with DevicePlanning(device_io=True)) to pass CUDA tensors"
            )
        if value.dtype not in _SCALAR_TYPE_OF:
            raise TypeError(f"input {index} has dtype {value.dtype}, which ExecuTorch cannot take")
        tensor = value.contiguous()
        keep_alive.append(tensor)
        return (tensor.data_ptr(), list(tensor.shape), _SCALAR_TYPE_OF[tensor.dtype])
    if isinstance(value, (bool, int, float)):
        return value
    raise TypeError(f"input {index} is a {type(value).__name__}; pass torch tensors or Python scalars")


def _check_call(method: str, inputs: Sequence[Any], specs: Sequence[Optional[tuple]]) -> None:
    """Argument count, dtype, rank and size against the method's planned
    inputs, before ExecuTorch (which rejects these with a bare error code).
    Planned sizes are upper bounds: smaller sizes are left to the program."""
    if len(inputs) != len(specs):
        raise InputTypeError(f"{method}() takes {len(specs)} inputs, got {len(inputs)}")
    for index, (value, spec) in enumerate(zip(inputs, specs)):
        if spec is None or not isinstance(value, torch.Tensor):
            continue
        shape, dtype = spec
        got = list(value.shape)
        if value.dtype != dtype:
            raise InputTypeError(f"input {index} of {method}(): expected {dtype} {list(shape)}, got {value.dtype} {got}")
        if len(got) != len(shape) or any(g > s for g, s in zip(got, shape)):
            raise InputShapeError(
                f"input {index} of {method}(): expected shape {list(shape)} (rank {len(shape)}, sizes at most "
                f"these), got {got} (rank {len(got)})"
            )


def _device_index(tensor: torch.Tensor) -> int:
    return torch.cuda.current_device() if tensor.device.index is None else tensor.device.index


def _to_device_input(value: Any, keep_alive: List[torch.Tensor], index: int) -> Any:
    if not isinstance(value, torch.Tensor):
        return _to_native_input(value, keep_alive, index)
    if value.dtype not in _SCALAR_TYPE_OF:
        raise TypeError(f"input {index} has dtype {value.dtype}, which ExecuTorch cannot take")
    tensor = value.contiguous() if value.is_cuda else value.to("cuda", non_blocking=False).contiguous()
    keep_alive.append(tensor)
    return (tensor.data_ptr(), list(tensor.shape), _SCALAR_TYPE_OF[tensor.dtype], _device_index(tensor))


def _narrow(buffer: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """The leading elements of ``buffer`` viewed as ``shape`` (the delegate
    resized the output in place; its data starts at the buffer's start)."""
    count = 1
    for dim in shape:
        count *= dim
    return buffer.reshape(-1)[:count].view(list(shape))


def _dtype_of(scalar_type: int, what: str) -> torch.dtype:
    try:
        return _DTYPE_OF[scalar_type]
    except KeyError:
        raise TypeError(f"{what} has ExecuTorch scalar type {scalar_type}, which has no torch dtype here") from None


def _to_torch_output(value: Any, index: int) -> Any:
    if not isinstance(value, tuple):
        return value
    data, sizes, scalar_type = value
    dtype = _dtype_of(scalar_type, f"output {index}")
    if not data:
        return torch.empty(sizes, dtype=dtype)
    # `data` is a bytearray the extension copied out under its lock; the
    # tensor takes it over, so no further copy is needed.
    return torch.frombuffer(data, dtype=dtype).reshape(sizes)


class Program:
    """A loaded ``.pte`` program; see :func:`load`."""

    def __init__(
        self,
        path: Path,
        native: Any,
        backend_options: Dict[str, BackendOptionValue],
        device: str = "cpu",
        reuse_outputs: bool = False,
    ) -> None:
        self.path = path
        self.backend_options = backend_options
        self.device = device
        self.reuse_outputs = reuse_outputs
        self._native = native
        self._loaded_methods: set[str] = set()
        self._device_outputs: Dict[str, List[torch.Tensor]] = {}
        self._specs: Dict[str, List[Optional[tuple]]] = {}

    @property
    def method_names(self) -> List[str]:
        return sorted(self._native.method_names())

    def load_method(self, method: str) -> None:
        """Initializes ``method`` (its delegates' ``init()`` runs here)."""
        if method in self._loaded_methods:
            return
        if method not in self.method_names:
            raise ValueError(f"no method {method!r} in {self.path}; it has {self.method_names}")
        try:
            self._native.load_method(method)
        except RuntimeError as err:
            raise DelegateError(str(err)) from None
        self._loaded_methods.add(method)

    def input_specs(self, method: str = "forward") -> List[Optional[tuple]]:
        """(shape, dtype) of each tensor input of ``method``; None for other inputs."""
        specs = self._native.input_specs(method)
        return [None if s is None else (tuple(s[0]), _dtype_of(s[1], f"input {i}")) for i, s in enumerate(specs)]

    def _input_specs(self, method: str) -> List[Optional[tuple]]:
        if method not in self._specs:
            self._specs[method] = self.input_specs(method)
        return self._specs[method]

    def run(self, method: str, inputs: Sequence[Any], stream: Optional["torch.cuda.Stream"] = None) -> List[Any]:
        """Runs ``method`` on ``inputs`` (CPU tensors or scalars); returns new tensors.

        ``stream`` (device="cuda" only): the CUDA stream to run on, by default
        ``torch.cuda.current_stream()``.
        """
        self.load_method(method)
        _check_call(method, inputs, self._input_specs(method))
        if self.device == "cuda":
            return self._run_on_device(method, inputs, stream)
        if stream is not None:
            raise ValueError("stream= applies to device='cuda' programs; a CPU program returns finished tensors")
        keep_alive: List[torch.Tensor] = []
        native_inputs = [_to_native_input(v, keep_alive, i) for i, v in enumerate(inputs)]
        try:
            outputs = self._native.execute(method, native_inputs)
        except RuntimeError as err:
            raise DelegateError(str(err)) from None
        return [_to_torch_output(v, i) for i, v in enumerate(outputs)]

    def _run_on_device(self, method: str, inputs: Sequence[Any], stream: Optional["torch.cuda.Stream"]) -> List[Any]:
        """device="cuda": CUDA tensors in, CUDA tensors out, bound zero-copy.

        The program must be exported with ``DevicePlanning(device_io=True)``
        (method inputs and outputs unplanned, on the device). CPU tensor inputs
        are moved to the device first. The delegate runs on ``stream`` (torch's
        current stream by default) and returns as soon as its work is enqueued
        there: the outputs are ready in that stream's order, like the result
        of any torch operation on it. Work on another stream that reads them
        must wait for ``stream`` first (``other.wait_stream(stream)``).
        """
        if stream is None:
            return self._run_on_stream(method, inputs, torch.cuda.current_stream())
        if not isinstance(stream, torch.cuda.Stream):
            raise TypeError(f"stream must be a torch.cuda.Stream, got {type(stream).__name__}")
        with torch.cuda.stream(stream):
            return self._run_on_stream(method, inputs, stream)

    def _run_on_stream(self, method: str, inputs: Sequence[Any], stream: "torch.cuda.Stream") -> List[Any]:
        # `stream` is torch's current stream here: copies of CPU inputs and new
        # outputs are allocated on it, so torch reuses their memory only after
        # the delegate's work.
        keep_alive: List[torch.Tensor] = []
        native_inputs = [_to_device_input(v, keep_alive, i) for i, v in enumerate(inputs)]
        outputs = self._output_buffers(method)
        native_outputs = [(t.data_ptr(), list(t.shape), _SCALAR_TYPE_OF[t.dtype], _device_index(t)) for t in outputs]
        try:
            sizes = self._native.execute_into(method, native_inputs, native_outputs, stream.cuda_stream)
        except RuntimeError as err:
            raise DelegateError(str(err)) from None
        return [_narrow(buffer, shape) for buffer, shape in zip(outputs, sizes)]

    def _output_buffers(self, method: str) -> List[torch.Tensor]:
        """Device tensors at each output's largest shape: new ones per call, so
        results never alias earlier ones, unless ``reuse_outputs``."""
        if self.reuse_outputs and method in self._device_outputs:
            return self._device_outputs[method]
        buffers = []
        for index, spec in enumerate(self._native.output_specs(method)):
            if spec is None:
                raise DelegateError(f"output {index} of {method!r} is not a tensor; device='cuda' binds tensor outputs only")
            buffers.append(torch.empty(spec[0], dtype=_dtype_of(spec[1], f"output {index}"), device="cuda"))
        if self.reuse_outputs:
            self._device_outputs[method] = buffers
        return buffers

    def forward(self, *inputs: Any, stream: Optional["torch.cuda.Stream"] = None) -> List[Any]:
        return self.run("forward", inputs, stream=stream)

    __call__ = forward

    def set_option(self, **options: BackendOptionValue) -> None:
        """Changes the policies of this program's delegates after load.

        Keys: the ``set_option`` column of docs/options.md's table. Each
        delegate waits for its execute in flight, then applies the change (a
        new budget recreates the execution context).
        """
        checked = _check_backend_options(options)
        try:
            self._native.set_option(checked)
        except RuntimeError as err:
            raise DelegateError(str(err)) from None

    def get_option(self, *keys: str) -> Dict[str, str]:
        """The values in force for ``keys`` (the ``get_option`` column of
        docs/options.md's table), comma-separated per delegate in load order."""
        try:
            return dict(self._native.get_option(list(keys)))
        except RuntimeError as err:
            raise DelegateError(str(err)) from None

    def offload(self) -> None:
        """Releases the device memory of every delegate of this program (engine
        and execution context); the next call brings it back."""
        self.set_option(offload=True)

    @property
    def state_buffers(self) -> List[str]:
        """The names (FQNs) of the mutable buffers this program's delegates
        own and update on the device (README, "State in place")."""
        return sorted(self._native.state_buffers())

    def read_state(self, name: str) -> torch.Tensor:
        """A host copy of the owned buffer ``name`` now (its initial value
        before the first call or after a reset). Call between calls."""
        if not isinstance(name, str):
            raise TypeError(f"read_state takes a buffer name (str), got {type(name).__name__}")
        try:
            data, scalar_type, shape = self._native.read_state(name)
        except RuntimeError as err:
            raise DelegateError(str(err)) from None
        dtype = _dtype_of(scalar_type, f"state buffer {name!r}")
        return torch.frombuffer(bytearray(data), dtype=torch.uint8).view(dtype).reshape(shape).clone()

    def reset_state(self, name: Optional[str] = None) -> None:
        """Starts the owned buffer ``name`` (every one when None) from its
        initial value at the next call; an unknown name is refused naming the known ones."""
        if name is not None and not isinstance(name, str):
            raise TypeError(f"reset_state takes a buffer name (str) or None, got {type(name).__name__}")
        self.set_option(reset_state="all" if name is None else name)

    @property
    def delegate_states(self) -> List[Dict[str, Any]]:
        """Per delegate, in load order: ``state`` (host, deserialized, device),
        ``device_bytes``, ``host_bytes``, ``weight_streaming_budget`` and its
        ``weight_streaming_budget_source``, ``init_policy``, ``output_buffers``,
        ``init_ms`` (the last deferred initialization), ``initializations`` and
        ``counters`` (the execute path's device allocations, bytes allocated,
        host-to-device and device-to-host copies and bytes, zero-copy device
        inputs and outputs)."""
        return [dict(report) for report in self._native.delegate_reports()]

    @property
    def delegates(self) -> Any:
        """What the program's delegates hold (engine, builder, I/O), from the .pte itself."""
        from ..exporter import inspect_program

        return inspect_program(self.path)


def load(
    path: Union[str, os.PathLike],
    backend_options: Optional[Mapping[str, BackendOptionValue]] = None,
    *,
    load_methods: bool = True,
    device: str = "cpu",
    reuse_outputs: bool = False,
    load_mode: str = "mmap",
    data_path: Optional[Union[str, os.PathLike]] = None,
) -> Program:
    """Loads a ``.pte`` program through ExecuTorch with the TensorRT delegate.

    ``backend_options`` are load-time options for the delegate (keys up to 63
    characters, string values up to 255, ints 32-bit; checked here because
    ExecuTorch would truncate silently). With ``load_methods`` every method is
    initialized now, so a delegate that cannot run (no GPU, wrong engine) fails
    here rather than on the first call.

    ``device="cuda"`` runs a program exported with
    ``DevicePlanning(device_io=True)`` on torch CUDA tensors: inputs are bound
    zero-copy (CPU tensors are moved to the GPU first) and outputs are CUDA
    tensors written by the engine directly, with no host round trip. Each call
    returns new output tensors; with ``reuse_outputs=True`` the same output
    tensors are filled again by every call (no allocation per call), so a
    result is overwritten by the next call: clone what you keep.

    ``load_mode="mmap"`` (the default) maps the file: its pages are read when
    first used, so the file must not change while the program is loaded (a
    file truncated or overwritten in place crashes the process at its next
    read). Replace a program by writing a new file and renaming it over the
    old one, as the exporter does. ``load_mode="read"`` reads the program's
    data into memory instead, for deployments that overwrite files in place.

    ``data_path`` is the program's ``.ptd`` (ExecuTorch's named data), which
    ``save(..., external_weights=True)`` writes beside the ``.pte``: the
    constants left on the CPU and the engines' weights, which the delegate
    refits its weight-stripped engines with. A program that needs it refuses
    to load without it.

    Before ExecuTorch reads it, the whole file is checked (segments inside the
    file and not overlapping, each piece of data read by the part it belongs
    to, sizes that do not overflow); each method's backends and kernels are
    checked before it loads. A refusal raises DelegateError naming the problem.
    """
    _native.check_registered()
    program_path = Path(path)
    if not program_path.is_file():
        raise FileNotFoundError(f"no program file at {program_path}")
    options = _check_backend_options(backend_options or {})
    data = _check_data_path(data_path)
    if not isinstance(load_mode, str):
        raise TypeError(f"load_mode must be a str ('mmap' or 'read'), got {type(load_mode).__name__}")
    device = _check_device(device, reuse_outputs)
    # Loads the adapter, which registers ExecuTorch's CUDA DeviceAllocator: a
    # program with device-planned buffers (device_planning) needs it before
    # its methods load, whatever ``device`` is.
    if not _runtime.prepare_device_memory() and device == "cuda":
        raise DelegateError(
            "device='cuda': ExecuTorch has no CUDA DeviceAllocator registered, so it cannot place the program's "
            f"device tensors ({_runtime.last_error() or 'the TensorRT adapter registered none'})"
        )
    try:
        native = _runtime.LoadedProgram(
            str(program_path), {_native.BACKEND_ID: options} if options else {}, load_mode=load_mode, data_path=data
        )
    except RuntimeError as err:
        raise DelegateError(str(err)) from None
    program = Program(program_path, native, options, device, reuse_outputs)
    if load_methods:
        for method in program.method_names:
            program.load_method(method)
    return program
