"""Reads what ``inspect`` needs from a ``.pte`` without torch or ExecuTorch's Python.

ExecuTorch's own reader (``deserialize_pte_binary``) imports torch and
converts the whole flatbuffer to Python objects, seconds for a small file.
This reads the few tables ``inspect`` shows straight from the flatbuffer
(``executorch/schema/program.fbs``; a field's vtable slot is its position in
its table there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple, TypeVar

from flatbuffers import number_types
from flatbuffers.table import Table

T = TypeVar("T")

# program.fbs slots: Program
_PROGRAM_EXECUTION_PLAN, _PROGRAM_DELEGATE_DATA, _PROGRAM_SEGMENTS = 1, 3, 4
# ExecutionPlan
_PLAN_NAME, _PLAN_CHAINS, _PLAN_OPERATORS, _PLAN_DELEGATES = 0, 5, 6, 7
_CHAIN_INSTRUCTIONS = 2
_INSTRUCTION_TYPE, _INSTRUCTION_ARGS = 0, 1
# InstructionArguments union members (1-based; 0 is NONE)
KERNEL_CALL, DELEGATE_CALL = 1, 2
_CALL_INDEX = 0  # KernelCall.op_index, DelegateCall.delegate_index
_OPERATOR_NAME, _OPERATOR_OVERLOAD = 0, 1
_DELEGATE_ID, _DELEGATE_PROCESSED, _DELEGATE_COMPILE_SPECS = 0, 1, 2
_REFERENCE_LOCATION, _REFERENCE_INDEX = 0, 1
_SPEC_KEY, _SPEC_VALUE = 0, 1
_INLINE_DATA = 0
_SEGMENT_OFFSET, _SEGMENT_SIZE = 0, 1

# DataLocation
INLINE, SEGMENT = 0, 1
# The extended header after the file identifier (executorch/exir/_serialize/_program.py).
_EXTENDED_HEADER_MAGIC = b"eh00"
_EXTENDED_HEADER_AT = 8


@dataclass(frozen=True)
class PteCompileSpec:
    key: str
    value: bytes


@dataclass(frozen=True)
class PteDelegate:
    id: str
    location: int  # INLINE or SEGMENT
    index: int
    compile_specs: Tuple[PteCompileSpec, ...]


@dataclass(frozen=True)
class PtePlan:
    name: str
    operators: Tuple[Tuple[str, str], ...]  # (name, overload)
    delegates: Tuple[PteDelegate, ...]
    # In execution order: (KERNEL_CALL, operator index) or (DELEGATE_CALL, delegate index).
    calls: Tuple[Tuple[int, int], ...]


@dataclass(frozen=True)
class PteFile:
    plans: Tuple[PtePlan, ...]
    inline_data: Tuple[bytes, ...]
    segments: Tuple[Tuple[int, int], ...]  # (offset, size) from the segment base
    segment_base_offset: Optional[int]  # None: the file has no extended header

    def delegate_payload(self, data: bytes, plan_index: int, delegate_index: int) -> bytes:
        """The processed bytes of one delegate, inline in the program or in a segment."""
        plan = self.plans[plan_index]
        delegate = plan.delegates[delegate_index]
        where = f"method {plan.name!r} delegate {delegate_index}"
        if delegate.location == INLINE:
            if not 0 <= delegate.index < len(self.inline_data):
                raise ValueError(f"{where}: inline data index {delegate.index} out of range")
            return self.inline_data[delegate.index]
        if delegate.location == SEGMENT:
            if self.segment_base_offset is None or not 0 <= delegate.index < len(self.segments):
                raise ValueError(f"{where}: segment {delegate.index} is not in the file")
            offset, size = self.segments[delegate.index]
            start = self.segment_base_offset + offset
            if start + size > len(data):
                raise ValueError(f"{where}: segment {delegate.index} runs past the end of the file")
            if isinstance(data, bytes):
                return data[start : start + size]
            return memoryview(data)[start : start + size]  # a mapped file: a view, segments may be several GiB
        raise ValueError(f"{where}: unknown data location {delegate.location!r}")


def _slot(index: int) -> int:
    return 4 + 2 * index


def _scalar(table: Table, index: int, flags: object, default: int = 0) -> int:
    offset = table.Offset(_slot(index))
    return int(table.Get(flags, offset + table.Pos)) if offset else default


def _string(table: Table, index: int) -> str:
    offset = table.Offset(_slot(index))
    return table.String(offset + table.Pos).decode("utf-8", "replace") if offset else ""


def _bytes(table: Table, index: int) -> bytes:
    offset = table.Offset(_slot(index))
    if not offset:
        return b""
    start = table.Vector(offset)
    return bytes(table.Bytes[start : start + table.VectorLen(offset)])


def _child(table: Table, index: int) -> Optional[Table]:
    offset = table.Offset(_slot(index))
    return Table(table.Bytes, table.Indirect(offset + table.Pos)) if offset else None


def _tables(table: Table, index: int, read: Callable[[Table], T]) -> Tuple[T, ...]:
    offset = table.Offset(_slot(index))
    if not offset:
        return ()
    start = table.Vector(offset)
    return tuple(
        read(Table(table.Bytes, table.Indirect(start + 4 * i))) for i in range(table.VectorLen(offset))
    )


def _call(instruction: Table) -> Tuple[int, int]:
    kind = _scalar(instruction, _INSTRUCTION_TYPE, number_types.Uint8Flags)
    offset = instruction.Offset(_slot(_INSTRUCTION_ARGS))
    if kind not in (KERNEL_CALL, DELEGATE_CALL) or not offset:
        return kind, -1
    args = Table(bytearray(), 0)
    instruction.Union(args, offset)
    return kind, _scalar(args, _CALL_INDEX, number_types.Int32Flags)


def _delegate(table: Table) -> PteDelegate:
    processed = _child(table, _DELEGATE_PROCESSED)
    location = _scalar(processed, _REFERENCE_LOCATION, number_types.Int8Flags) if processed else INLINE
    index = _scalar(processed, _REFERENCE_INDEX, number_types.Uint32Flags) if processed else 0
    specs = _tables(table, _DELEGATE_COMPILE_SPECS, lambda s: PteCompileSpec(_string(s, _SPEC_KEY), _bytes(s, _SPEC_VALUE)))
    return PteDelegate(_string(table, _DELEGATE_ID), location, index, specs)


def _plan(table: Table) -> PtePlan:
    operators = _tables(table, _PLAN_OPERATORS, lambda o: (_string(o, _OPERATOR_NAME), _string(o, _OPERATOR_OVERLOAD)))
    calls: List[Tuple[int, int]] = []
    for instructions in _tables(table, _PLAN_CHAINS, lambda c: _tables(c, _CHAIN_INSTRUCTIONS, _call)):
        calls += [call for call in instructions if call[0] in (KERNEL_CALL, DELEGATE_CALL)]
    return PtePlan(_string(table, _PLAN_NAME), operators, _tables(table, _PLAN_DELEGATES, _delegate), tuple(calls))


def _segment_base_offset(data: bytes) -> Optional[int]:
    header = data[_EXTENDED_HEADER_AT : _EXTENDED_HEADER_AT + 24]
    if len(header) < 24 or header[:4] != _EXTENDED_HEADER_MAGIC:
        return None
    return int.from_bytes(header[16:24], "little")


def read_pte(data: bytes) -> PteFile:
    """The plans, delegate data and segments of a ``.pte`` held in ``data``.

    Raises ValueError for a file that is not a readable ExecuTorch program.
    """
    # The flatbuffer file identifier ("ET" + schema version) sits at bytes 4..8.
    if len(data) < 8 or data[4:6] != b"ET":
        raise ValueError(f"not a readable ExecuTorch program ({len(data)} bytes): no 'ET..' file identifier")
    try:
        root = Table(data, int.from_bytes(data[:4], "little"))
        plans = _tables(root, _PROGRAM_EXECUTION_PLAN, _plan)
        inline = _tables(root, _PROGRAM_DELEGATE_DATA, lambda d: _bytes(d, _INLINE_DATA))
        segments = _tables(
            root,
            _PROGRAM_SEGMENTS,
            lambda s: (
                _scalar(s, _SEGMENT_OFFSET, number_types.Uint64Flags),
                _scalar(s, _SEGMENT_SIZE, number_types.Uint64Flags),
            ),
        )
    except Exception as err:  # offsets past the end, bad UTF-8 lengths, ...: a damaged file
        raise ValueError(f"not a readable ExecuTorch program ({len(data)} bytes): {type(err).__name__}: {err}") from None
    return PteFile(plans, inline, segments, _segment_base_offset(data))
