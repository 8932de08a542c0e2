"""Damage to the program around the delegate, for the loaders' whole-program
check (runtime/support/program_check.cpp): the segment table edited
consistently (the flatbuffer re-serialized with ExecuTorch's own writer, the
header and the segment data kept), overlapping and swapped segments, data
read by the wrong part, header sizes, tensor dims near 2^31, 2^32 and 2^63,
planned buffers near 2^63, names that are not UTF-8, hold escape sequences
or run to thousands of bytes, unknown backend ids and operators.

Each case: (name, program bytes, expect, message), as make_corpus.py emits.
"""

from __future__ import annotations

import copy
import struct
from typing import Callable, List, Optional, Tuple

from executorch.exir._serialize._flatbuffer_program import _flatbuffer_to_program, _program_to_flatbuffer
from executorch.exir._serialize._program import (
    PTEFile,
    _ExtendedHeader,
    _get_extended_header,
    _insert_flatbuffer_header,
    deserialize_pte_binary,
    serialize_pte_binary,
)
from executorch.exir._serialize.padding import aligned_size, padding_required
from executorch.exir.schema import DataLocation, DataSegment, Program, Tensor

Mutation = Tuple[str, bytes, str, Optional[str]]
HEADER_AT = 8  # the extended header follows the flatbuffer's root offset and identifier
SEGMENT_ALIGNMENT = 128


def segmented(pte: bytes) -> bytes:
    """The same program with its delegate data in segments after the
    flatbuffer, as ExecuTorch writes it with extract_delegate_segments."""
    return bytes(serialize_pte_binary(deserialize_pte_binary(pte), extract_delegate_segments=True))


def _reassemble(pte: bytes, change: Callable[[Program], None], segment_data: Optional[bytes] = None) -> bytes:
    """`pte` (with segments) with its flatbuffer edited by `change` and written
    again; the header is recomputed, the segment bytes are kept (or replaced
    by `segment_data`), so only what `change` touched is inconsistent."""
    header = _get_extended_header(pte)
    assert header is not None and header.segment_base_offset > 0
    program = _flatbuffer_to_program(pte[: header.program_size])
    change(program)
    result = _program_to_flatbuffer(program)
    header_length = aligned_size(_ExtendedHeader.EXPECTED_LENGTH, result.max_alignment)
    data = pte[header.segment_base_offset :] if segment_data is None else segment_data
    program_size = header_length + len(result.data)
    base = aligned_size(program_size, SEGMENT_ALIGNMENT)
    head = _ExtendedHeader(program_size=program_size, segment_base_offset=base, segment_data_size=len(data)).to_bytes()
    head = head + b"\0" * (header_length - len(head))
    flat = _insert_flatbuffer_header(result.data, r"ET[0-9a-zA-Z][0-9a-zA-Z]", head)
    return flat + b"\0" * padding_required(len(flat), SEGMENT_ALIGNMENT) + data


def _delegate_segment(program: Program) -> int:
    for plan in program.execution_plan:
        for delegate in plan.delegates:
            if delegate.processed.location == DataLocation.SEGMENT:
                return delegate.processed.index
    raise ValueError("no delegate reads a segment")


def _set_delegate_segment(program: Program, field: str, value: int) -> None:
    segment = program.segments[_delegate_segment(program)]
    setattr(segment, field, value)


