"""GPU checks of the real adapter through ExecuTorch's real runtime, with
TensorRT's runtime replaced by the TensorRT runtime double (NOT TensorRT).

Run by run_all.sh inside a bundle made by tests/gpu/bundle.sh, with the
double first on LD_LIBRARY_PATH and the CUDA call counter preloaded.
Prints "PASS name" / "FAIL name: why" per check and, last,
"checks=N failed=M". ``--only a,b`` runs the named groups (for the
compute-sanitizer passes).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import re
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import torch

BUNDLE = Path(__file__).resolve().parent
PROGRAMS = BUNDLE / "programs"
DOUBLE = BUNDLE / "double" / "libnvinfer_lean.so.11"
RUNNER = BUNDLE / "site" / "executorch_tensorrt" / "bin" / "executorch-tensorrt-runner"
sys.path.insert(1, str(BUNDLE / "bench"))  # deferred_load (its targets); large_programs is in BUNDLE
CASES: Dict[str, Dict] = torch.load(PROGRAMS / "cases.pt")

from executorch_tensorrt.runtime import load  # noqa: E402
from executorch_tensorrt.runtime.program import DelegateError  # noqa: E402

RESULTS: List[str] = []


class Counters(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int64) for n in
                ("device_bytes_live", "device_allocations", "enqueues", "errors_logged", "streamed_bytes")]


class Double:
    """The double's own counters (the library the adapter loaded: same path, same handle)."""

    def __init__(self) -> None:
        self.lib = ctypes.CDLL(str(DOUBLE))
        self.lib.trt_double_memory_overlaps.restype = ctypes.c_int64
        self.lib.trt_double_identity.restype = ctypes.c_char_p
        self.lib.trt_double_refits.restype = ctypes.c_int64

    def counters(self) -> Counters:
        out = Counters()
        self.lib.trt_double_counters(ctypes.byref(out))
        return out

    def live(self) -> int:
        return self.counters().device_bytes_live

    def overlaps(self) -> int:
        return self.lib.trt_double_memory_overlaps()


class CallCounter:
    """CUDA runtime calls counted by the preloaded hook (cuda_call_counter.c)."""

    NAMES = ("mallocs", "frees", "h2d_copies", "d2h_copies", "h2d_bytes", "d2h_bytes")

    def __init__(self) -> None:
        self.lib = ctypes.CDLL(None)
        self.available = hasattr(self.lib, "cuda_call_counter_get")
        if self.available:
            self.lib.cuda_call_counter_get.restype = ctypes.c_int64

    def snapshot(self) -> Dict[str, int]:
        return {n: self.lib.cuda_call_counter_get(i) for i, n in enumerate(self.NAMES)} if self.available else {}

    @staticmethod
    def delta(before: Dict[str, int], after: Dict[str, int]) -> Dict[str, int]:
        return {k: after[k] - before[k] for k in after}


DOUBLE_LIB = Double()
CALLS = CallCounter()


def check(name: str) -> Callable[[Callable[[], Optional[str]]], Callable[[], None]]:
    """A check; what ``fn`` returns (figures, if any) follows its PASS line: "PASS name: figures"."""
    def wrap(fn: Callable[[], Optional[str]]) -> Callable[[], None]:
        def run() -> None:
            try:
                figures = fn()
                RESULTS.append(f"PASS {name}" + (f": {figures}" if figures else ""))
            except Exception as err:  # noqa: BLE001 - every failure is reported, the rest still run
                detail = f"{type(err).__name__}: {err}".replace("\n", " | ")[:600]
                RESULTS.append(f"FAIL {name}: {detail}")
                traceback.print_exc(file=sys.stderr)
            print(RESULTS[-1], flush=True)
        run.check_name = name  # type: ignore[attr-defined]
        return run
    return wrap


def close(actual: Sequence[torch.Tensor], expected: Sequence[torch.Tensor], what: str) -> None:
    assert len(actual) == len(expected), f"{what}: {len(actual)} outputs, expected {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        a = a.detach().to("cpu")
        assert a.shape == e.shape, f"{what}: output {i} shape {list(a.shape)}, expected {list(e.shape)}"
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4, msg=lambda m: f"{what}: output {i}: {m}")


def program(name: str) -> str:
    return str(PROGRAMS / f"{name}.pte")


def case(name: str):
    return CASES[name]["inputs"], CASES[name]["expected"]


def raises(fn: Callable[[], object], *patterns: str) -> str:
    try:
        fn()
    except (DelegateError, ValueError, TypeError, RuntimeError) as err:
        text = str(err)
        for p in patterns:
            assert re.search(p, text), f"message {text!r} lacks {p!r}"
        return text
    raise AssertionError(f"no error raised (expected {patterns})")


# ----------------------------------------------------------------- the double itself

@check("double-loaded-in-place-of-tensorrt")
def double_loaded() -> None:
    p = load(program("mlp"))
    maps = Path("/proc/self/maps").read_text()
    libs = {line.split()[-1] for line in maps.splitlines() if "libnvinfer" in line}
    assert libs == {str(DOUBLE)}, f"TensorRT libraries mapped: {libs}"
    assert b"not TensorRT" in DOUBLE_LIB.lib.trt_double_identity()
    del p


def contract_checks() -> None:
    binary = BUNDLE / "double" / "double_contract"
    result = subprocess.run([str(binary), "gpu"], capture_output=True, text=True, timeout=300)
    for line in result.stdout.splitlines():
        if line.startswith(("PASS ", "FAIL ")):
            RESULTS.append(line.replace(" ", " double-contract/", 1))
            print(RESULTS[-1], flush=True)
    if result.returncode != 0 and not any(r.startswith("FAIL double-contract") for r in RESULTS):
        RESULTS.append(f"FAIL double-contract: rc={result.returncode} {result.stderr[-300:]}")
        print(RESULTS[-1], flush=True)


