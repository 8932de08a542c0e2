"""Exports the programs the reliability scripts run (the same models and
builders as the pytest session fixture, tests/native_fixtures.py), so the
sanitizer, leak and malformed-program scripts can run outside pytest.

Usage: python tests/reliability/export_programs.py OUT_DIR
Writes add_relu.pte, add_relu_v2.pte (test engine 2.0.0), rtx_mlp.pte (a
real TensorRT-RTX engine built on the CPU) and the simulated-memory programs
of tests/memory_programs.py (weight streaming, init policies, two engines).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict

TESTS_DIR = Path(__file__).resolve().parents[1]
for extra in (TESTS_DIR, TESTS_DIR / "engine"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


def export_programs(out: Path) -> Dict[str, Path]:
    from executorch_tensorrt.exporter import register_engine_builder, save, unregister_engine_builder
    from memory_programs import export_memory_programs
    from native_fixtures import ADD_RELU_INPUTS, MLP_INPUTS, AddRelu, SmallMLP
    from test_engine_builder import TestEngineBuilder

    out.mkdir(parents=True, exist_ok=True)
    newer = TestEngineBuilder()
    newer.version = "2.0.0"
    register_engine_builder("test_export", TestEngineBuilder())
    register_engine_builder("test_export_newer", newer)
    try:
        programs = {
            "add_relu": Path(save(AddRelu(), out / "add_relu.pte", inputs=ADD_RELU_INPUTS, engine_builder="test_export")),
            "add_relu_v2": Path(
                save(AddRelu(), out / "add_relu_v2.pte", inputs=ADD_RELU_INPUTS, engine_builder="test_export_newer")
            ),
            "rtx_mlp": Path(save(SmallMLP(), out / "rtx_mlp.pte", inputs=MLP_INPUTS, engine_builder="tensorrt_rtx")),
        }
    finally:
        unregister_engine_builder("test_export")
        unregister_engine_builder("test_export_newer")
    programs.update(export_memory_programs(out))
    return programs


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: export_programs.py OUT_DIR")
    for name, path in export_programs(Path(sys.argv[1])).items():
        print(f"{name}: {path}")