def segment_cases(pte: bytes) -> List[Mutation]:
    """Consistent edits of the segment table: offsets and sizes out of the
    file, wrapping, overlapping, swapped, read by the wrong part."""
    seg = segmented(pte)
    data_size = len(seg) - _get_extended_header(seg).segment_base_offset
    cases: List[Mutation] = [("segmented", seg, "no_crash", None)]
    past_end = "runs past the end"
    for label, field, value in (
        ("offset_past_end", "offset", data_size + SEGMENT_ALIGNMENT),
        ("offset_2^64-1", "offset", 2**64 - 1),
        ("offset_2^63", "offset", 2**63),
        ("size_2^64-1", "size", 2**64 - 1),
        ("size_2^32", "size", 2**32),
    ):
        cases.append((f"segment_{label}", _reassemble(seg, lambda p, f=field, v=value: _set_delegate_segment(p, f, v)),
                      "error", past_end))

    def grow_by_one(program: Program) -> None:
        segment = program.segments[_delegate_segment(program)]
        segment.size = data_size - segment.offset + 1

    cases.append(("segment_size_one_past_end", _reassemble(seg, grow_by_one), "error", past_end))

    def wrap(program: Program) -> None:
        segment = program.segments[_delegate_segment(program)]
        segment.offset, segment.size = 2**64 - 64, 128  # offset + size wraps to 64

    cases.append(("segment_offset_plus_size_wraps", _reassemble(seg, wrap), "error", past_end))

    def overlap(program: Program) -> None:
        segment = program.segments[_delegate_segment(program)]
        program.segments.append(DataSegment(offset=segment.offset + 8, size=max(segment.size - 8, 1)))

    cases.append(("segments_overlap", _reassemble(seg, overlap), "error", "overlap"))

    def second_delegate_segment(program: Program) -> None:
        # A copy of the delegate's data appended, and the delegate pointed at
        # the copy shifted by 16 bytes: its data starts inside other bytes.
        index = _delegate_segment(program)
        program.segments.append(DataSegment(offset=program.segments[index].offset + 16, size=16))

    cases.append(("segment_inside_another", _reassemble(seg, second_delegate_segment), "error", "overlap"))

    def swap(program: Program) -> None:
        # The table entries of the delegate's segment and another (constant
        # data, or a new one holding other bytes) exchanged.
        index = _delegate_segment(program)
        if len(program.segments) < 2:
            program.segments.append(DataSegment(offset=data_size, size=SEGMENT_ALIGNMENT))
        other = (index + 1) % len(program.segments)
        program.segments[index], program.segments[other] = program.segments[other], program.segments[index]

    swapped_data = seg[_get_extended_header(seg).segment_base_offset :] + b"\x11" * SEGMENT_ALIGNMENT
    cases.append(("segments_swapped", _reassemble(seg, swap, swapped_data), "error", None))

    def delegate_reads_constants(program: Program) -> None:
        constants = program.constant_segment
        for plan in program.execution_plan:
            for delegate in plan.delegates:
                if delegate.processed.location == DataLocation.SEGMENT:
                    delegate.processed.index = constants.segment_index

    if _flatbuffer_to_program(seg[: _get_extended_header(seg).program_size]).constant_segment.offsets:
        # Refused as shared data, or (when the constants read nothing) as
        # data that is not this backend's blob.
        cases.append(("delegate_reads_constant_segment", _reassemble(seg, delegate_reads_constants), "error",
                      "data segment"))

    def index_out_of_range(program: Program) -> None:
        for plan in program.execution_plan:
            for delegate in plan.delegates:
                delegate.processed.index = len(program.segments) + 3

    cases.append(("delegate_segment_index_out_of_range", _reassemble(seg, index_out_of_range), "error",
                  "reads data segment"))

    def inline_index_out_of_range(program: Program) -> None:
        for plan in program.execution_plan:
            for delegate in plan.delegates:
                delegate.processed.location = DataLocation.INLINE
                delegate.processed.index = 7

    cases.append(("delegate_inline_index_out_of_range", _reassemble(seg, inline_index_out_of_range), "error",
                  "inline delegate data 7"))
    cases.extend(header_cases(seg))
    return cases


