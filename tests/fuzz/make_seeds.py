"""Writes the committed seed corpus of the fuzz targets (tests/fuzz/corpus/).

Seeds are small valid inputs the fuzzer mutates from: blobs written by the
exporter's own blob writer (exporter/blob.py) for the test engine, the real
blobs of exported programs (test engine and a TensorRT-RTX engine built on
the CPU), budget texts, and compile-spec / backend-option records in the
layout of tests/fuzz/fuzz_records.h.

Usage: python tests/fuzz/make_seeds.py [--programs DIR]
  DIR holds .pte files from tests/reliability/export_programs.py; without it
  they are exported into a temporary directory.
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

FUZZ_DIR = Path(__file__).resolve().parent
CORPUS_DIR = FUZZ_DIR / "corpus"
sys.path.insert(0, str(FUZZ_DIR.parent / "reliability"))

from pte_blobs import delegate_blobs  # noqa: E402

Record = Tuple[bytes, bytes]


def test_engine_blobs() -> Dict[str, bytes]:
    from executorch_tensorrt.exporter.state_section import InitialValue, StateSpec, encode_state_section
    from executorch_tensorrt.exporter.blob import (
        BlobSection,
        DelegateBlob,
        ExternalWeight,
        SectionKind,
        encode_external_weights,
        EngineEntry,
        EngineMetadata,
        Flavour,
        ShapeRange,
        TensorSpec,
        encode,
        encode_engines,
    )

    f32 = 6

    def spec(name: str, *ranges: ShapeRange) -> TensorSpec:
        return TensorSpec(name, f32, tuple(ranges))

    program = b"etrt-test-engine 1\ninput x\ninput y\noutput out0\noutput out1\nt0 = add x y\nout0 = relu t0\nout1 = mul x 2.0\n"
    static = ShapeRange.static((2, 3))
    dynamic = ShapeRange((1, 3), (2, 3), (4, 3))
    two_in_two_out = EngineMetadata(
        Flavour.TEST, "1.0.0", (spec("x", static), spec("y", static)), (spec("out0", static), spec("out1", static))
    )
    dynamic_batch = EngineMetadata(
        Flavour.TEST, "1.0.0", (spec("x", dynamic), spec("y", dynamic)), (spec("out0", dynamic), spec("out1", dynamic))
    )
    profiles = EngineMetadata(
        Flavour.TEST,
        "1.0.0",
        (spec("x", static, dynamic),),
        (spec("y", static, dynamic),),
        num_profiles=2,
    )
    scalar = EngineMetadata(Flavour.TEST, "1.0.0", (spec("x", ShapeRange.static(())),), (spec("y", ShapeRange.static(())),))
    one = b"etrt-test-engine 1\ninput x\noutput y\ny = neg x\n"
    return {
        "test_two_in_two_out": encode(DelegateBlob(two_in_two_out, program)),
        "test_dynamic_batch": encode(DelegateBlob(dynamic_batch, program)),
        "test_two_profiles": encode(DelegateBlob(profiles, one)),
        "test_rank0": encode(DelegateBlob(scalar, one)),
        # One engine per batch range, the engines sharing the signature.
        "test_batch_range_engines": encode_engines(
            [
                EngineEntry(
                    DelegateBlob(
                        EngineMetadata(
                            Flavour.TEST,
                            "1.0.0",
                            (spec("x", ShapeRange((lo, 3), (hi, 3), (hi, 3))),),
                            (spec("y", ShapeRange((lo, 3), (hi, 3), (hi, 3))),),
                        ),
                        one,
                    ),
                    execution_memory_bytes=256 * hi,
                )
                for lo, hi in ((1, 4), (5, 16))
            ]
        ),
        "tensorrt_flavour": encode(DelegateBlob(EngineMetadata(Flavour.TENSORRT, "11.1.0", two_in_two_out.inputs, two_in_two_out.outputs), b"ftrt" + b"\0" * 60)),
        # One seed per section kind (docs/blob_format.md, "Sections").
        "test_state_section": encode_engines(
            [EngineEntry(DelegateBlob(scalar, one))],
            [encode_state_section([StateSpec("cache", "state_in_0", "state_out_0", f32, (2, 3))])],
        ),
        # A weight read by the engine as an input: read-only state from named data.
        "test_read_only_state": encode_engines(
            [EngineEntry(DelegateBlob(scalar, one))],
            [
                encode_state_section(
                    [
                        StateSpec("cache", "state_in_0", "state_out_0", f32, (2, 3)),
                        StateSpec("fc.weight", "state_in_1", "", f32, (3, 3), InitialValue.NAMED_DATA, "etrt.weight.0.fc.weight"),
                    ]
                )
            ],
        ),
        "test_named_engines": encode_engines([EngineEntry(DelegateBlob(scalar, one))], named_engines=True),
        "test_external_weights": encode_engines(
            [EngineEntry(DelegateBlob(scalar, one))],
            [BlobSection(SectionKind.EXTERNAL_WEIGHTS, encode_external_weights([ExternalWeight("w0", "etrt/0/w0", f32, (3, 3))]))],
        ),
    }


def spec_records(records: Sequence[Record]) -> bytes:
    out = bytearray([len(records)])
    for key, value in records:
        out += bytes([len(key)]) + key + bytes([len(value)]) + value
    return bytes(out)


def option_records(records: Iterable[Tuple[int, bytes, bytes]]) -> bytes:
    records = list(records)
    out = bytearray([len(records)])
    for kind, key, value in records:
        out += bytes([kind, len(key)]) + key + bytes([len(value)]) + value
    return bytes(out)


EXPORTER_SPECS: List[Record] = [(b"engine_builder", b"test"), (b"device_index", b"0"), (b"version_compatible", b"0")]
SPEC_SETS: Dict[str, List[Record]] = {
    "exporter": EXPORTER_SPECS,
    "budget": [*EXPORTER_SPECS, (b"weight_streaming_budget", b"1048576")],
    "policies": [(b"init_policy", b"deferred"), (b"output_buffers", b"fresh")],
    "duplicate": [(b"init_policy", b"eager"), (b"init_policy", b"eager")],
    "unknown": [(b"no_such_key", b"1")],
    "empty": [],
}
OPTION_SETS: Dict[str, List[Tuple[int, bytes, bytes]]] = {
    "none": [],
    "budget": [(2, b"weight_streaming_budget", b"4096")],
    "policies": [(2, b"init_policy", b"eager"), (2, b"output_buffers", b"reuse")],
    "offload": [(0, b"offload", b"\x01"), (1, b"program", struct.pack("<i", 0))],
}


def write(target: str, name: str, data: bytes) -> None:
    directory = CORPUS_DIR / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", type=Path, help="directory of exported .pte files")
    args = parser.parse_args()

    blobs = test_engine_blobs()
    with tempfile.TemporaryDirectory() as tmp:
        programs = args.programs
        if programs is None:
            from export_programs import export_programs

            programs = Path(tmp)
            export_programs(programs)
        for pte in sorted(programs.glob("*.pte")):
            for index, blob in enumerate(delegate_blobs(pte.read_bytes())):
                blobs[f"real_{pte.stem}_{index}"] = blob

    for name, blob in blobs.items():
        write("fuzz_delegate_blob", name, blob)
    for text in (b"0", b"1048576", b"9223372036854775807", b"9223372036854775808", b"-1", b"+1", b" 1", b"1\x002", b""):
        write("fuzz_weight_streaming_budget", f"budget_{text.hex() or 'empty'}", text + b"\x03" + b"\x10" * 32)
    for spec_name, specs in SPEC_SETS.items():
        for option_name, options in OPTION_SETS.items():
            write("fuzz_delegate_options", f"{spec_name}_{option_name}", spec_records(specs) + option_records(options))
    for spec_name in ("exporter", "budget", "policies", "duplicate"):
        for option_name in ("none", "policies"):
            for blob_name in ("test_two_in_two_out", "test_dynamic_batch", "test_two_profiles", "real_add_relu_0"):
                prefix = spec_records(SPEC_SETS[spec_name]) + option_records(OPTION_SETS[option_name])
                write("fuzz_backend_init", f"{spec_name}_{option_name}_{blob_name}", prefix + blobs[blob_name])
    write("fuzz_backend_init", "rtx_engine", spec_records(EXPORTER_SPECS) + option_records([]) + blobs["real_rtx_mlp_0"])
    for target in sorted(p.name for p in CORPUS_DIR.iterdir()):
        print(f"{target}: {len(list((CORPUS_DIR / target).iterdir()))} seeds")


if __name__ == "__main__":
    main()
