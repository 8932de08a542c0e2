"""Generates broken .pte files from real exported ones.

Each case changes one thing: the whole file (truncated, bytes flipped), the
delegate blob inside an otherwise valid program (truncated, header and
metadata bytes flipped, lengths and offsets near 2^64, wrong format version,
wrong flavour, broken engine bytes, an engine of another builder version; the
exporter writes format version 2, a container of version-1 blobs, so the
version-1 damage is done to its engine's blob put in the delegate alone,
which the delegate also reads, and the container gets its own), or the compile specs ExecuTorch hands to
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

# Header field offsets (docs/blob_format.md).
VERSION_AT, HEADER_SIZE_AT = 4, 6
U64_FIELDS = {"metadata_offset": 8, "metadata_size": 16, "engine_offset": 24, "engine_size": 32}
METADATA_AT = 40  # the exporter writes the metadata right after the header
FLAVOUR_AT, VERSION_COMPATIBLE_AT, DEVICE_INDEX_AT, BUILDER_VERSION_LEN_AT = 40, 41, 44, 48
# Version 2: 16-byte container header, then 32-byte entries (offset, size, execution_memory_bytes, reserved).
NUM_ENGINES_AT, ENTRY_AT = 8, 16
ENTRY_OFFSET_AT, ENTRY_SIZE_AT, ENTRY_MEMORY_AT = ENTRY_AT, ENTRY_AT + 8, ENTRY_AT + 16


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


def _u64(blob: bytes, at: int, value: int) -> bytes:
    return blob[:at] + struct.pack("<Q", value) + blob[at + 8 :]


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


def blob_cases(blob: bytes) -> List[Tuple[str, bytes, str, Optional[str]]]:
    """(name, broken blob, expect, message) for one valid blob."""
    meta_size = struct.unpack_from("<Q", blob, U64_FIELDS["metadata_size"])[0]
    cases: List[Tuple[str, bytes, str, Optional[str]]] = []
    for length in sorted({0, 1, 4, 39, 40, 41, METADATA_AT + meta_size // 2, METADATA_AT + meta_size - 1, len(blob) - 1}):
        cases.append((f"truncated_to_{length}", blob[:length], "error", None))
    cases.append(("bad_magic", b"XTRT" + blob[4:], "error", "does not start with 'ETRT'"))
    cases.append(("format_version_2_on_a_version_1_blob",
                  blob[:VERSION_AT] + struct.pack("<H", 2) + blob[6:], "error", "header size 40, expected 16"))
    for version in (0, 3, 0xFFFF):
        cases.append((f"format_version_{version}", blob[:VERSION_AT] + struct.pack("<H", version) + blob[6:],
                      "error", f"format version {version} is not supported"))
    cases.append(("header_size_41", blob[:HEADER_SIZE_AT] + struct.pack("<H", 41) + blob[8:], "error", "header size 41"))
    for field, at in U64_FIELDS.items():
        for label, value in (("2^64-1", 2**64 - 1), ("2^64-64", 2**64 - 64), ("2^63", 2**63), ("size+1", len(blob) + 1)):
            cases.append((f"{field}_{label}", _u64(blob, at, value), "error", "delegate blob"))
    for flavour, message in ((0, "unknown TensorRT flavour code 0"), (3, "unknown TensorRT flavour code 3"),
                             (239, "unknown TensorRT flavour code 239"), (255, "unknown TensorRT flavour code 255"),
                             (1, None), (2, None)):
        cases.append((f"flavour_{flavour}", blob[:FLAVOUR_AT] + bytes([flavour]) + blob[FLAVOUR_AT + 1 :], "error", message))
    cases.append(("version_compatible_7", blob[:VERSION_COMPATIBLE_AT] + b"\x07" + blob[VERSION_COMPATIBLE_AT + 1 :],
                  "error", "version_compatible must be 0 or 1"))
    cases.append(("device_index_negative", blob[:DEVICE_INDEX_AT] + struct.pack("<i", -1) + blob[DEVICE_INDEX_AT + 4 :],
                  "error", "negative device index"))
    cases.append(("device_index_5", blob[:DEVICE_INDEX_AT] + struct.pack("<i", 5) + blob[DEVICE_INDEX_AT + 4 :], "error", None))
    for length in (0, 65, 2**32 - 1):
        cases.append((f"builder_version_length_{length}",
                      blob[:BUILDER_VERSION_LEN_AT] + struct.pack("<I", length) + blob[BUILDER_VERSION_LEN_AT + 4 :],
                      "error", "delegate blob"))
    engine_at = struct.unpack_from("<Q", blob, U64_FIELDS["engine_offset"])[0]
    cases.append(("engine_garbage", blob[:engine_at] + bytes(b ^ 0x5A for b in blob[engine_at:]), "error", None))
    for at in range(METADATA_AT):
        cases.append((f"header_byte_{at}_flipped", _flip(blob, at), "no_crash", None))
    for at in range(METADATA_AT, METADATA_AT + meta_size):
        cases.append((f"metadata_byte_{at}_flipped", _flip(blob, at), "no_crash", None))
    return cases


def first_engine_blob(container: bytes) -> bytes:
    """The version-1 blob of a version-2 delegate blob's first engine."""
    if struct.unpack_from("<H", container, VERSION_AT)[0] == 1:
        return container
    offset, size = struct.unpack_from("<QQ", container, ENTRY_OFFSET_AT)
    return container[offset : offset + size]


def container_cases(container: bytes) -> List[Tuple[str, bytes, str, Optional[str]]]:
    """(name, broken blob, expect, message) for one valid version-2 blob."""
    offset, size = struct.unpack_from("<QQ", container, ENTRY_OFFSET_AT)
    cases: List[Tuple[str, bytes, str, Optional[str]]] = []
    for length in sorted({8, 15, 16, 47, offset, offset + size - 1}):
        cases.append((f"v2_truncated_to_{length}", container[:length], "error", None))
    cases.append(("v2_format_version_3", container[:VERSION_AT] + struct.pack("<H", 3) + container[6:], "error",
                  "format version 3 is not supported"))
    for count in (0, 17, 2):
        patched = container[:NUM_ENGINES_AT] + struct.pack("<I", count) + container[NUM_ENGINES_AT + 4 :]
        cases.append((f"v2_num_engines_{count}", patched, "error", None))
    for label, value in (("misaligned", offset + 8), ("in_table", 0), ("2^64-64", 2**64 - 64)):
        cases.append((f"v2_engine_offset_{label}", _u64(container, ENTRY_OFFSET_AT, value), "error", None))
    for label, value in (("0", 0), ("2^64-1", 2**64 - 1), ("size+1", size + 1)):
        cases.append((f"v2_engine_size_{label}", _u64(container, ENTRY_SIZE_AT, value), "error", None))
    memory = container[:ENTRY_MEMORY_AT] + struct.pack("<q", -2) + container[ENTRY_MEMORY_AT + 8 :]
    cases.append(("v2_execution_memory_-2", memory, "error", None))
    for at in range(ENTRY_AT + 32):
        cases.append((f"v2_header_byte_{at}_flipped", _flip(container, at), "no_crash", None))
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
        container = delegate_blobs(pte)[0]
        damaged = container_cases(container) + blob_cases(first_engine_blob(container))
        for name, broken, expect, message in damaged:
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
