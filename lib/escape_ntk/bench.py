"""Side-by-side benchmark of the library's hot paths against the autodiff baselines.

    python -m escape_ntk.bench [--json PATH] [--quick] [--only SECTION ...] [--store NAME]

``--store NAME`` writes the run, with its provenance (commit, dirty, date, machine, loadavg), to
``results/bench/NAME.json`` atomically with a content hash (:func:`escape_ntk.records.write_record`);
the book's Performance page reads the stored runs with :func:`stored`.

Methods of a section are timed round-robin (each repetition runs every method once); minimum
and median are reported with /proc/loadavg before and after, since the machines are shared. Sections
live in the registry SECTIONS, in run order; add one with ``@register("name")`` on a function
``(cfg: Config, ctx: dict) -> dict`` returning {"rows": [...], "derived": {...}} (rows from
:func:`round_robin` via :func:`rows`). `ctx` carries results between sections (the GEMM peak).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.func import jacrev, vmap

from .activations import activation
from .blocked import BlockedStep
from .blocked import flops as blocked_flops
from .data import sample_sphere
from .kernels import ntk_gram
from .models import MODELS, Taylor, init_symmetric
from .pipeline import source_state
from .records import digest, results_root, write_record
from .spectra import eigvalsh, param_eigendirections, top_eigh
from .train import FusedStep

DTYPES = {"f64": torch.float64, "f32": torch.float32}
SECTIONS: dict[str, Callable[[Config, dict], dict]] = {}


@dataclass(frozen=True)
class Config:
    """Sizes of one benchmark run; `quick` is a smoke test, not a measurement."""

    n: int = 2000
    m: int = 2048
    d: int = 20
    k: int = 20
    gemm: int = 2048
    reps: int = 5
    act: str = "tanh"
    seed: int = 0
    authors: tuple = (1000, 10000, 100, 100)    # n, m, d, population samples s
    block: int = 50

    @classmethod
    def quick(cls) -> Config:
        return cls(n=256, m=128, d=10, k=5, gemm=256, reps=2, authors=(64, 200, 10, 8), block=16)


def register(name: str):
    """Decorator adding a section function (cfg, ctx) -> {"rows": [...], "derived": {...}}."""
    def deco(fn):
        SECTIONS[name] = fn
        return fn
    return deco


def loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def round_robin(methods: dict[str, Callable[[], object]], reps: int, warmup: int = 1) -> dict:
    """Time each zero-argument callable `reps` times, cycling through all of them each repetition.

    Returns {name: {"min_s", "median_s", "reps"}} after `warmup` untimed rounds.
    """
    times = {k: [] for k in methods}
    for r in range(warmup + reps):
        for k, fn in methods.items():
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            if r >= warmup:
                times[k].append(dt)
    return {k: {"min_s": min(v), "median_s": statistics.median(v), "reps": reps}
            for k, v in times.items()}


def rows(timings: dict, dtype: str, notes: dict | None = None) -> list[dict]:
    """Flatten round_robin output into table rows for one dtype."""
    notes = notes or {}
    return [{"method": k, "dtype": dtype, **v, "note": notes.get(k, "")}
            for k, v in timings.items()]


def _problem(cfg: Config, dtype: torch.dtype):
    g = torch.Generator().manual_seed(cfg.seed)
    X = sample_sphere(cfg.n, cfg.d, g, dtype)
    W0, a = init_symmetric(cfg.m, cfg.d, g, dtype)
    return X, W0, a


def jacrev_gram(X, W, a, sigma) -> torch.Tensor:
    """The user's alternative: explicit Jacobian by torch.func (vmap over inputs of jacrev in W),
    then J J^T. O(n^2 md) flops and O(nmd) memory."""
    single = lambda W_, x: sigma(W_ @ x) @ a
    J = vmap(jacrev(single), in_dims=(None, 0))(W, X).reshape(X.shape[0], -1)
    return J @ J.T


@register("gemm_peak")
def _gemm_peak(cfg: Config, ctx: dict) -> dict:
    g = torch.Generator().manual_seed(cfg.seed)
    mats = {k: torch.randn(cfg.gemm, cfg.gemm, generator=g, dtype=torch.float64).to(dt)
            for k, dt in DTYPES.items()}
    t = round_robin({k: (lambda A=A: A @ A) for k, A in mats.items()}, 3 * cfg.reps)
    flops = 2 * cfg.gemm**3
    ctx["peak_flops"] = {k: flops / v["min_s"] for k, v in t.items()}
    out = []
    for k, v in t.items():
        out += rows({f"torch matmul {cfg.gemm}^3": v}, k,
                     {f"torch matmul {cfg.gemm}^3": f"{ctx['peak_flops'][k] / 1e9:.0f} GFLOP/s"})
    peaks = {f"peak_gflops_{k}": v / 1e9 for k, v in ctx["peak_flops"].items()}
    return {"rows": out, "derived": peaks}


@register("ntk_gram")
def _ntk_gram(cfg: Config, ctx: dict) -> dict:
    act = activation(cfg.act)
    out, derived = [], {}
    for k, dt in DTYPES.items():
        X, W0, a = _problem(cfg, dt)
        K = ntk_gram(X, W0, a, act)
        K_ref = jacrev_gram(X, W0, a, act.sigma)
        derived[f"max_rel_err_vs_jacrev_{k}"] = float((K - K_ref).abs().max() / K_ref.abs().max())
        del K, K_ref
        args = (X, W0, a)
        t = round_robin({"ntk_gram": lambda args=args: ntk_gram(*args, act),
                         "jacrev+vmap": lambda args=args: jacrev_gram(*args, act.sigma)}, cfg.reps)
        speedup = t["jacrev+vmap"]["min_s"] / t["ntk_gram"]["min_s"]
        useful = cfg.n**2 * cfg.m / t["ntk_gram"]["min_s"]
        derived[f"speedup_vs_jacrev_{k}"] = speedup
        derived[f"useful_gflops_{k}"] = useful / 1e9
        if "peak_flops" in ctx:
            derived[f"fraction_of_peak_{k}"] = useful / ctx["peak_flops"][k]
        out += rows(t, k, {"ntk_gram": f"{speedup:.1f}x faster, {useful / 1e9:.0f} GFLOP/s useful"})
    return {"rows": out, "derived": derived}


@register("spectrum")
def _spectrum(cfg: Config, ctx: dict) -> dict:
    X, W0, a = _problem(cfg, torch.float64)
    K = ntk_gram(X, W0, a, cfg.act)
    ctx["K64"], ctx["X64"], ctx["W064"], ctx["a64"] = K, X, W0, a
    Kn = K.numpy()
    t = round_robin({"numpy.linalg.eigvalsh": lambda: np.linalg.eigvalsh(Kn),
                     "en.eigvalsh": lambda: eigvalsh(K),
                     f"en.top_eigh k={cfg.k}": lambda: top_eigh(K, cfg.k)}, cfg.reps)
    full, top = t["en.eigvalsh"]["min_s"], t[f"en.top_eigh k={cfg.k}"]["min_s"]
    evals, _ = top_eigh(K, cfg.k)
    err = float((evals - eigvalsh(K)[:cfg.k]).abs().max() / evals[0])
    derived = {"eigvalsh_vs_numpy": full / t["numpy.linalg.eigvalsh"]["min_s"],
               "top_eigh_speedup_vs_eigvalsh": full / top, "top_eigh_max_rel_err": err}
    note = {f"en.top_eigh k={cfg.k}": f"{full / top:.1f}x faster than full"}
    return {"rows": rows(t, "f64", note), "derived": derived}


@register("eigendirections")
def _eigendirections(cfg: Config, ctx: dict) -> dict:
    if "K64" not in ctx:
        _spectrum(cfg, ctx)
    evals, evecs = top_eigh(ctx["K64"], cfg.k)
    act = activation(cfg.act)
    taylors = {k: Taylor(ctx["X64"].to(dt), ctx["W064"].to(dt), ctx["a64"].to(dt), act)
               for k, dt in DTYPES.items()}
    V = param_eigendirections(taylors["f64"], evecs, evals)
    G = V.reshape(cfg.k, -1) @ V.reshape(cfg.k, -1).T
    derived = {"orthonormality_err_f64": float((G - torch.eye(cfg.k, dtype=G.dtype)).abs().max())}
    t = round_robin({k: (lambda T=T: param_eigendirections(T, evecs, evals))
                     for k, T in taylors.items()}, cfg.reps)
    out = []
    for k, v in t.items():
        out += rows({f"param_eigendirections k={cfg.k}": v}, k)
        derived[f"gflops_{k}"] = 2 * cfg.n * cfg.m * cfg.k * cfg.d / v["min_s"] / 1e9
    return {"rows": out, "derived": derived}


# --- training steps (trainer, escape_ntk.train) ---


def _autograd_loss(T: Taylor, U: torch.Tensor, y: torch.Tensor, model: str) -> torch.Tensor:
    """The user's alternative: the model written out with the precomputed S1 = a sigma'(Z0),
    S2 = a sigma''(Z0) (the network: sigma(X (W0 + U)^T) a), to be differentiated by autograd."""
    if model == "net":
        f = T.act.sigma(T.X @ (T.W0 + U).T) @ T.a
    else:
        Z = T.X @ U.T
        fL = (T.S1 * Z).sum(dim=1)
        fQ = 0.5 * (T.S2 * Z * Z).sum(dim=1)
        f = {"L": fL, "Q": fQ, "LQ": fL + fQ}[model]
    return (f - y).square().mean()


def _autograd_step(T: Taylor, U: torch.Tensor, y: torch.Tensor, model: str, lr: float) -> None:
    U.requires_grad_(True)
    (g,) = torch.autograd.grad(_autograd_loss(T, U, y, model), U)
    U.requires_grad_(False)
    U.sub_(g, alpha=lr)


@register("train_steps")
def _train_steps(cfg: Config, ctx: dict) -> dict:
    """One full-batch GD step of f_L, f_Q, f_L + f_Q and the network: the trainer's fused
    hand-written gradient vs torch autograd through the explicitly written model."""
    out, derived = [], {}
    lr = 1e-3                                     # tiny: U stays put over the repetitions
    for k, dt in DTYPES.items():
        X, W0, a = _problem(cfg, dt)
        T = Taylor(X, W0, a, activation(cfg.act))
        g = torch.Generator().manual_seed(cfg.seed + 1)
        y = torch.randn(cfg.n, generator=g, dtype=torch.float64).to(dt)
        U0 = (0.1 * torch.randn(cfg.m, cfg.d, generator=g, dtype=torch.float64)).to(dt)
        methods, notes = {}, {}
        for model in MODELS:
            step = FusedStep(T, model)
            Ut, U = U0.T.contiguous(), U0.clone()
            # agreement of one gradient (the update divided by lr) with autograd's
            step.update(Ut, y, 1.0)
            _autograd_step(T, U, y, model, 1.0)
            err = float((Ut.T - U).abs().max() / (U0 - U).abs().max())
            derived[f"grad_rel_err_{model}_{k}"] = err
            Ut.copy_(U0.T)
            U.copy_(U0)
            methods[f"{model} fused"] = (
                lambda s=step, Ut=Ut, y=y: s.update(Ut, y, lr))
            methods[f"{model} autograd"] = (
                lambda T=T, U=U, y=y, m_=model: _autograd_step(T, U, y, m_, lr))
        t = round_robin(methods, cfg.reps)
        for model in MODELS:
            ratio = t[f"{model} autograd"]["min_s"] / t[f"{model} fused"]["min_s"]
            derived[f"speedup_{model}_{k}"] = ratio
            notes[f"{model} fused"] = f"{ratio:.1f}x faster than autograd"
        out += rows(t, k, notes)
        del T, methods
    return {"rows": out, "derived": derived}


# --- the authors' size: n = 1000, m = 10^4, d = 100, float32 (escape_ntk.blocked) ---


def _authors_objective(T: Taylor, U, y, U_k, inv_k, Xs, S1s, lam_emp, lam_pop):
    """The user's alternative: f_L + f_Q and both R_1 terms written out with the precomputed
    S1, S2 (the population term through the cross Gram, as the fused step), for autograd."""
    Z = T.X @ U.T
    fL, fQ = (T.S1 * Z).sum(1), 0.5 * (T.S2 * Z * Z).sum(1)
    n = T.X.shape[0]
    p = fL - U_k @ (U_k.T @ fL)
    obj = ((fL + fQ - y) ** 2).mean() + lam_emp * (p @ p) / n
    if Xs is not None:
        Ksx = (Xs @ T.X.T) * (S1s @ T.S1.T)
        fs = (Xs * (S1s @ U)).sum(1) - Ksx @ (U_k @ (inv_k * (U_k.T @ fL)))
        obj = obj + lam_pop * fs.square().mean()
    return obj


@register("authors_step")
def _authors_step(cfg: Config, ctx: dict) -> dict:
    """One GD step of f_L + f_Q with R_1 at the authors' size (float32): the row-blocked fused
    step vs the trainer's FusedStep, autograd through the written-out model, the GEMM pair floor
    (the two full-size thin products X U^T and X^T G) and a 2048^3 GEMM for the peak, round-robin."""
    n, m, d, s = cfg.authors
    g = torch.Generator().manual_seed(cfg.seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64).float()
    W0, a = init_symmetric(m, d, g, torch.float32, dist="unit")
    T = Taylor(X, W0, a, activation("sigmoid_shift"))
    U_k = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=torch.float64)).Q
    ev_k = torch.linspace(10.0, 1.0, d, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64).float()
    U0 = (1e-3 * torch.randn(d, m, generator=g, dtype=torch.float64)).float()
    Xs = torch.randn(s, d, generator=g, dtype=torch.float64).float()
    lr, le, lp = 1e-9, 0.01, 1e-3                   # tiny lr: U stays put over the repetitions
    blk = BlockedStep(T, U_k, ev_k, block_rows=cfg.block)
    two = BlockedStep(T, U_k, ev_k, block_rows=None)
    Ut1, Ut2, Ut3, Ut4, Ut5 = (U0.clone() for _ in range(5))
    fused = FusedStep(T, "LQ", need_fL=True)
    Uk32, inv32 = U_k.float(), (1.0 / ev_k).float()

    def fused_step():                               # the trainer's path (empirical R_1 only)
        f, fL = fused.forward(fused.data, Ut3, None)
        r = (f - y).mul_(2.0 / n)
        pr = fL - Uk32 @ (Uk32.T @ fL)
        Ut3.sub_(fused.backward(fused.data, r, pr * (2.0 * le / n)), alpha=lr)

    Ua = U0.T.contiguous()
    S1s = a * T.act.dsigma(Xs @ W0.T)

    def autograd(pop: bool):
        def run():
            Ua.requires_grad_(True)
            obj = _authors_objective(T, Ua, y, Uk32, inv32, Xs if pop else None, S1s, le, lp)
            (gr,) = torch.autograd.grad(obj, Ua)
            Ua.requires_grad_(False)
            Ua.sub_(gr, alpha=lr)
        return run

    Z = torch.empty(n, m)
    G = torch.randn(n, m, generator=g)
    gt = torch.empty(d, m)
    A = torch.randn(cfg.gemm, cfg.gemm, generator=g)

    def pair():
        torch.mm(X, U0, out=Z)
        torch.mm(X.T, G, out=gt)

    methods = {
        "blocked LQ + R1": lambda: blk.step(Ut1, y, lr, le),
        "blocked LQ + R1 + pop R1": lambda: blk.step(Ut2, y, lr, le, lp, Xs),
        "two-pass LQ + R1": lambda: two.step(Ut4, y, lr, le),
        "two-pass LQ + R1 + pop R1": lambda: two.step(Ut5, y, lr, le, lp, Xs),
        "FusedStep LQ + R1": fused_step,
        "autograd LQ + R1": autograd(False),
        "autograd LQ + R1 + pop R1": autograd(True),
        "GEMM pair floor": pair,
        f"matmul {cfg.gemm}^3": lambda: A @ A,
    }
    t = round_robin(methods, cfg.reps)
    peak = 2 * cfg.gemm**3 / t[f"matmul {cfg.gemm}^3"]["min_s"]
    floor_emp = blocked_flops(n, m, d) / peak
    floor_pop = blocked_flops(n, m, d, s) / peak
    base = t["GEMM pair floor"]["min_s"]
    derived = {"peak_gflops_f32": peak / 1e9, "peak_floor_ms": 1e3 * floor_emp,
               "peak_floor_pop_ms": 1e3 * floor_pop}
    notes = {}
    for k in methods:
        if k.startswith("matmul"):
            notes[k] = f"{peak / 1e9:.0f} GFLOP/s"
            continue
        derived[f"ratio_to_gemm_pair[{k}]"] = t[k]["min_s"] / base
        notes[k] = f"{t[k]['min_s'] / base:.2f}x GEMM pair"
    for pop in ("", " + pop R1"):
        au = t[f"autograd LQ + R1{pop}"]["min_s"]
        for kind in ("blocked", "two-pass"):
            b = t[f"{kind} LQ + R1{pop}"]["min_s"]
            tag = f"LQ + R1{pop}" if kind == "blocked" else f"{kind} LQ + R1{pop}"
            derived[f"speedup_vs_autograd[{tag}]"] = au / b
            derived[f"ratio_to_peak_floor[{tag}]"] = b / (floor_pop if pop else floor_emp)
    derived["speedup_vs_fused[LQ + R1]"] = (t["FusedStep LQ + R1"]["min_s"]
                                            / t["blocked LQ + R1"]["min_s"])
    return {"rows": rows(t, "f32", notes), "derived": derived}


def fit_exponent(sizes, times) -> tuple[float, float]:
    """Least-squares slope of log(time) on log(size) and its standard error: (slope, stderr)."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(times, float))
    if len(x) < 3:
        raise ValueError(f"fitting an exponent needs at least 3 sizes; got {len(x)}.")
    A = np.vstack([x, np.ones_like(x)]).T
    coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    se = math.sqrt(float(resid @ resid) / (len(x) - 2) / float(((x - x.mean()) ** 2).sum()))
    return float(coef[0]), se


