"""Generates broken .pte files from real exported ones.

Each case changes one thing: the whole file (truncated, bytes flipped), the
delegate blob inside an otherwise valid program (truncated, header and
metadata bytes flipped, engine offsets and sizes near 2^64, declared dims near
2^31, 2^32 and 2^63, old and new format versions, wrong flavour, broken engine
bytes, an engine of another builder version), or the compile specs ExecuTorch hands to
init() (missing, duplicated, unknown keys, bad budget values). Blob and
compile-spec cases are rewritten with ExecuTorch's own serializer
(tests/reliability/pte_blobs.py), so the program around them stays valid and
the delegate is what meets the damage.

Usage: python tests/malformed/make_corpus.py PROGRAMS_DIR OUT_DIR
  PROGRAMS_DIR: .pte files from tests/reliability/export_programs.py.
  Writes OUT_DIR/*.pte and OUT_DIR/manifest.json.
"""

from __future__ import annotations

import json
import struct
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))

from pte_blobs import BACKEND_ID, delegate_blobs, rewrite_program  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from program_mutations import operator_cases, program_cases  # noqa: E402

# Field offsets of a delegate blob (docs/blob_format.md, version 4).
VERSION_AT, HEADER_SIZE_AT, METADATA_SIZE_AT = 4, 6, 8
METADATA_AT = 16  # the signature starts right after the header
FLAVOUR_AT, VERSION_COMPATIBLE_AT, DEVICE_INDEX_AT, BUILDER_VERSION_LEN_AT = 16, 17, 20, 24
# An engine table entry: offset, size, execution_memory_bytes, weight_bytes, reserved, num_profiles, reserved.
ENTRY_OFFSET, ENTRY_SIZE, ENTRY_MEMORY, ENTRY_WEIGHTS, ENTRY_PROFILES = 0, 8, 16, 24, 40

@dataclass
class Case:
    file: str
    kind: str  # file | blob | compile_specs | program
    description: str
    # "error": loading must fail with a message containing `message` (any
    # message when None). "no_crash": either outcome, but a failure must say
    # why. ("error_pending" marked compile-spec cases before init() read
    # compile specs; none is generated now.)
    expect: str
    message: Optional[str]
    inputs: List[List[int]]  # input shapes of the source program (float32)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def _with_blob(pte: bytes, new_blob: bytes) -> bytes:
    def change(program) -> None:
        for plan in program.execution_plan:
            for delegate in plan.delegates:
                if delegate.id == BACKEND_ID:
                    program.backend_delegate_data[delegate.processed.index].data = new_blob

    return rewrite_program(pte, change)


def _with_specs(pte: bytes, specs: Sequence[Tuple[str, bytes]]) -> bytes:
    from executorch.exir.backend.compile_spec_schema import CompileSpec

    def change(program) -> None:
        for plan in program.execution_plan:
            for delegate in plan.delegates:
                if delegate.id == BACKEND_ID:
                    delegate.compile_specs = [CompileSpec(key, value) for key, value in specs]

    return rewrite_program(pte, change)


def _engine_table(blob: bytes) -> Tuple[int, int, int, int]:
    """(num_engines offset, engine 0's entry offset, its first shape range's offset, input 0's rank)."""
    pos = BUILDER_VERSION_LEN_AT + 4 + struct.unpack_from("<I", blob, BUILDER_VERSION_LEN_AT)[0]
    num_inputs, num_outputs = struct.unpack_from("<II", blob, pos)
    pos += 8
    ranks = []
    for _ in range(num_inputs + num_outputs):
        pos += 4 + struct.unpack_from("<I", blob, pos)[0]
        ranks.append(blob[pos + 1])
        pos += 4
    return pos, pos + 8, pos + 8 + 48, ranks[0] if num_inputs else 0


def _put(blob: bytes, fmt: str, at: int, *values: int) -> bytes:
    return blob[:at] + struct.pack(fmt, *values) + blob[at + struct.calcsize(fmt) :]