# ----------------------------------------------------------------- C++ Module (the runner)

def run_runner(
    name: str, inputs: Sequence[torch.Tensor], *options: str, data_path: str = ""
) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as tmp:
        args = [str(RUNNER), "--model", program(name), "--verbose"] + (["--data-path", data_path] if data_path else [])
        for i, t in enumerate(inputs):
            path = Path(tmp) / f"in{i}.bin"
            path.write_bytes(t.contiguous().numpy().tobytes())
            args += ["--input", str(path)]
        for o in options:
            args += ["--backend-option", o]
        env = dict(os.environ)
        # A crash prints its native backtrace (no debugger on the GPU machine).
        env["LD_PRELOAD"] = " ".join(filter(None, [env.get("LD_PRELOAD"), str(BUNDLE / "double" / "libcrash_backtrace.so")]))
        return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)


def runner_outputs(stdout: str) -> List[torch.Tensor]:
    outputs = []
    for match in re.finditer(r"^output \d+: Float \[([\d, ]+)\] = ([^\n]*)$", stdout, re.M):
        shape = [int(d) for d in match.group(1).split(",")]
        outputs.append(torch.tensor([float(v) for v in match.group(2).split()]).reshape(shape))
    return outputs


def sanitizer_clean(result: subprocess.CompletedProcess) -> None:
    # Under compute-sanitizer the runner is a target too; its report is in
    # the output captured here, so it is checked here.
    text = result.stdout + result.stderr
    errors = [int(n) for n in re.findall(r"ERROR SUMMARY: (\d+) error", text)]
    assert sum(errors) == 0, "compute-sanitizer: " + " | ".join(l for l in text.splitlines() if "=====" in l)[:1500]


def runner_check(check_name: str, name: str, *options: str) -> Callable[[], None]:
    @check(check_name)
    def run() -> None:
        inputs, expected = CASES[name].get("runner") or case(name)
        result = run_runner(name, inputs, *options)
        sanitizer_clean(result)
        assert result.returncode == 0, f"rc={result.returncode}: {result.stderr[-1500:]}"
        close(runner_outputs(result.stdout), expected, name)
    return run


def runner_refusal(check_name: str, name: str, expected: str) -> Callable[[], None]:
    @check(check_name)
    def run() -> None:
        inputs, _ = case(name)
        result = run_runner(name, inputs)
        sanitizer_clean(result)
        assert result.returncode != 0 and expected in result.stderr, f"rc={result.returncode}: {result.stderr[-400:]}"
    return run


RUNNER_CHECKS = [
    runner_check("runner-module-mlp-eager", "mlp", "init_policy=eager"),
    runner_check("runner-module-mlp-deferred", "mlp", "init_policy=deferred"),
    runner_check("runner-module-mlp-deferred-context", "mlp", "init_policy=deferred_context"),
    runner_check("runner-module-load-time-budget", "mlp_budget", "weight_streaming_budget=4096"),
    runner_check("runner-module-two-engines-shared-memory", "chain"),
    runner_check("runner-module-batch-range-engines", "ranges"),
    runner_check("runner-module-device-planning-two-delegates", "two_delegates"),
    runner_check("runner-module-io16", "io16"),
    runner_refusal("runner-rtx-engine-refused", "rtx_mlp", "builder flavour mismatch"),
    runner_refusal("runner-device-7-refused", "device7", "targets CUDA device 7"),
    runner_refusal("runner-double-refuses-bytes-not-a-plan", "not_a_plan", "not a double plan"),
]


# ----------------------------------------------------------------- Python loader, host tensors

@check("python-host-mlp-every-profile")
def python_host() -> None:
    p = load(program("mlp"))
    for inputs, expected in CASES["mlp"]["batches"]:
        close(p.forward(*inputs), expected, f"batch {inputs[0].shape[0]}")


@check("init-policies-eager-deferred-deferred-context")
def init_policies() -> None:
    inputs, expected = case("mlp")
    seen = {}
    for policy in ("eager", "deferred", "deferred_context"):
        before = DOUBLE_LIB.live()
        p = load(program("mlp"), backend_options={"init_policy": policy})
        at_load = DOUBLE_LIB.live() - before
        state = p.delegate_states[0]["state"]
        close(p.forward(*inputs), expected, policy)
        after_run = DOUBLE_LIB.live() - before
        seen[policy] = (state, at_load, after_run)
        del p
    assert seen["eager"][1] > 0 and seen["eager"][0] == "device", seen
    assert seen["deferred"][1] == 0 and seen["deferred"][0] == "host", seen
    # deferred_context: the engine (its resident weights) at load, the context later.
    assert seen["deferred_context"][0] == "deserialized" and 0 < seen["deferred_context"][1], seen
    assert seen["deferred"][2] == seen["eager"][2] == seen["deferred_context"][2], seen