@register("authors_scaling")
def _authors_scaling(cfg: Config, ctx: dict) -> dict:
    """Cost of the blocked step (f_L + f_Q + empirical R_1, float32) against n at fixed m and
    against m at fixed n (d = 100), each size timed round-robin with the others of its axis;
    fitted log-log exponents (the flops are linear in both)."""
    n0, m0, d, _ = cfg.authors
    ns = [n0 // 4, n0 // 2, n0, 2 * n0]
    ms = [m0 // 4, m0 // 2, m0, 2 * m0]
    out, derived = [], {}
    for axis, sizes in (("n", ns), ("m", ms)):
        methods = {}
        for size in sizes:
            n, m = (size, m0 // 2) if axis == "n" else (n0 // 2, size)
            g = torch.Generator().manual_seed(cfg.seed)
            X = torch.randn(n, d, generator=g, dtype=torch.float64).float()
            W0, a = init_symmetric(m, d, g, torch.float32, dist="unit")
            T = Taylor(X, W0, a, activation("sigmoid_shift"))
            k = min(d, n)
            U_k = torch.linalg.qr(torch.randn(n, k, generator=g, dtype=torch.float64)).Q
            blk = BlockedStep(T, U_k, torch.ones(k, dtype=torch.float64), block_rows=cfg.block)
            y = torch.randn(n, generator=g, dtype=torch.float64).float()
            Ut = (1e-3 * torch.randn(d, m, generator=g, dtype=torch.float64)).float()
            methods[f"blocked step {axis}={size}"] = (
                lambda b=blk, Ut=Ut, y=y: b.step(Ut, y, 1e-9, 0.01))
        t = round_robin(methods, cfg.reps)
        slope, se = fit_exponent(sizes, [v["min_s"] for v in t.values()])
        derived[f"exponent_{axis}"], derived[f"exponent_{axis}_se"] = slope, se
        derived[f"sizes_{axis}"] = sizes
        derived[f"fixed_{axis}"] = {"n": {"m": m0 // 2, "d": d}, "m": {"n": n0 // 2, "d": d}}[axis]
        out += rows(t, "f32")
    return {"rows": out, "derived": derived}


def machine() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__,
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine()}


def run(cfg: Config, names: list[str] | None = None) -> dict:
    """Run the registered sections (all, or `names`) in order; returns the JSON-ready record."""
    ctx: dict = {}
    record = {"config": asdict(cfg), "machine": machine(), "loadavg": {"start": loadavg()},
              "sections": []}
    for name in names or list(SECTIONS):
        t0 = time.perf_counter()
        res = SECTIONS[name](cfg, ctx)
        record["sections"].append({"name": name, "wall_s": time.perf_counter() - t0, **res})
        print_section(record["sections"][-1])
    record["loadavg"]["end"] = loadavg()
    return record


def print_section(sec: dict) -> None:
    print(f"\n== {sec['name']} ({sec['wall_s']:.1f} s)")
    print(f"{'method':<32} {'dtype':<5} {'min ms':>10} {'median ms':>10}  note")
    for r in sec["rows"]:
        print(f"{r['method']:<32} {r['dtype']:<5} {1e3 * r['min_s']:>10.2f} "
              f"{1e3 * r['median_s']:>10.2f}  {r['note']}")
    for k, v in sec["derived"].items():
        print(f"  {k} = {v:.4g}" if isinstance(v, float) and math.isfinite(v) else f"  {k} = {v}")
    sys.stdout.flush()


def store(record: dict, name: str, root=None) -> Path:
    """Write a bench record to results/bench/NAME.json (atomic, with provenance and digest)."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"bench name {name!r}: use letters, digits, '-' and '_'.")
    path = results_root(root) / "bench" / f"{name}.json"
    rec = {"name": name, "provenance": {**source_state(), "date": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, **record}
    write_record(path, rec)
    return path


def stored(root=None) -> dict[str, dict]:
    """Every stored bench record {name: record}, digests verified (a mismatch raises ValueError)."""
    out = {}
    for path in sorted((results_root(root) / "bench").glob("*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        if rec.get("digest") != digest(rec):
            raise ValueError(f"bench record {path} does not match its content hash (edited or "
                             f"corrupted); rerun `python -m escape_ntk.bench --store "
                             f"{path.stem}`.")
        out[path.stem] = rec
    return out


def section(rec: dict, name: str) -> dict:
    """The section `name` of a bench record (KeyError naming the sections it has)."""
    for sec in rec["sections"]:
        if sec["name"] == name:
            return sec
    raise KeyError(f"bench record has no section {name!r}; it has "
                   f"{[s['name'] for s in rec['sections']]}.")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m escape_ntk.bench",
                                description=__doc__.split("\n")[0])
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--quick", action="store_true",
                   help="small sizes: a smoke test, not a measurement")
    p.add_argument("--only", nargs="+", metavar="SECTION", help="run only these sections")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--store", metavar="NAME", help="also store the run as results/bench/NAME.json")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    unknown = set(args.only or []) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}; choose from {list(SECTIONS)}")
    cfg = Config.quick() if args.quick else Config()
    print(f"escape_ntk benchmark {asdict(cfg)}; loadavg {loadavg()} (shared machine: expect noise)")
    record = run(cfg, args.only)
    print(f"\nloadavg at end: {record['loadavg']['end']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=1))
        print(f"wrote {args.json}")
    if args.store:
        print(f"stored {store(record, args.store)}")
    return record


if __name__ == "__main__":
    main()
