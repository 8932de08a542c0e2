"""Loads every broken program of a corpus (make_corpus.py) through the real
ExecuTorch runtime, from Python (executorch_tensorrt.runtime.load, then a
forward) and from C++ (the executorch-tensorrt-runner binary), with the test
engine registered. Loads run in child processes, so a crash is counted, not
fatal: the Python worker announces each file before loading it and is
restarted after the one that killed it.

A case passes when nothing crashed and the outcome fits its expectation
(manifest.json): "error" must fail with a message (containing the expected
words when the manifest names them); "no_crash" may load, but a failure must
carry a message. "error_pending" cases (compile specs, which init() does not
read yet) are reported separately.

Usage: python tests/malformed/check_corpus.py CORPUS_DIR [--runner PATH --preload LIBS]
  With --runner only that runner is checked (tests/sanitizers/run.sh passes
  the AddressSanitizer build's runner, its ASan runtime and test engine).
Last line: files=<int> loads=<int> crashes=<int> unexplained=<int> pending=<int>
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

TESTS_DIR = Path(__file__).resolve().parents[1]
TIMEOUT_S = 120


@dataclass
class Outcome:
    file: str
    loader: str  # python | runner
    crashed: bool
    ok: bool  # loaded and ran
    message: str


def _test_engine_library() -> Path:
    sys.path.insert(0, str(TESTS_DIR))
    from native_build import TEST_ENGINE_LIBRARY

    return TEST_ENGINE_LIBRARY


def _worker(corpus: Path, start: int) -> None:
    """Child process: load files from index `start` on, one JSON line each."""
    import ctypes

    import torch

    import executorch_tensorrt  # noqa: F401  (the delegate first, then the test engine)
    from executorch_tensorrt.runtime import load

    ctypes.CDLL(str(_test_engine_library()), mode=os.RTLD_NOW | ctypes.RTLD_GLOBAL)
    cases = json.loads((corpus / "manifest.json").read_text())
    for index in range(start, len(cases)):
        case = cases[index]
        print(f"BEGIN {index}", flush=True)
        try:
            program = load(corpus / case["file"])
            program.forward(*[torch.ones(shape) for shape in case["inputs"]])
            result = {"ok": True, "message": ""}
        except Exception as err:  # noqa: BLE001  (every failure is an outcome to record)
            result = {"ok": False, "message": f"{type(err).__name__}: {err}"}
        print("RESULT " + json.dumps({"index": index, **result}), flush=True)


def run_python(corpus: Path, count: int) -> List[Outcome]:
    cases = json.loads((corpus / "manifest.json").read_text())
    outcomes: Dict[int, Outcome] = {}
    start = 0
    while start < count:
        child = subprocess.run(
            [sys.executable, __file__, "--worker", str(corpus), str(start)],
            capture_output=True, text=True, errors="replace", timeout=TIMEOUT_S * 4,
        )
        begun: Optional[int] = None
        for line in child.stdout.splitlines():
            if line.startswith("BEGIN "):
                begun = int(line.split()[1])
            elif line.startswith("RESULT "):
                result = json.loads(line[len("RESULT "):])
                outcomes[result["index"]] = Outcome(cases[result["index"]]["file"], "python", False, result["ok"], result["message"])
                begun = None
        if begun is None:
            if child.returncode != 0 and len(outcomes) < count:
                raise RuntimeError(f"worker failed before loading anything:\n{child.stderr[-3000:]}")
            break
        # The worker died inside file `begun`.
        outcomes[begun] = Outcome(cases[begun]["file"], "python", True, False, f"exit {child.returncode}: {child.stderr[-2000:]}")
        start = begun + 1
    return [outcomes[i] for i in sorted(outcomes)]


def run_runner(corpus: Path, count: int, runner: Optional[Path] = None, preload: Optional[str] = None) -> List[Outcome]:
    """The installed runner with the test engine preloaded, or `runner` with
    `preload` (e.g. a sanitizer build, whose runtime must be preloaded first)."""
    from executorch_tensorrt import _native

    cases = json.loads((corpus / "manifest.json").read_text())
    env = dict(os.environ, LD_PRELOAD=preload or str(_test_engine_library()))
    outcomes = []
    for case in cases[:count]:
        child = subprocess.run([str(runner or _native.RUNNER), "--model", str(corpus / case["file"])],
                               capture_output=True, text=True, errors="replace", env=env, timeout=TIMEOUT_S)
        crashed = child.returncode < 0 or child.returncode > 128
        outcomes.append(Outcome(case["file"], "runner", crashed, child.returncode == 0, child.stderr.strip()))
    return outcomes


def problems(corpus: Path, outcomes: List[Outcome]) -> Dict[str, List[str]]:
    """Crashes, unexplained outcomes and pending cases, each as 'loader file: detail'."""
    cases = {case["file"]: case for case in json.loads((corpus / "manifest.json").read_text())}
    found: Dict[str, List[str]] = {"crashes": [], "unexplained": [], "pending": []}
    for outcome in outcomes:
        case = cases[outcome.file]
        where = f"{outcome.loader} {outcome.file}"
        if outcome.crashed:
            found["crashes"].append(f"{where}: {outcome.message[-500:]}")
        elif case["expect"] == "error_pending":
            if outcome.ok or case["message"] not in outcome.message:
                found["pending"].append(f"{where}: loaded={outcome.ok} {outcome.message[-200:]}")
        elif not outcome.ok and not outcome.message.strip():
            found["unexplained"].append(f"{where}: failed without a message")
        elif case["expect"] == "error":
            if outcome.ok:
                found["unexplained"].append(f"{where}: loaded and ran, expected an error")
            elif case["message"] and case["message"] not in outcome.message:
                found["unexplained"].append(f"{where}: message lacks {case['message']!r}: {outcome.message[-300:]}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--runner", type=Path, help="check only this runner binary")
    parser.add_argument("--preload", help="LD_PRELOAD for --runner")
    args = parser.parse_args()
    corpus = args.corpus
    count = len(json.loads((corpus / "manifest.json").read_text()))
    if args.runner:
        outcomes = run_runner(corpus, count, args.runner, args.preload)
    else:
        outcomes = run_python(corpus, count) + run_runner(corpus, count)
    found = problems(corpus, outcomes)
    for kind, lines in found.items():
        for line in lines[:20]:
            print(f"{kind}: {line}")
    print(f"files={count} loads={len(outcomes)} crashes={len(found['crashes'])} "
          f"unexplained={len(found['unexplained'])} pending={len(found['pending'])}")
    sys.exit(1 if found["crashes"] or found["unexplained"] else 0)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        _worker(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