def header_cases(seg: bytes) -> List[Mutation]:
    """The extended header's sizes: program size, segment base and segment
    data size out of the file, near 2^64."""
    header = _get_extended_header(seg)
    cases: List[Mutation] = []

    def with_header(**fields: int) -> bytes:
        values = dict(program_size=header.program_size, segment_base_offset=header.segment_base_offset,
                      segment_data_size=header.segment_data_size)
        values.update(fields)
        header_end = HEADER_AT + _ExtendedHeader.EXPECTED_LENGTH
        return seg[:HEADER_AT] + _ExtendedHeader(**values).to_bytes() + seg[header_end:]

    for label, fields in (
        ("program_size_past_end", {"program_size": len(seg) + 1}),
        ("program_size_2^64-1", {"program_size": 2**64 - 1}),
        ("program_size_8", {"program_size": 8}),
        ("segment_base_past_end", {"segment_base_offset": len(seg) + SEGMENT_ALIGNMENT}),
        ("segment_base_inside_flatbuffer", {"segment_base_offset": SEGMENT_ALIGNMENT // 2}),
        ("segment_data_size_2^64-64", {"segment_data_size": 2**64 - 64}),
        ("segment_data_size_plus_one", {"segment_data_size": header.segment_data_size + 1}),
    ):
        cases.append((f"header_{label}", with_header(**fields), "error", None))
    return cases


def _first_planned_tensor(program: Program) -> Tensor:
    for value in program.execution_plan[0].values:
        if isinstance(value.val, Tensor) and value.val.allocation_info is not None:
            return value.val
    raise ValueError("no memory-planned tensor")


def _rewrite(pte: bytes, change: Callable[[Program], None]) -> bytes:
    pte_file = deserialize_pte_binary(pte)
    program = copy.deepcopy(pte_file.program)
    change(program)
    return bytes(serialize_pte_binary(PTEFile(program=program)))


def size_cases(pte: bytes) -> List[Mutation]:
    """Declared tensor dims and planned buffer sizes near 2^31, 2^32 and
    2^63 (flatbuffer dims are int32: 2^31 and 2^32-1 read back negative)."""
    cases: List[Mutation] = []
    for label, sizes, message in (
        ("2^31-1", [2**31 - 1, 3], "tensor"),
        ("2^31_as_int32", [-(2**31), 3], "negative size"),
        ("2^32-1_as_int32", [-1, 3], "negative size"),
        ("product_near_2^63", [2**31 - 1, 2**31 - 1, 2], "tensor"),
        ("product_past_2^63", [2**31 - 1, 2**31 - 1, 2**31 - 1], "beyond 2^63"),
    ):
        def set_sizes(program: Program, sizes=sizes) -> None:
            tensor = _first_planned_tensor(program)
            tensor.sizes = list(sizes)
            tensor.dim_order = list(range(len(sizes)))

        cases.append((f"tensor_dims_{label}", _rewrite(pte, set_sizes), "error", message))
    for label, size, message in (("2^63-1", 2**63 - 1, "plans"), ("-1", -1, "planned buffer"),
                                 ("2^47+1", 2**47 + 1, "plans"), ("2^40", 2**40, "more than this host's")):
        def set_buffer(program: Program, size=size) -> None:
            program.execution_plan[0].non_const_buffer_sizes[-1] = size

        cases.append((f"planned_buffer_{label}", _rewrite(pte, set_buffer), "error", message))
    return cases


def _patch_string(pte: bytes, old: bytes, new: bytes) -> bytes:
    """The first flatbuffer string equal to `old` replaced by `new` of the
    same length (bytes a Python str cannot hold)."""
    assert len(old) == len(new)
    at = pte.index(struct.pack("<I", len(old)) + old)
    return pte[: at + 4] + new + pte[at + 4 + len(old) :]


def name_cases(pte: bytes, backend_id: str) -> List[Mutation]:
    """Method names and backend ids that are not UTF-8, hold escape
    sequences, or are thousands of bytes long; unknown backend ids."""
    ident = backend_id.encode()
    cases: List[Mutation] = [
        ("method_name_not_utf8", _patch_string(pte, b"forward", b"forw\xffrd"), "error", "not printable UTF-8"),
        ("method_name_escape_sequence", _patch_string(pte, b"forward", b"\x1b[31mfo"), "error", "\\x1b"),
        ("backend_id_not_utf8", _patch_string(pte, ident, ident[:-2] + b"\xc3\x28"), "error", "not registered"),
        ("backend_id_escape_sequence", _patch_string(pte, ident, b"\x1b]0;pwned\x07" + ident[10:]), "error",
         "not registered"),
    ]

    def rename_backend(name: str) -> Callable[[Program], None]:
        def change(program: Program) -> None:
            for plan in program.execution_plan:
                for delegate in plan.delegates:
                    delegate.id = name

        return change

    cases.append(("backend_id_unknown", _rewrite(pte, rename_backend("NoSuchBackend")), "error",
                  'backend "NoSuchBackend", which is not registered'))
    # The end of the message (what to do) must survive a very long name.
    cases.append(("backend_id_5000_bytes", _rewrite(pte, rename_backend("B" * 5000)), "error",
                  "load the library that registers it"))

    def long_method_name(program: Program) -> None:
        program.execution_plan[0].name = "m" * 5000

    # No method "forward" then (or, where the delegate cannot run here, its
    # own reason under the long name).
    cases.append(("method_name_5000_bytes", _rewrite(pte, long_method_name), "error", None))
    return cases


def operator_cases(pte: bytes) -> List[Mutation]:
    """A method calling an operator no kernel library registers (ExecuTorch
    only logs its name): the loaders must name it."""
    if not deserialize_pte_binary(pte).program.execution_plan[0].operators:
        return []
    cases: List[Mutation] = []
    for label, name in (("unknown", "aten::no_such_operator"), ("5000_bytes", "aten::" + "o" * 5000)):
        def rename(program: Program, name=name) -> None:
            program.execution_plan[0].operators[0].name = name

        expect = "no_such_operator" if label == "unknown" else "no kernel is registered"
        cases.append((f"operator_{label}", _rewrite(pte, rename), "error", expect))
    return cases


def program_cases(pte: bytes, backend_id: str) -> List[Mutation]:
    return segment_cases(pte) + size_cases(pte) + name_cases(pte, backend_id) + operator_cases(pte)
