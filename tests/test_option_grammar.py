"""One grammar per option value: the Python and C++ readers take the same
vectors (tests/option_vectors.json) and must agree on what they accept and
on the value they take; docs/options.md's table is the option table's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from executorch.exir.backend.compile_spec_schema import CompileSpec
from executorch_tensorrt import option_table
from executorch_tensorrt.exporter.compile_specs import KNOWN_KEYS, RECORDED_ONLY_KEYS, TensorRTCompileSpec, encode_value
from executorch_tensorrt.exporter.device_planning import TARGET_DEVICE_KEY
from executorch_tensorrt.runtime.program import _check_backend_options

from native_build import BUILD_DIR, REPO_ROOT

VECTORS = json.loads((Path(__file__).parent / "option_vectors.json").read_text())["cases"]
Outcome = Optional[str]  # the value taken, or None when refused


def python_reads_compile_spec(key: str, text: str) -> Outcome:
    if key in RECORDED_ONLY_KEYS:  # written by the partitioner or device planning, no TensorRTCompileSpec field
        return text if text.isascii() else None
    try:
        spec = TensorRTCompileSpec.from_compile_specs([CompileSpec(key, text.encode("latin-1"))])
    except (TypeError, ValueError):
        return None
    return encode_value(option_table.BY_KEY[key], getattr(spec, key))


def python_converts_backend_option(key: str, value: Any) -> Tuple[bool, Any]:
    try:
        return True, _check_backend_options({key: value})[key]
    except (TypeError, ValueError):
        return False, None


def cpp_reads(cases: List[Tuple[str, str, Any]]) -> List[Outcome]:
    """The delegate's parsers (tests/cpp/option_parse_driver.cpp) on each (source, key, value)."""
    lines = []
    for source, key, value in cases:
        kind = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "text"
        raw = str(int(value)) if kind != "text" else value
        lines.append(f"{source}\t{key}\t{kind}\t{raw.encode('latin-1').hex()}\n")
    result = subprocess.run(
        [str(BUILD_DIR / "option_parse_driver")], input="".join(lines), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answers = result.stdout.splitlines()
    assert len(answers) == len(cases), result.stdout
    return [answer.split("\t", 1)[1] if answer.startswith("ok\t") else None for answer in answers]


@pytest.fixture(scope="module")
def cpp_outcomes(native_build_dir: Path) -> Dict[int, Outcome]:
    """C++ outcome per vector index, for the cases the Python side hands over."""
    handed: List[Tuple[int, Tuple[str, str, Any]]] = []
    for index, (source, key, value, _) in enumerate(VECTORS):
        if source != "compile_spec":
            converted, value = python_converts_backend_option(key, value)
            if not converted:
                continue
        handed.append((index, (source, key, value)))
    return dict(zip([i for i, _ in handed], cpp_reads([case for _, case in handed])))


@pytest.mark.parametrize("index", range(len(VECTORS)), ids=lambda i: f"{VECTORS[i][0]}:{VECTORS[i][1]}={VECTORS[i][2]!r}")
def test_python_and_cpp_take_the_same_values(index: int, cpp_outcomes: Dict[int, Outcome]) -> None:
    source, key, value, expected = VECTORS[index]
    if source == "compile_spec":
        assert python_reads_compile_spec(key, value) == expected
        option = option_table.BY_KEY.get(key)
        if option is not None and option.allows(option_table.RECORD):
            # A record: the delegate accepts it whatever it holds and ignores it.
            assert cpp_outcomes[index] == "ignored"
        else:
            assert cpp_outcomes[index] == expected
    else:
        # The loader's conversion, then the delegate's parser.
        assert (cpp_outcomes.get(index) if index in cpp_outcomes else None) == expected


def test_the_vectors_cover_every_key_the_delegate_parses() -> None:
    delegate_keys = set(option_table.keys(option_table.COMPILE_SPEC)) | set(option_table.keys(option_table.RECORD))
    delegate_keys |= set(option_table.keys(option_table.LOAD)) | set(option_table.keys(option_table.SET))
    covered = {key for _, key, _, _ in VECTORS}
    assert delegate_keys <= covered, delegate_keys - covered
    for key in delegate_keys - set(option_table.keys(option_table.RECORD)):
        outcomes = [expected for _, k, _, expected in VECTORS if k == key]
        assert None in outcomes and any(o is not None for o in outcomes), key


def test_every_compile_spec_the_exporter_writes_is_accepted_by_the_delegate(native_build_dir: Path) -> None:
    """init() fails on any compile spec it does not know: a spec with every
    field set, plus device planning's target_device, must pass the C++ parser."""
    # Each field at the last value the vectors accept for it.
    valid = {key: value for source, key, value, taken in VECTORS if source == "compile_spec" and taken is not None}
    spec = TensorRTCompileSpec.from_compile_specs([CompileSpec(k, valid[k].encode("ascii")) for k in KNOWN_KEYS])
    written = [(s.key, bytes(s.value).decode("ascii")) for s in spec.to_compile_specs()]
    assert [key for key, _ in written] == list(KNOWN_KEYS)
    cases = [("compile_spec", key, text) for key, text in [*written, (TARGET_DEVICE_KEY, valid[TARGET_DEVICE_KEY])]]
    read = set(option_table.keys(option_table.COMPILE_SPEC))
    expected = {key: valid[key] for key in read}
    assert cpp_reads(cases) == [expected.get(key, "ignored") for _, key, _ in cases]
    assert cpp_reads([("compile_spec", "max_batch", "4")]) == [None]


def test_docs_table_is_the_option_table() -> None:
    doc = (REPO_ROOT / "docs" / "options.md").read_text()
    assert option_table.markdown_table() in doc, (
        "docs/options.md's table differs from the option table: paste the output of "
        "`python python/executorch_tensorrt/option_table.py --markdown`"
    )


def test_generated_header_names_every_key_the_delegate_sees() -> None:
    header = option_table.cpp_header()
    for option in option_table.OPTIONS:
        seen = any(option.allows(s) for s in (option_table.RECORD, option_table.COMPILE_SPEC, option_table.LOAD,
                                               option_table.SET, option_table.QUERY))
        assert (f'= "{option.key}";' in header) == seen, option.key
