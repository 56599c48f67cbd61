"""Benchmark: gradcheck_kit.diagnose against torch.autograd.gradcheck on the same numpy MLPs, same run.

    python -m pip install ".[torch]" && python benchmarks/run.py            # full run (~15 min)
    python benchmarks/run.py --quick                                        # small/medium only (~1 min)
    python benchmarks/run.py --parts scaling,scale                          # 10^3..10^7, and 10^8 (~15 min)

Both tools evaluate the *same* numpy forward and backward: torch through a custom autograd.Function that
calls them. BLAS is pinned to one thread (and torch to one thread), so times are per core. Every torch
evaluation is counted; where a torch run would take minutes (slow mode, or fast mode's recomputation of
the whole Jacobian after a failure, on the big MLP) its time is extrapolated from its counted
evaluations times the measured cost of one evaluation, and marked so. Results print as a table and are
written to benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from networks import MLP, SIZES, batch, n_params
from scaling import SCALING_SIZES, scale_row, scaling_row

import gradcheck_kit as gk
from gradcheck_kit.numeric.blas import blas_threads, pin_blas_threads

BUGS = {None: None, "batch-sum": "missing-batch-average", "doubled-softmax": "doubled-softmax-derivative"}


def median_time(fn: Any, repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def unit_costs(sizes: tuple[int, ...], repeats: int) -> tuple[float, float]:
    """Seconds for one forward (loss) and one forward+backward of the numpy MLP."""
    model, (X, y) = MLP(sizes), batch(sizes)
    n = 50 if n_params(sizes) > 1e5 else 500
    fwd, _ = median_time(lambda: [model.loss(X, y) for _ in range(n)], repeats)
    fb, _ = median_time(lambda: [(model.loss(X, y), model.backward(X, y)) for _ in range(n)], repeats)
    return fwd / n, fb / n


def run_diagnose(sizes: tuple[int, ...], bug: str | None, repeats: int, **options: Any) -> dict[str, Any]:
    model, data = MLP(sizes, bug=bug), batch(sizes)
    gk.diagnose(model, data, progress=False, **options)  # warm-up: imports
    seconds, report = median_time(lambda: gk.diagnose(model, data, progress=False, **options), repeats)
    expected = BUGS[bug]
    output_layer = str(len(sizes) - 1)
    if expected is None:
        named = report.ok
    else:
        named = any(f.code == expected and f.layer == output_layer for f in report.findings)
    return {"seconds": seconds, "evaluations": sum(report.calls.values()), "calls": report.calls,
            "codes": report.codes(), "named": named}


def torch_function(sizes: tuple[int, ...], bug: str | None, counter: dict[str, int]) -> tuple[Any, Any]:
    import torch

    model, (X, y) = MLP(sizes, bug=bug), batch(sizes)
    names = list(model.params)
    shapes = [model.params[k].shape for k in names]
    bounds = np.cumsum([0] + [int(np.prod(s)) for s in shapes])

    def load(theta: np.ndarray) -> None:
        for k, s, a, b in zip(names, shapes, bounds[:-1], bounds[1:]):
            model.params[k] = theta[a:b].reshape(s)

    class Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, theta: Any) -> Any:
            counter["forward"] += 1
            ctx.save_for_backward(theta)
            load(theta.detach().numpy())
            return torch.tensor(model.loss(X, y), dtype=torch.float64)

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            counter["backward"] += 1
            (theta,) = ctx.saved_tensors
            load(theta.detach().numpy())
            g = model.backward(X, y)
            return grad * torch.from_numpy(np.concatenate([g[k].reshape(-1) for k in names]))

    theta0 = torch.from_numpy(np.concatenate([model.params[k].reshape(-1) for k in names]).copy()).requires_grad_(True)
    return Loss.apply, theta0


def run_torch(sizes: tuple[int, ...], bug: str | None, fast: bool, *, execute: bool, per_eval: float) -> dict[str, Any]:
    """torch.autograd.gradcheck; when not ``execute``, its evaluations are counted from the rule it
    follows (2 per input entry for the Jacobian, plus the fast-mode projections) and timed by ``per_eval``."""
    import torch

    counter = {"forward": 0, "backward": 0}
    fn, theta = torch_function(sizes, bug, counter)
    N = n_params(sizes)
    if execute:
        torch.autograd.gradcheck(fn, (theta,), fast_mode=True, raise_exception=False)  # warm-up
        repeats = 5 if (bug is None and fast) else 1
        times = []
        for _ in range(repeats):
            counter.update(forward=0, backward=0)
            start = time.perf_counter()
            try:
                ok = torch.autograd.gradcheck(fn, (theta,), fast_mode=fast, raise_exception=True)
                message = "passed"
            except Exception as exc:  # torch's GradcheckError
                ok, message = False, str(exc).splitlines()[0]
            times.append(time.perf_counter() - start)
        return {"seconds": statistics.median(times), "evaluations": counter["forward"] + counter["backward"], "ok": ok,
                "message": message, "extrapolated": False}
    # Count the cheap first phase for real; the Jacobian recomputation is 2N forward evaluations.
    fast_counter = {"forward": 0, "backward": 0}
    fn2, theta2 = torch_function(sizes, None, fast_counter)
    start = time.perf_counter()
    torch.autograd.gradcheck(fn2, (theta2,), fast_mode=True, raise_exception=False)
    first_phase = time.perf_counter() - start
    first_evals = fast_counter["forward"] + fast_counter["backward"]
    if fast:
        evaluations = first_evals + 2 * N + 1
        seconds = first_phase + (2 * N + 1) * per_eval
    else:
        evaluations = 2 * N + 2
        seconds = evaluations * per_eval
    return {"seconds": seconds, "evaluations": evaluations, "ok": bug is None, "extrapolated": True,
            "message": "Jacobian mismatch for output 0 with respect to input 0" if bug else "passed"}


def memory_peak(sizes: tuple[int, ...]) -> dict[str, float]:
    model, data = MLP(sizes), batch(sizes)
    gk.diagnose(model, data, progress=False)
    tracemalloc.start()
    gk.diagnose(model, data, progress=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    params = sum(a.nbytes for a in model.params.values())
    X = data[0]
    activations = X.nbytes + sum(X.shape[0] * n * 8 for n in sizes[1:])
    return {"peak_bytes": peak, "param_bytes": params, "activation_bytes": activations,
            "peak_over_params_plus_activations": peak / (params + activations)}


def floor_per_evaluation(model: MLP, data: tuple[np.ndarray, np.ndarray], samples: int) -> float:
    """Seconds per loss evaluation doing exactly the floor's work — move one entry, evaluate, move it
    back — with no checker around it, over entries spread across every tensor."""
    X, y = data
    arrays = list(model.params.values())
    rng = np.random.default_rng(0)
    picks = [(arrays[k], int(rng.integers(arrays[k].size))) for k in rng.integers(len(arrays), size=samples)]
    start = time.perf_counter()
    for array, i in picks:
        x = array.flat[i]
        array.flat[i] = x + 1e-6
        model.loss(X, y)
        array.flat[i] = x - 1e-6
        model.loss(X, y)
        array.flat[i] = x
    return (time.perf_counter() - start) / (2 * samples)


def exhaustive(sizes: tuple[int, ...], jobs: int) -> dict[str, Any]:
    """Serial and parallel exhaustive checks against the floor of 2N loss evaluations on one core.

    The machine is shared, so the floor is measured in the same conditions, right before and right after
    the serial run (each on a sample of entries), and their mean is used."""
    model, data = MLP(sizes), batch(sizes)
    N = n_params(sizes)
    samples = min(N, 4000)
    before = floor_per_evaluation(model, data, samples)
    start = time.perf_counter()
    serial = gk.diagnose(model, data, exhaustive=True, progress=False)
    t1 = time.perf_counter() - start
    after = floor_per_evaluation(model, data, samples)
    start = time.perf_counter()
    parallel = gk.diagnose(model, data, exhaustive=True, n_jobs=jobs, progress=False)
    tj = time.perf_counter() - start
    per_eval = (before + after) / 2
    floor = 2 * N * per_eval
    return {"params": N, "floor_seconds": floor, "floor_per_evaluation_before": before,
            "floor_per_evaluation_after": after, "serial_seconds": t1, "serial_over_floor": t1 / floor,
            "overhead_per_evaluation_us": (t1 / (2 * N) - per_eval) * 1e6,
            "jobs": jobs, "parallel_seconds": tj, "speedup": t1 / tj,
            "identical": serial.to_dict()["params"] == parallel.to_dict()["params"]}


#: The MLPs of the parallel measurement: at 9,610 parameters an exhaustive check takes about 2 s, too short for
#: workers to pay off (the runner must then stay in this process, never slower than serial); at 35,594 about 15 s.
PARALLEL_SIZES = ((64, 128, 10), (128, 256, 10))


def parallel_ratio(sizes: tuple[int, ...], jobs: int = 2, rounds: int = 3) -> dict[str, Any]:
    """Exhaustive check in this process vs ``n_jobs=jobs`` workers, alternated ``rounds`` times so both see
    the same (shared) machine; the speed-up is serial time / parallel time (> 1: the workers win).

    "cold" is the first parallel run with no worker process running (loky's start-up included, as in the
    first check of a session); "warm" are the following ones (loky keeps its workers between calls)."""
    from joblib.externals.loky import get_reusable_executor

    model, data = MLP(sizes), batch(sizes)
    gk.diagnose(model, data, progress=False)  # imports

    def timed(n_jobs: int) -> tuple[float, Any]:
        start = time.perf_counter()
        report = gk.diagnose(model, data, exhaustive=True, n_jobs=n_jobs, progress=False)
        return time.perf_counter() - start, report

    def elsewhere(report: Any) -> float:  # report.calls counts the loss evaluations made in this process only
        return 1 - report.calls["loss"] / serial.calls["loss"]

    get_reusable_executor().shutdown(wait=True)  # no worker process running: the first parallel run is cold
    serial_times, warm_times, shares = [], [], []
    t1, serial = timed(1)
    cold, first = timed(jobs)
    serial_times.append(t1)
    identical = [first.to_dict()["params"] == serial.to_dict()["params"]]
    shares.append(elsewhere(first))
    for _ in range(rounds):
        t1, _ = timed(1)
        tj, report = timed(jobs)
        serial_times.append(t1)
        warm_times.append(tj)
        identical.append(report.to_dict()["params"] == serial.to_dict()["params"])
        shares.append(elsewhere(report))
    t_serial, t_warm = statistics.median(serial_times), statistics.median(warm_times)
    return {"sizes": sizes, "params": n_params(sizes), "jobs": jobs, "rounds": rounds,
            "serial_seconds": serial_times, "parallel_cold_seconds": cold, "parallel_warm_seconds": warm_times,
            "speedup_cold": t_serial / cold, "speedup_warm": t_serial / t_warm, "identical": all(identical),
            "share_in_workers": shares}


def exhaustive_overhead(sizes: tuple[int, ...], rounds: int = 3) -> dict[str, Any]:
    """Serial exhaustive check vs the full floor (every entry moved, 2N evaluations, no checker),
    alternated ``rounds`` times so both see the same machine; the median ratio is robust to drift."""
    model, data = MLP(sizes), batch(sizes)
    X, y = data
    N = n_params(sizes)
    ratios, floors, runs = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for array in model.params.values():
            flat = array.reshape(-1)
            for i in range(flat.size):
                x = flat[i]
                flat[i] = x + 1e-6
                model.loss(X, y)
                flat[i] = x - 1e-6
                model.loss(X, y)
                flat[i] = x
        floor = time.perf_counter() - start
        start = time.perf_counter()
        gk.diagnose(model, data, exhaustive=True, progress=False)
        run = time.perf_counter() - start
        floors.append(floor)
        runs.append(run)
        ratios.append(run / floor)
    return {"params": N, "rounds": rounds, "floor_seconds": floors, "serial_seconds": runs,
            "median_ratio": statistics.median(ratios),
            "overhead_per_evaluation_us": statistics.median((r - f) / (2 * N) * 1e6 for r, f in zip(runs, floors))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small and medium networks only")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per timing (median); default 5")
    parser.add_argument("--exhaustive-net", default=None, choices=sorted(SIZES), help="network for the exhaustive run")
    parser.add_argument("--json", default=str(Path(__file__).resolve().parent / "results.json"))
    parser.add_argument("--parts", default="compare,memory,exhaustive,parallel,scaling",
                        help="comma-separated subset of compare,memory,exhaustive,parallel,scaling,scale (others "
                        "are kept from --json; scale, the 10^8-parameter row, only when named)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    import torch

    pin_blas_threads(1)
    torch.set_num_threads(1)
    nets = ["small", "medium"] if args.quick else ["small", "medium", "big"]
    keep = Path(args.json).exists() and parts != {"compare", "memory", "exhaustive", "parallel", "scaling"}
    previous = json.loads(Path(args.json).read_text()) if keep else {}
    results: dict[str, Any] = {
        **previous,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "gradcheck_kit": gk.__version__,
            "blas_threads": blas_threads(),
            "cpu": platform.processor() or platform.machine(),
        },
        "networks": previous.get("networks", {}),
    }
    for name in nets if "compare" in parts else ():
        sizes = SIZES[name]
        N = n_params(sizes)
        forward, fb = unit_costs(sizes, args.repeats)
        net: dict[str, Any] = {
            "sizes": sizes,
            "params": N,
            "forward_seconds": forward,
            "forward_backward_seconds": fb,
            "variants": {},
        }
        # one torch evaluation (our forward through the Function) for extrapolation
        counter = {"forward": 0, "backward": 0}
        fn, theta = torch_function(sizes, None, counter)
        per_eval, _ = median_time(lambda fn=fn, theta=theta: [fn(theta.detach()) for _ in range(20)], 3)
        per_eval /= 20
        net["torch_per_evaluation_seconds"] = per_eval
        for bug in BUGS:
            key = bug or "correct"
            ours = run_diagnose(sizes, bug, args.repeats)
            small_enough = N * per_eval * 2 < 60
            fast = run_torch(sizes, bug, True, execute=bug is None or small_enough, per_eval=per_eval)
            slow = run_torch(sizes, bug, False, execute=small_enough, per_eval=per_eval)
            net["variants"][key] = {
                "diagnose": ours,
                "torch_fast": fast,
                "torch_slow": slow,
                "speedup_vs_torch_fast": fast["seconds"] / ours["seconds"],
                "diagnose_in_forward_backward_passes": ours["seconds"] / fb,
            }
            print(
                f"{name:6s} {key:16s} diagnose {ours['seconds']:.3f}s ({ours['evaluations']} calls, "
                f"named={ours['named']}) "
                f"| torch fast {fast['seconds']:.3f}s{'*' if fast['extrapolated'] else ''} ({fast['evaluations']} "
                "evals) "
                f"| torch slow {slow['seconds']:.1f}s{'*' if slow['extrapolated'] else ''}",
                flush=True,
            )
        with_lr = run_diagnose(sizes, None, max(1, args.repeats // 2), lr=0.1)
        net["with_lr"] = {**with_lr, "in_forward_backward_passes": with_lr["seconds"] / fb}
        results["networks"][name] = net
    big = "big" if "big" in nets else nets[-1]
    if "memory" in parts:
        results["memory"] = {"network": big, **memory_peak(SIZES[big])}
    if "exhaustive" in parts:
        ex_net = args.exhaustive_net or ("medium" if args.quick else "big")
        print(f"exhaustive on {ex_net} ({n_params(SIZES[ex_net])} params): serial and 2 jobs ...", flush=True)
        results["exhaustive"] = {"network": ex_net, **exhaustive(SIZES[ex_net], 2)}
        print("exhaustive overhead on medium, alternating with the full floor ...", flush=True)
        results["exhaustive_overhead"] = {"network": "medium", **exhaustive_overhead(SIZES["medium"])}
    if "parallel" in parts:
        results["parallel"] = []
        for sizes in PARALLEL_SIZES:
            print(f"parallel exhaustive on {'-'.join(map(str, sizes))} ({n_params(sizes)} params): serial and 2 jobs, "
                  "alternated ...", flush=True)
            results["parallel"].append(parallel_ratio(sizes, 2, rounds=3 if n_params(sizes) < 20_000 else 2))
    run_scaling(parts, args.quick, results)
    Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    print_table(results)


def run_scaling(parts: set[str], quick: bool, results: dict[str, Any]) -> None:
    if "scaling" in parts:
        results["scaling"] = []
        for sizes in SCALING_SIZES[:3] if quick else SCALING_SIZES:
            print(f"scaling on {'-'.join(map(str, sizes))} ({n_params(sizes):,} params): without and with lr, "
                  "alternated; memory; float32 ...", flush=True)
            results["scaling"].append(scaling_row(sizes, rounds=3 if n_params(sizes) < 5e6 else 2))
    if "scale" in parts:
        print("scale row: one default check of a ~10^8-parameter network ...", flush=True)
        results["scale"] = scale_row()


def print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="gradcheck_kit vs torch.autograd.gradcheck (median of repeats; * = extrapolated from counted evaluations)"
    )
    for col in (
        "net",
        "gradient",
        "diagnose",
        "calls",
        "× f+b",
        "named?",
        "torch fast",
        "evals",
        "torch slow",
        "speed-up vs fast",
    ):
        table.add_column(col, justify="right" if col not in ("net", "gradient", "named?") else "left")
    for name, net in results.get("networks", {}).items():
        for key, v in net["variants"].items():
            d, f, s = v["diagnose"], v["torch_fast"], v["torch_slow"]
            table.add_row(
                name,
                key,
                f"{d['seconds']:.3f} s",
                str(d["evaluations"]),
                f"{v['diagnose_in_forward_backward_passes']:.0f}",
                "yes" if d["named"] else "NO",
                f"{f['seconds']:.3g} s{'*' if f['extrapolated'] else ''}",
                str(f["evaluations"]),
                f"{s['seconds']:.3g} s{'*' if s['extrapolated'] else ''}",
                f"{v['speedup_vs_torch_fast']:,.0f}×"
                if v["speedup_vs_torch_fast"] >= 100
                else f"{v['speedup_vs_torch_fast']:.3g}×",
            )
    console = Console(width=max(Console().width, 150))
    if results.get("networks"):
        console.print(table)
    print_scaling(results)
    for name, net in results.get("networks", {}).items():
        w = net["with_lr"]
        console.print(
            f"{name}: full diagnose with lr=0.1 (all checks): {w['seconds']:.3f} s = "
            f"{w['in_forward_backward_passes']:.0f} forward+backward passes"
        )
    m = results.get("memory")
    if m:
        console.print(
            f"memory ({m['network']}): peak {m['peak_bytes'] / 2**20:.1f} MiB = "
            f"{m['peak_over_params_plus_activations']:.1f}× "
            f"(parameters {m['param_bytes'] / 2**20:.1f} MiB + one batch's activations "
            f"{m['activation_bytes'] / 2**20:.2f} MiB)"
        )
    o = results.get("exhaustive_overhead")
    if o:
        console.print(
            f"exhaustive overhead (medium, {o['params']} params, {o['rounds']} alternations with the full "
            "floor): "
            f"median {o['median_ratio']:.3f}× the floor, {o['overhead_per_evaluation_us']:.1f} µs per "
            "evaluation"
        )
    for p in results.get("parallel", []):
        console.print(
            f"parallel exhaustive ({'-'.join(map(str, p['sizes']))}, {p['params']} params, {p['jobs']} jobs vs "
            f"serial, {p['rounds']} alternations): speed-up {p['speedup_warm']:.2f}× with workers running "
            f"(median {statistics.median(p['parallel_warm_seconds']):.2f} s vs "
            f"{statistics.median(p['serial_seconds']):.2f} s), {p['speedup_cold']:.2f}× when they must start "
            f"({p['parallel_cold_seconds']:.2f} s); loss evaluations in workers: "
            f"{', '.join(f'{x:.0%}' for x in p['share_in_workers'])}; identical results: {p['identical']}"
        )
    e = results.get("exhaustive")
    if not e:
        return
    console.print(
        f"exhaustive ({e['network']}, {e['params']} params): serial {e['serial_seconds']:.1f} s = "
        f"{e['serial_over_floor']:.3f}× the 2N-evaluation floor ({e['floor_seconds']:.1f} s, measured before "
        "and "
        f"after; kit overhead {e['overhead_per_evaluation_us']:.1f} µs per evaluation); {e['jobs']} jobs "
        f"{e['parallel_seconds']:.1f} s (speed-up {e['speedup']:.2f}×, identical results: {e['identical']})"
    )



def print_scaling(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 150))
    rows = results.get("scaling", [])
    if rows:
        table = Table(title="Scaling (one run; time ratios are medians of alternated runs; memory by tracemalloc)")
        for col in ("params", "check", "with lr", "lr ratio", "kit's own time", "with lr", "peak / (P + A)",
                    "stable lr", "unstable lr", "float32 / own bytes"):
            table.add_column(col, justify="right")
        for r in rows:
            p = r["peak_ratio"]
            table.add_row(
                f"{r['params']:,}", f"{statistics.median(r['seconds']):.3g} s",
                f"{statistics.median(r['seconds_lr']):.3g} s",
                f"{r['lr_ratio']:.2f}×", f"{r['kit_share']:.0%}", f"{r['kit_share_lr']:.0%}", f"{p['no_lr']:.2f}×",
                f"{p['stable_lr']:.2f}×", f"{p['unstable_lr']:.2f}×", f"{r['float32']['peak_ratio']:.2f}×",
            )
        console.print(table)
    row = results.get("scale")
    if row:
        console.print(
            f"scale: {row['params']:,} parameters ({'-'.join(map(str, row['sizes']))}), default check in "
            f"{row['seconds']:.0f} s ({row['seconds'] / row['forward_seconds']:.0f} forward passes of "
            f"{row['forward_seconds']:.2f} s; kit's own time {row['kit_share']:.0%}); a second check "
            f"{row.get('seconds_again', math.nan):.0f} s (kit's own time "
            f"{row.get('kit_share_again', math.nan):.0%}); peak "
            f"{row['peak_bytes'] / 2**30:.2f} GiB = {row['peak_ratio']:.2f}× (parameters + one batch's activations); "
            f"verdict {'OK' if row['ok'] else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