@check("budget-precedence-load-time-over-baked-over-automatic")
def budget_precedence() -> None:
    inputs, expected = case("mlp")
    rows = [("mlp", {}, "automatic"), ("mlp_budget", {}, "baked"),
            ("mlp_budget", {"weight_streaming_budget": 4096}, "load-time")]
    got = []
    for name, options, _ in rows:
        p = load(program(name), backend_options=options)
        close(p.forward(*inputs), expected, name)
        got.append((p.get_option("weight_streaming_budget")["weight_streaming_budget"],
                    p.get_option("weight_streaming_budget_source")["weight_streaming_budget_source"]))
        del p
    automatic, baked, load_time = got
    assert baked[0] == "300000" and load_time[0] == "4096", got
    assert int(automatic[0]) not in (300000, 4096), got
    assert len({source for _, source in got}) == 3, got
    print(f"    (budget, source): {got}", flush=True)


@check("set-option-budget-between-runs")
def budget_set_option() -> None:
    inputs, expected = case("mlp")
    p = load(program("mlp"))
    close(p.forward(*inputs), expected, "before")
    streamed = DOUBLE_LIB.counters().streamed_bytes
    p.set_option(weight_streaming_budget=0)
    close(p.forward(*inputs), expected, "budget 0")
    assert DOUBLE_LIB.counters().streamed_bytes > streamed, "budget 0 streamed no weights"
    assert p.get_option("weight_streaming_budget")["weight_streaming_budget"] == "0"
    p.set_option(weight_streaming_budget=8192)
    close(p.forward(*inputs), expected, "budget 8192")


@check("bad-budget-refused-by-double-process-keeps-working")
def budget_refused() -> None:
    inputs, expected = case("mlp_huge")
    p = load(program("mlp_huge"))  # deferred: the budget is applied at the first call
    # 400 GiB of streamable weights: the automatic budget (half) cannot be allocated.
    message = raises(lambda: p.forward(*inputs), r"refused weight_streaming_budget", r"out of device memory")
    print(f"    {message[:300]}", flush=True)
    p.set_option(weight_streaming_budget=1 << 20)
    close(p.forward(*inputs), expected, "after a budget the double accepts")
    other = load(program("mlp"))
    close(other.forward(*case("mlp")[0]), case("mlp")[1], "another program after the refusal")


@check("offload-and-restore")
def offload() -> None:
    inputs, expected = case("mlp")
    before = DOUBLE_LIB.live()
    p = load(program("mlp"))
    close(p.forward(*inputs), expected, "first")
    held = DOUBLE_LIB.live() - before
    p.offload()
    released = DOUBLE_LIB.live() - before
    close(p.forward(*inputs), expected, "after offload")
    assert held > 0 and released == 0 and DOUBLE_LIB.live() - before == held, (held, released)


@check("dropped-program-frees-device-memory")
def dropped_program() -> None:
    inputs, expected = case("mlp")
    gc.collect()
    before = DOUBLE_LIB.live(), CALLS.snapshot()
    p = load(program("mlp"))
    close(p.forward(*inputs), expected, "mlp")
    held = DOUBLE_LIB.live() - before[0]
    del p
    gc.collect()
    after = DOUBLE_LIB.live() - before[0]
    calls = CALLS.delta(before[1], CALLS.snapshot())
    assert held > 0 and after == 0 and calls["mallocs"] == calls["frees"], (held, after, calls)


@check("shared-execution-memory-across-engines")
def shared_engines() -> None:
    inputs, expected = case("chain")
    p = load(program("chain"))
    close(p.forward(*inputs), expected, "chain")
    states = p.delegate_states
    pools = {s["pool"]["id"] for s in states if s["pool"]}
    needs = [s["execution_memory_bytes"] for s in states]
    assert len(states) == 2 and len(pools) == 1, states
    assert max(needs) <= states[0]["pool"]["bytes"] < sum(needs), (states[0]["pool"], needs)