def blob_cases(blob: bytes) -> List[Tuple[str, bytes, str, Optional[str]]]:
    """(name, broken blob, expect, message) for one valid blob."""
    meta_size = struct.unpack_from("<I", blob, METADATA_SIZE_AT)[0]
    num_engines_at, entry, ranges, rank = _engine_table(blob)
    engine_at, engine_size = struct.unpack_from("<QQ", blob, entry)
    cases: List[Tuple[str, bytes, str, Optional[str]]] = []
    for length in sorted({0, 1, 4, 5, 15, 16, 17, METADATA_AT + meta_size // 2, METADATA_AT + meta_size - 1, len(blob) - 1}):
        cases.append((f"truncated_to_{length}", blob[:length], "error", None))
    cases.append(("bad_magic", b"XTRT" + blob[4:], "error", "does not start with 'ETRT'"))
    for version in (1, 2, 3):  # executorch-tensorrt 0.1.0 and the format before sections
        cases.append((f"format_version_{version}", _put(blob, "<H", VERSION_AT, version), "error",
                      "re-export the model with this version of executorch-tensorrt"))
    for version in (0, 5, 0xFFFF):
        cases.append((f"format_version_{version}", _put(blob, "<H", VERSION_AT, version),
                      "error", f"format version {version} is not supported"))
    cases.append(("header_size_17", _put(blob, "<H", HEADER_SIZE_AT, 17), "error", "header size 17"))
    for label, value in (("2^32-1", 2**32 - 1), ("size", len(blob)), ("plus_4", meta_size + 4), ("minus_1", meta_size - 1)):
        cases.append((f"metadata_size_{label}", _put(blob, "<I", METADATA_SIZE_AT, value), "error", "delegate blob"))
    for flavour, message in ((0, "unknown TensorRT flavour code 0"), (3, "unknown TensorRT flavour code 3"),
                             (239, "unknown TensorRT flavour code 239"), (255, "unknown TensorRT flavour code 255"),
                             (1, None), (2, None)):
        cases.append((f"flavour_{flavour}", _put(blob, "<B", FLAVOUR_AT, flavour), "error", message))
    cases.append(("version_compatible_7", _put(blob, "<B", VERSION_COMPATIBLE_AT, 7), "error",
                  "version_compatible must be 0 or 1"))
    cases.append(("device_index_negative", _put(blob, "<i", DEVICE_INDEX_AT, -1), "error", "negative device index"))
    cases.append(("device_index_5", _put(blob, "<i", DEVICE_INDEX_AT, 5), "error", None))
    for length in (0, 65, 2**32 - 1):
        cases.append((f"builder_version_length_{length}", _put(blob, "<I", BUILDER_VERSION_LEN_AT, length),
                      "error", "delegate blob"))
    for count, message in ((0, "0 engines, expected 1..16"), (17, "17 engines, expected 1..16"), (2, None)):
        cases.append((f"num_engines_{count}", _put(blob, "<I", num_engines_at, count), "error", message))
    for field, at in (("engine_offset", ENTRY_OFFSET), ("engine_size", ENTRY_SIZE)):
        for label, value in (("2^64-1", 2**64 - 1), ("2^64-64", 2**64 - 64), ("2^63", 2**63), ("size+64", len(blob) + 64)):
            cases.append((f"{field}_{label}", _put(blob, "<Q", entry + at, value), "error", "delegate blob"))
    cases.append(("engine_size_0", _put(blob, "<Q", entry + ENTRY_SIZE, 0), "error", "lies outside"))
    cases.append(("engine_offset_misaligned", _put(blob, "<Q", entry + ENTRY_OFFSET, engine_at + 8), "error", "aligned"))
    cases.append(("engine_offset_in_metadata", _put(blob, "<Q", entry + ENTRY_OFFSET, 64 if meta_size > 48 else 0),
                  "error", "lies outside"))
    for field, at in (("execution_memory_bytes", ENTRY_MEMORY), ("weight_bytes", ENTRY_WEIGHTS)):
        cases.append((f"{field}_-2", _put(blob, "<q", entry + at, -2), "error", f"{field} -2"))
    for profiles in (0, 65):
        cases.append((f"num_profiles_{profiles}", _put(blob, "<I", entry + ENTRY_PROFILES, profiles), "error",
                      f"{profiles} optimization profiles"))
    # Declared dims near 2^31, 2^32 and 2^63 in input 0's max shape (profile 0), still >= its opt:
    # a countable one meets the engine-vs-blob check, the others the size check.
    max_at = ranges + 2 * 8 * rank
    original = struct.unpack_from(f"<{rank}q", blob, max_at)
    for label, head, message in (("2^31", (2**31,), None), ("2^32x2^32", (2**32, 2**32), "which no size can count"),
                                 ("2^63-1", (2**63 - 1,), "which no size can count")):
        if rank >= len(head):
            dims = head + original[len(head) :]
            cases.append((f"declared_max_{label}", _put(blob, f"<{rank}q", max_at, *dims), "error", message))
    cases.append(("engine_garbage", blob[:engine_at] + bytes(b ^ 0x5A for b in blob[engine_at : engine_at + engine_size])
                  + blob[engine_at + engine_size :], "error", None))
    for at in range(METADATA_AT):
        cases.append((f"header_byte_{at}_flipped", _flip(blob, at), "no_crash", None))
    for at in range(METADATA_AT, METADATA_AT + meta_size):
        cases.append((f"metadata_byte_{at}_flipped", _flip(blob, at), "no_crash", None))
    return cases


SPEC_CASES: List[Tuple[str, List[Tuple[str, bytes]], str]] = [
    ("missing", [], "no_crash"),  # the blob carries what init() needs
    ("duplicated_key", [("init_policy", b"eager"), ("init_policy", b"eager")], "appears more than once"),
    ("duplicated_exporter_key", [("engine_builder", b"test"), ("engine_builder", b"test")], "appears more than once"),
    ("unknown_key", [("no_such_option", b"1")], 'unknown compile spec "no_such_option"'),
    ("budget_negative", [("weight_streaming_budget", b"-1")], "weight_streaming_budget"),
    ("budget_text", [("weight_streaming_budget", b"lots")], "weight_streaming_budget"),
    ("budget_empty", [("weight_streaming_budget", b"")], "weight_streaming_budget"),
    ("budget_2^64", [("weight_streaming_budget", b"18446744073709551616")], "weight_streaming_budget"),
    ("budget_nul", [("weight_streaming_budget", b"1\x002")], "weight_streaming_budget"),
    ("init_policy_bogus", [("init_policy", b"later")], "init_policy"),
    ("output_buffers_bogus", [("output_buffers", b"shared")], "output_buffers"),
]


def generate(programs: Path, out: Path) -> List[Case]:
    out.mkdir(parents=True, exist_ok=True)
    sources = {"add_relu": [[2, 3], [2, 3]], "rtx_mlp": [[2, 8]]}
    cases: List[Case] = []

    def emit(name: str, data: bytes, kind: str, description: str, expect: str, message: Optional[str], inputs) -> None:
        path = out / f"{name}.pte"
        path.write_bytes(data)
        cases.append(Case(path.name, kind, description, expect, message, inputs))

    for source, inputs in sources.items():
        pte = (programs / f"{source}.pte").read_bytes()
        for length in (0, 8, 64, len(pte) // 2, len(pte) - 1):
            emit(f"{source}__file_truncated_{length}", pte[:length], "file", f"file truncated to {length} bytes",
                 "error", None, inputs)
        for at in range(0, min(len(pte), 64), 4):
            emit(f"{source}__file_byte_{at}_flipped", _flip(pte, at), "file", f"file byte {at} flipped",
                 "no_crash", None, inputs)
        for name, broken, expect, message in blob_cases(delegate_blobs(pte)[0]):
            emit(f"{source}__blob_{name}", _with_blob(pte, broken), "blob", f"delegate blob: {name}", expect, message, inputs)
        for name, specs, message_or_expect in SPEC_CASES:
            expect, message = "error", message_or_expect
            if message_or_expect == "no_crash":
                expect, message = "no_crash", None
            elif source == "rtx_mlp":
                # Refused either way on a machine without a GPU (no device, or the
                # spec, whichever the delegate checks first).
                expect, message = "error", None
            emit(f"{source}__specs_{name}", _with_specs(pte, specs), "compile_specs", f"compile specs: {name}",
                 expect, message, inputs)
        for name, broken, expect, message in program_cases(pte, BACKEND_ID):
            emit(f"{source}__program_{name}", broken, "program", f"program: {name}", expect, message, inputs)
    # A method with a host operator between two delegates (aten::sigmoid).
    for name, broken, expect, message in operator_cases((programs / "two_engines.pte").read_bytes()):
        emit(f"two_engines__program_{name}", broken, "program", f"program: {name}", expect, message, [[2, 3]])
    # A whole program whose engine another builder version made.
    emit("add_relu__engine_from_builder_2.0.0", (programs / "add_relu_v2.pte").read_bytes(), "blob",
         "engine built by test 2.0.0", "error", "engine built by test 2.0.0, this delegate runs test 1.0.0",
         sources["add_relu"])
    (out / "manifest.json").write_text(json.dumps([asdict(case) for case in cases], indent=1))
    return cases


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_corpus.py PROGRAMS_DIR OUT_DIR")
    made = generate(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{len(made)} broken programs in {sys.argv[2]}")