@check("shared-execution-memory-across-programs-two-threads")
def shared_programs() -> None:
    inputs, expected = case("chain_slow")
    programs = [load(program("chain_slow"), backend_options={"execution_memory": "process"}) for _ in range(2)]
    overlaps = DOUBLE_LIB.overlaps()
    wrong: List[str] = []

    def work(p) -> None:  # type: ignore[no-untyped-def]
        for _ in range(10):
            try:
                close(p.forward(*inputs), expected, "thread")
            except Exception as err:  # noqa: BLE001 - counted and reported below
                wrong.append(f"{type(err).__name__}: {err}")

    threads = [threading.Thread(target=work, args=(p,)) for p in programs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pools = {s["pool"]["id"] for p in programs for s in p.delegate_states}
    assert not wrong and DOUBLE_LIB.overlaps() == overlaps, (wrong[:2], DOUBLE_LIB.overlaps() - overlaps)
    assert len(pools) == 1, pools


def run_threads(count: int, body: Callable[[int], None]) -> List[str]:
    """body(i) on `count` threads; the failures, as text."""
    wrong: List[str] = []

    def work(index: int) -> None:
        try:
            body(index)
        except Exception as err:  # noqa: BLE001 - counted and reported by the caller
            wrong.append(f"{type(err).__name__}: {err}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads), "a thread did not finish in 300 s (deadlock?)"
    return wrong


@check("execution-contexts-four-threads-one-engine")
def execution_contexts() -> None:
    """execution_contexts=4: four method instances share one deserialized
    engine of the double with four execution contexts (each its own stream
    and, under shared execution memory, its own pool); four threads call at
    once and every output is right. The streaming program: the budget is the
    engine's, the streamed weights each context's scratch."""
    for name in ("mlp", "chain_slow"):
        inputs, expected = case(name)
        # eager: every lane's context exists from load (under deferred, a lane no call reached has none).
        p = load(program(name), backend_options={"execution_contexts": 4, "init_policy": "eager"})
        overlaps = DOUBLE_LIB.overlaps()
        wrong = run_threads(4, lambda t: [close(p.forward(*inputs), expected, f"{name} thread {t}") for _ in range(20)])
        assert not wrong, wrong[:2]
        assert DOUBLE_LIB.overlaps() == overlaps, f"{DOUBLE_LIB.overlaps() - overlaps} runs shared execution memory"
        for state in p.delegate_states:
            assert state["execution_contexts"] == 4 and state["contexts_created"] == 4, state
            ids = [pool["id"] for pool in state["lane_pools"]]
            assert len(set(ids)) == len(ids) == 4, state["lane_pools"]
            # Method instance i runs on lane i: its pool never waits for another instance.
            assert all(pool["waits"] == 0 for pool in state["lane_pools"]), state["lane_pools"]
            assert 1 <= state["contexts_in_use_peak"] <= 4, state
        del p
        gc.collect()


@check("two-methods-share-one-engines-weights")
def two_methods() -> None:
    """The same partition in two methods: one deserialized engine of the
    double, its weights on the GPU once, a context per method's delegate,
    both methods right, one execution-memory pool for the program."""
    cases = CASES["two_methods"]
    p = load(program("two_methods"))
    for method in ("prefill", "decode"):
        close(p.run(method, cases["inputs"][method]), cases["expected"][method], method)
    states = p.delegate_states
    assert sorted(s["engines_shared"] for s in states) == [0, 1], states
    owner = next(s for s in states if s["engines_shared"] == 0)
    sharer = next(s for s in states if s["engines_shared"] == 1)
    # The sharer holds only its context; the weights are the owner's.
    assert sharer["device_bytes"] < owner["device_bytes"], (owner, sharer)
    pools = {s["pool"]["id"] for s in states if s["pool"]}
    assert len(pools) == 1, states
    del p
    gc.collect()


@check("batch-range-engines")
def batch_ranges() -> None:
    p = load(program("ranges"))
    for inputs, expected in CASES["ranges"]["batches"]:
        close(p.forward(*inputs), expected, f"batch {inputs[0].shape[0]}")
    engines = {b["batch"]: b["engine"] for b in p.delegate_states[0]["batches_served"]}
    assert engines[8] != engines[9] and engines[1] == engines[8] and engines[9] == engines[32], engines


@check("device-planning-only-method-io-crosses-host")
def device_planning() -> None:
    inputs, expected = case("two_delegates")
    assert CALLS.available, "CUDA call counter not preloaded"
    host = load(program("two_delegates_host"))
    planned = load(program("two_delegates"))
    for p in (host, planned):
        close(p.forward(*inputs), expected, "warm-up")
    before = CALLS.snapshot()
    close(planned.forward(*inputs), expected, "planned")
    moved = CALLS.delta(before, CALLS.snapshot())
    before = CALLS.snapshot()
    close(host.forward(*inputs), expected, "host")
    control = CALLS.delta(before, CALLS.snapshot())
    io_in = sum(t.nbytes for t in inputs)
    out_bytes = expected[0].nbytes
    assert moved["h2d_bytes"] == io_in and moved["d2h_bytes"] == out_bytes, moved
    assert control["h2d_bytes"] > io_in and control["d2h_bytes"] > out_bytes, control
    print(f"    planned: {moved}; without planning: {control}", flush=True)


# ----------------------------------------------------------------- Python loader, torch CUDA tensors

@check("python-device-io-cuda-tensors")
def device_io() -> None:
    inputs, expected = case("mlp_device")
    p = load(program("mlp_device"), device="cuda")
    cuda_inputs = [t.cuda() for t in inputs]
    outputs = p.forward(*cuda_inputs)
    assert all(o.is_cuda for o in outputs)
    close(outputs, expected, "device io")
    before = CALLS.snapshot()
    outputs = p.forward(*cuda_inputs)
    moved = CALLS.delta(before, CALLS.snapshot())
    close(outputs, expected, "device io again")
    assert moved.get("h2d_copies", 0) == 0 and moved.get("d2h_copies", 0) == 0, moved
    close(p.forward(*inputs), expected, "CPU inputs moved to the device")


@check("python-device-io-reuse-outputs-no-allocation")
def reuse_outputs() -> None:
    inputs, expected = case("mlp_device")
    p = load(program("mlp_device"), device="cuda", reuse_outputs=True)
    cuda_inputs = [t.cuda() for t in inputs]
    first = p.forward(*cuda_inputs)
    pointers = [o.data_ptr() for o in first]
    close(first, expected, "first")
    before = CALLS.snapshot()
    for _ in range(20):
        out = p.forward(*cuda_inputs)
    moved = CALLS.delta(before, CALLS.snapshot())
    assert [o.data_ptr() for o in out] == pointers
    close(out, expected, "reused")
    assert moved["mallocs"] == 0 and moved["frees"] == 0, moved


@check("python-device-io-batches")
def device_io_batches() -> None:
    p = load(program("mlp_device"), device="cuda")
    for inputs, expected in CASES["mlp"]["batches"]:
        close(p.forward(*[t.cuda() for t in inputs]), expected, f"batch {inputs[0].shape[0]}")


# ----------------------------------------------------------------- streams, graphs, pinned staging

UNDER_SANITIZER = os.environ.get("GPU_RIG_SANITIZER") == "1"  # compute-sanitizer may serialize launches


def counter(p, name: str) -> int:  # type: ignore[no-untyped-def]
    return sum(s["counters"][name] for s in p.delegate_states)


@check("python-device-io-callers-stream-returns-before-the-gpu")
def callers_stream() -> None:
    inputs, expected = case("scale_device_slow")
    p = load(program("scale_device_slow"), device="cuda")
    cuda_inputs = [t.cuda() for t in inputs]
    close(p.forward(*cuda_inputs), expected, "torch's current stream")
    waits = counter(p, "host_waits")
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        torch.cuda._sleep(50_000_000)  # the inputs below are written only after this
        late = [t * 1.0 for t in cuda_inputs]
        out = p.forward(*late)
        busy = not side.query()
    side.synchronize()
    close(out, expected, "side stream, inputs written late in its order")
    assert busy or UNDER_SANITIZER, "forward() returned only after the GPU had finished"
    assert counter(p, "host_waits") == waits == 0, (waits, counter(p, "host_waits"))
    out = p.run("forward", cuda_inputs, stream=side)
    side.synchronize()
    close(out, expected, "stream= argument")


@check("cuda-graphs-replay-device-io")
def graphs_device_io() -> None:
    inputs, _ = case("io16_device")
    p = load(program("io16_device"), device="cuda", reuse_outputs=True, backend_options={"cuda_graphs": True})
    xs = [t.cuda() for t in inputs]
    for call in range(6):
        values = [torch.randn_like(t) for t in inputs]
        for x, v in zip(xs, values):
            x.copy_(v)
        close(p.forward(*xs), [v * 2.0 + 1.0 for v in values], f"call {call}")
    assert (counter(p, "cuda_graph_captures"), counter(p, "cuda_graph_replays")) == (1, 5), p.delegate_states[0]
    assert p.get_option("cuda_graph_status") == {"cuda_graph_status": "ok"}
    assert counter(p, "host_waits") == 0


@check("cuda-graphs-shared-memory-offload-and-streaming-refused")
def graphs_lifecycle() -> None:
    inputs, expected = case("chain")
    p = load(program("chain"), backend_options={"cuda_graphs": True})
    # Deferred engines: the second joins the shared pool at the first call and
    # grows it, so the first delegate's key settles from the second call on.
    for call in range(6):
        close(p.forward(*inputs), expected, f"chain call {call}")
    replays = [s["counters"]["cuda_graph_replays"] for s in p.delegate_states]
    assert counter(p, "cuda_graph_captures") == 2 and min(replays) >= 3, p.delegate_states
    p.offload()
    for call in range(4):
        close(p.forward(*inputs), expected, f"after offload, call {call}")
    assert counter(p, "cuda_graph_captures") == 4, p.delegate_states
    m_inputs, m_expected = case("mlp")
    m = load(program("mlp"), backend_options={"cuda_graphs": True, "weight_streaming_budget": "4096"})
    for call in range(3):
        close(m.forward(*m_inputs), m_expected, f"streaming engine, call {call}")
    status = m.get_option("cuda_graph_status")["cuda_graph_status"]
    assert "weights stream" in status and counter(m, "cuda_graph_replays") == 0, status


@check("pinned-staging-one-copy-each-way")
def pinned_staging() -> None:
    inputs, expected = case("io16")
    assert CALLS.available, "CUDA call counter not preloaded"
    for staging, copies in (("pinned", 1), ("pageable", len(inputs))):
        p = load(program("io16"), backend_options={"host_staging": staging})
        close(p.forward(*inputs), expected, staging)
        before = CALLS.snapshot()
        for _ in range(3):
            close(p.forward(*inputs), expected, staging)
        moved = CALLS.delta(before, CALLS.snapshot())
        assert moved["h2d_copies"] == 3 * copies and moved["d2h_copies"] == 3 * copies, (staging, moved)
        assert moved["mallocs"] == 0, (staging, moved)
        assert (counter(p, "pinned_bytes") > 0) == (staging == "pinned"), p.delegate_states[0]["counters"]


@check("shared-execution-memory-two-streams-without-host-waits")
def shared_memory_two_streams() -> None:
    inputs, expected = case("scale_device_slow")
    programs = [load(program("scale_device_slow"), device="cuda", backend_options={"execution_memory": "process"})
                for _ in range(2)]
    streams = [torch.cuda.Stream() for _ in programs]
    xs = [t.cuda() for t in inputs]
    torch.cuda.synchronize()
    overlaps = DOUBLE_LIB.overlaps()
    outputs = []
    for _ in range(6):
        for p, s in zip(programs, streams):
            with torch.cuda.stream(s):
                outputs.append(p.forward(*xs))
    torch.cuda.synchronize()
    for out in outputs:
        close(out, expected, "two streams")
    pools = {s["pool"]["id"] for p in programs for s in p.delegate_states}
    assert len(pools) == 1, pools
    assert DOUBLE_LIB.overlaps() == overlaps, DOUBLE_LIB.overlaps() - overlaps
    assert all(counter(p, "host_waits") == 0 for p in programs)


# ----------------------------------------------------------------- bad input on the GPU path

@check("bad-wrong-device-and-path")
def bad_device() -> None:
    inputs, expected = case("mlp_device")
    host_program = load(program("mlp"), device="cuda")
    # A host-I/O program on device="cuda": refused (today by the double's
    # alignment check on the address the delegate binds; see the README).
    print("    " + raises(lambda: host_program.forward(*[t.cuda() for t in inputs]), r".")[:300], flush=True)
    device_program = load(program("mlp_device"))
    # Regression: host tensors given to a device_io program reached TensorRT
    # as device addresses (the double refused them only as misaligned).
    raises(lambda: device_program.forward(*inputs), r"is not memory of CUDA device 0", r'device="cuda"')
    good = load(program("mlp_device"), device="cuda")
    close(good.forward(*[t.cuda() for t in inputs]), expected, "after the refusals")


@check("bad-dtype-and-shape")
def bad_dtype_shape() -> None:
    inputs, expected = case("mlp")
    p = load(program("mlp"))
    raises(lambda: p.forward(inputs[0].double(), inputs[1]), r"dtype|float")
    raises(lambda: p.forward(torch.zeros(33, 16), torch.zeros(33, 16)), r"33|shape|range")
    raises(lambda: p.forward(torch.zeros(4, 15), torch.zeros(4, 15)), r"15|shape")
    d = load(program("mlp_device"), device="cuda")
    raises(lambda: d.forward(inputs[0].double().cuda(), inputs[1].cuda()), r"dtype|float")
    raises(lambda: d.forward(torch.zeros(33, 16, device="cuda"), torch.zeros(33, 16, device="cuda")), r"33|shape|range")
    close(p.forward(*inputs), expected, "after the refusals")


@check("python-data-dependent-nonzero-sized-after-the-run")
def data_dependent_host() -> None:
    # The adapter's IOutputAllocator gives the double the planned memory and
    # reads back the count it notifies; the output is resized to it.
    p = load(program("nonzero"))
    for inputs, expected in CASES["nonzero"]["counts"] + CASES["nonzero"]["counts"][::-1]:
        (indices,) = p.forward(*inputs)
        assert torch.equal(indices, expected[0]), (indices, expected[0])
    bounded = load(program("nonzero_bounded"))
    over = CASES["nonzero_bounded"]["over"]
    raises(lambda: bounded.forward(*over), r"output 'output_0'", r"at most \[5, 2\]", r"torch\._check")
    inputs, expected = case("nonzero_bounded")
    (indices,) = bounded.forward(*inputs)
    assert torch.equal(indices, expected[0]), "after the refusal"


@check("python-data-dependent-nonzero-device-io")
def data_dependent_device() -> None:
    p = load(program("nonzero_device"), device="cuda")
    for inputs, expected in CASES["nonzero"]["counts"]:
        (indices,) = p.forward(*[t.cuda() for t in inputs])
        assert indices.is_cuda and torch.equal(indices.cpu(), expected[0]), (indices, expected[0])


@check("bad-out-of-device-memory-then-recovers")
def out_of_memory() -> None:
    inputs, expected = case("mlp_big")
    p = load(program("mlp_big"), load_methods=False)
    hog: List[torch.Tensor] = []
    for size in (1 << 30, 1 << 26, 1 << 21):
        while True:
            try:
                hog.append(torch.empty(size, dtype=torch.uint8, device="cuda"))
            except torch.OutOfMemoryError:
                break
    message = raises(lambda: p.forward(*inputs), r"memory")
    print(f"    with {sum(t.numel() for t in hog) >> 20} MiB held by torch: {message[:200]}", flush=True)
    # Regression: the adapter's failed cudaMalloc left CUDA's last error set,
    # so the next library to check it (torch after a kernel, the double
    # after its launches) failed with "out of memory".
    hog.pop()
    assert (torch.ones(8, device="cuda") * 2).sum().item() == 16.0
    hog.clear()
    torch.cuda.empty_cache()
    close(p.forward(*inputs), expected, "after memory came back")


# ----------------------------------------------------------------- owned state

def _state_steps(p, name: str) -> None:  # type: ignore[no-untyped-def]
    steps, expected = case(name)
    close(p.forward(steps[0]), expected[0], f"{name} step 0")  # allocates and fills the state
    before = CALLS.snapshot()
    for index in range(1, len(steps)):
        close(p.forward(steps[index]), expected[index], f"{name} step {index}")
    copies = CallCounter.delta(before, CALLS.snapshot()) if CALLS.available else {}
    # Each step stages x in and the output out (one pinned copy each way); the state never crosses.
    if copies:
        assert copies["h2d_copies"] == len(steps) - 1 and copies["d2h_copies"] == len(steps) - 1, copies
    counters = p.delegate_states[0]["counters"]
    assert counters["state_host_copies"] == 1 and counters["state_device_updates"] == len(steps), counters
    close([p.read_state("cache")], [CASES[name]["cache"]], f"{name} read_state")


@check("state-in-place-aliased-output")
def state_aliased() -> None:
    _state_steps(load(program("state_aliased")), "state_aliased")


@check("state-device-to-device-update")
def state_copy() -> None:
    _state_steps(load(program("state_copy")), "state_copy")


@check("state-kept-across-offload-reset-and-refused-names")
def state_offload_reset() -> None:
    steps, expected = case("state_aliased")
    p = load(program("state_aliased"))
    close(p.forward(steps[0]), expected[0], "step 0")
    p.offload()
    close(p.forward(steps[1]), expected[1], "step 1 after offload")  # the state outlived the engine
    p.reset_state()
    close(p.forward(steps[0]), expected[0], "step 0 after reset")
    raises(lambda: p.read_state("kv"), r"known buffers: cache")


@check("state-shared-by-two-methods")
def state_methods() -> None:
    (x,), expected = case("state_methods")
    p = load(program("state_methods"))
    for method, outputs in expected:
        close(p.run(method, [x]), outputs, method)
    close([p.read_state("cache")], [CASES["state_methods"]["cache"]], "read_state")


@check("state-decoder-prefill-and-decode-share-one-engine-and-the-cache")
def state_decoder() -> None:
    """prefill then decode steps of one program: one deserialized engine (its
    weights on the device once) for both methods, the cache updated on the
    device only (each step stages x in and the output out, nothing else)."""
    steps, expected = case("state_decoder")
    p = load(program("state_decoder"))
    close(p.run("prefill", [steps[0]]), expected[0], "prefill")  # allocates and fills the cache
    # decode's first call makes its own staging buffer (one allocation, zeroed by a copy); later steps copy x in
    # and the output out, never the cache.
    close(p.run("decode", [steps[1]]), expected[1], "decode step 1")
    before = CALLS.snapshot()
    for index in range(2, len(steps)):
        close(p.run("decode", [steps[index]]), expected[index], f"decode step {index}")
    copies = CallCounter.delta(before, CALLS.snapshot()) if CALLS.available else {}
    if copies:
        counted = len(steps) - 2
        assert copies["h2d_copies"] == counted and copies["d2h_copies"] == counted and copies["mallocs"] == 0, copies
    reports = p.delegate_states
    assert sorted(r["engines_shared"] for r in reports) == [0, 1], [r["engines_shared"] for r in reports]
    decode = next(r for r in reports if r["counters"]["executes"] == len(steps) - 1)
    assert decode["counters"]["state_host_copies"] == 0, decode["counters"]
    assert decode["counters"]["state_device_updates"] == len(steps) - 1, decode["counters"]
    close([p.read_state("cache")], [CASES["state_decoder"]["cache"]], "read_state")


# ----------------------------------------------------------------- external weights (refit)

def ptd(name: str) -> str:
    return str(PROGRAMS / f"{name}.ptd")


@check("external-weights-refit-through-the-adapter")
def external_weights() -> None:
    """A weight-stripped plan, its weights in the .ptd: the adapter's IRefitter
    (createInferRefitter, setNamedWeights, refitCudaEngine) uploads them; the
    double refuses to run the plan unrefitted."""
    inputs, expected = case("ext_mlp")
    refits = DOUBLE_LIB.lib.trt_double_refits()
    p = load(program("ext_mlp"), data_path=ptd("ext_mlp"))
    close(p.forward(*inputs), expected, "refitted from the .ptd")
    (state,) = p.delegate_states
    assert (state["refitted_weights"], state["refitted_weight_bytes"]) == (2, (16 * 8 + 8) * 4), state
    p.offload()
    close(p.forward(*inputs), expected, "after offload (refitted again)")
    assert DOUBLE_LIB.lib.trt_double_refits() == refits + 2
    scaled = load(program("ext_mlp"), data_path=ptd("ext_mlp_scaled"))
    close(scaled.forward(*inputs), CASES["ext_mlp"]["scaled"], "a .ptd with w0 doubled")
    raises(lambda: load(program("ext_mlp"), data_path=ptd("ext_mlp_shape")), r'"w0".*float32 \[8, 16\].*float32 \[16, 8\]')
    raises(lambda: load(program("ext_mlp")), r'"w0".*loaded without named data')
    result = run_runner("ext_mlp", inputs, data_path=ptd("ext_mlp"))
    sanitizer_clean(result)
    assert result.returncode == 0, f"rc={result.returncode}: {result.stderr[-1500:]}"
    close(runner_outputs(result.stdout), expected, "runner --data-path")


@check("external-weights-as-engine-inputs-stay-on-the-device")
def weights_as_inputs() -> None:
    """Weights the engine reads as inputs (a builder without refittable plans,
    as TensorRT-RTX on a CPU): uploaded once from the .ptd, bound by address
    on every call (each step copies x in and the output out, nothing else),
    kept across an offload; a changed .ptd is followed, a reshaped one refused."""
    steps, expected = case("weights_inputs")
    p = load(program("weights_inputs"), data_path=ptd("weights_inputs"))
    close(p.forward(steps[0]), expected[0], "step 0")  # uploads the weights
    before = CALLS.snapshot()
    for index in range(1, len(steps)):
        close(p.forward(steps[index]), expected[index], f"step {index}")
    copies = CallCounter.delta(before, CALLS.snapshot()) if CALLS.available else {}
    if copies:
        counted = len(steps) - 1
        assert copies["h2d_copies"] == counted and copies["d2h_copies"] == counted and copies["mallocs"] == 0, copies
    (state,) = p.delegate_states
    assert state["state_bytes"] == 2 * 4 * 16 * 4 and state["refitted_weights"] == 0, state
    assert p.state_buffers == [], p.state_buffers
    p.offload()
    close(p.forward(steps[1]), expected[1], "after offload")
    scaled = load(program("weights_inputs"), data_path=ptd("weights_inputs_scaled"))
    close(scaled.forward(steps[0]), CASES["weights_inputs"]["scaled"], "a .ptd with scale doubled")
    raises(lambda: load(program("weights_inputs"), data_path=ptd("weights_inputs_shape")),
           r"weight 'scale'", r"float32 \[16, 4\]", r"float32 \[4, 16\]")
    raises(lambda: load(program("weights_inputs")), r"weight 'scale'", r"data_path=")


# ----------------------------------------------------------------- programs past 2 GiB and 4 GiB

DEFERRED = {"init_policy": "deferred"}


def brief(state: Dict) -> Dict:
    """What a failure of the large-program checks needs of a delegate state."""
    return {k: state.get(k) for k in ("state", "host_bytes", "device_bytes", "init_ms", "initializations")}


def large_program_check(check_name: str, engine_bytes: int) -> Callable[[], None]:
    """large_mlp (one double plan closed by an `end` line) grown here to a
    sparse file whose engine is ``engine_bytes`` (tests/large_programs.py, every
    size rewritten; a few KiB on disk): loaded deferred within the targets of
    bench/deferred_load.py, the delegate holds it on the host, then the first
    call deserializes it (the double reads the plan up to `end` only) and
    computes, and offload keeps the plan serialize() gives back (up to `end`)."""

    @check(check_name)
    def run() -> str:
        from deferred_load import TARGET_INIT_MS, TARGET_RSS_FRACTION, measure_once
        from large_programs import enlarge_engine, is_sparse

        inputs, expected = case("large_mlp")
        small = Path(program("large_mlp"))
        # The first load in a process costs more whatever the size (and
        # --only large starts here): one load and call first.
        warm = load(small, backend_options=DEFERRED)
        plan_bytes = warm.delegate_states[0]["host_bytes"]  # the plan through its `end` line
        close(warm.forward(*inputs), expected, "the small program")
        del warm
        with tempfile.TemporaryDirectory(prefix="gpu_checks_large_") as tmp:
            path = enlarge_engine(small, Path(tmp) / "large.pte", engine_bytes)
            info = path.stat()
            assert is_sparse(path), f"{tmp} keeps no sparse files: {info.st_blocks * 512} bytes on disk for {info.st_size}"
            reference = measure_once(small, DEFERRED)
            figures = measure_once(path, DEFERRED)  # asserts every delegate is "host", policy deferred
            fraction = figures["rss_growth_bytes"] / figures["file_bytes"]
            summary = (
                f"{info.st_size:,}-byte file ({info.st_size / 2**30:.2f} GiB, {info.st_blocks * 512} on disk): "
                f"load+init {figures['load_ms']:.2f} ms (target < {TARGET_INIT_MS:g}), resident "
                f"+{figures['rss_growth_bytes'] / 2**20:.1f} MiB = rss_fraction {fraction:.5f} (target < {TARGET_RSS_FRACTION:g}); "
                f"the {reference['file_bytes']}-byte program before it grew: {reference['load_ms']:.2f} ms, "
                f"+{reference['rss_growth_bytes'] / 2**20:.1f} MiB"
            )
            print(f"    {summary}", flush=True)
            assert figures["load_ms"] < TARGET_INIT_MS and fraction < TARGET_RSS_FRACTION, summary
            gc.collect()
            live = DOUBLE_LIB.live()
            p = load(path, backend_options=DEFERRED)
            (state,) = p.delegate_states
            assert (state["state"], state["host_bytes"]) == ("host", engine_bytes), f"after load: {brief(state)}"
            assert DOUBLE_LIB.live() == live, f"device bytes at a deferred load: {DOUBLE_LIB.live() - live}"
            close(p.forward(*inputs), expected, "the large program")
            (state,) = p.delegate_states
            first_init_ms = state["init_ms"]
            assert state["state"] == "device" and state["host_bytes"] == 0, f"after the first call: {brief(state)}"
            held = DOUBLE_LIB.live() - live
            assert held > 0, f"the double holds no device memory for the large program: {brief(state)}"
            p.offload()
            (state,) = p.delegate_states
            # The double's serialize(): the plan through its `end` line, not the hole.
            assert (state["state"], state["host_bytes"]) == ("host", plan_bytes), f"after offload: {brief(state)}, plan {plan_bytes} bytes"
            assert DOUBLE_LIB.live() == live, f"device bytes after offload: {DOUBLE_LIB.live() - live} of {held}"
            close(p.forward(*inputs), expected, "the large program after offload")
            offloaded = state["host_bytes"]
            del p
        return f"{summary}; first call's init {first_init_ms:.2f} ms; offloaded to {offloaded} host bytes"

    return run


LARGE_CHECKS = [
    large_program_check("large-program-past-2-gib-deferred-runs-and-offloads", 2**31 + 4097),
    large_program_check("large-program-past-4-gib-deferred-runs-and-offloads", 2**32 + 4097),
]


CHECK_GROUPS: Dict[str, List[Callable[[], None]]] = {
    "double": [double_loaded, contract_checks],
    "runner": RUNNER_CHECKS,
    "python_host": [python_host, init_policies, budget_precedence, budget_set_option, budget_refused, offload, dropped_program,
                    shared_engines, shared_programs, execution_contexts, batch_ranges, device_planning, pinned_staging,
                    graphs_lifecycle, state_aliased, state_copy, state_offload_reset, state_methods, state_decoder,
                    data_dependent_host, external_weights, weights_as_inputs, two_methods],
    "python_device": [device_io, reuse_outputs, device_io_batches, callers_stream, graphs_device_io,
                      shared_memory_two_streams, data_dependent_device],
    "bad_input": [bad_device, bad_dtype_shape, out_of_memory],
    # Under compute-sanitizer: without filling the GPU (the tools hold device memory of their own).
    "bad_input_sanitized": [bad_device, bad_dtype_shape],
    # File sizes and host memory, no new GPU path: the plain run only (run_all.sh's sanitizer passes name their groups).
    "large": LARGE_CHECKS,
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="double,runner,python_host,python_device,bad_input,large")
    args = parser.parse_args()
    print(f"device: {torch.cuda.get_device_name(0)}; TensorRT replaced by: {DOUBLE_LIB.lib.trt_double_identity().decode()}")
    for group in args.only.split(","):
        for fn in CHECK_GROUPS[group]:
            fn()
    # torch keeps freed CUDA memory cached until exit, where memcheck's leak
    # check would count it; hand it back first.
    torch.cuda.empty_cache()
    failed = sum(r.startswith("FAIL") for r in RESULTS)
    # The process kept working through every refusal above.
    print(f"checks={len(RESULTS)} failed={failed}", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
