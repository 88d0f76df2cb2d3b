"""The declared sweeps: task functions and the grids they run on (``python -m escape_ntk list``).

A task is a module-level function ``task(*, <params>, device, dtype) -> dict`` that is a pure
function of its parameters and seed: it draws everything from ``torch.Generator().manual_seed``,
on the CPU (so every device sees the same problem), moves the heavy arrays to ``device``, and
returns plain metrics and short series (lists). Its code version is declared with
``@task_version("1")``: bump it when the numbers would change, and every record of it goes stale.
Declare a sweep with :class:`Sweep`: the grid of task parameters, the constants in ``fixed``
(thresholds, ridge grids, test-set sizes: they are stored in every record and changing one makes
the old records stale), the float tolerance of the live recompute and a relative cost.

To add a sweep: write the task here, add its :class:`Sweep` to ``SWEEPS``, run
``python -m escape_ntk sweep NAME`` and commit ``results/NAME/``.
"""

from __future__ import annotations

import copy
import importlib
import math
import os
import sys

import numpy as np
import torch
from tqdm import tqdm

from . import experiments as ex
from . import mlp as mlp_
from . import targets as tg
from . import taylor_nn as tn
from .blocked import BlockedStep, predict_blocked
from .data import digits_pair, sample_gaussian, sample_sphere
from .kernels import kernel_ridge, ntk_gram
from .models import Taylor, init_symmetric
from .networks import taylor_gaps
from .pipeline import Sweep, SweepError, digest, grid, task_version


@task_version("1")
def ntk_regression(*, d: int, n: int, m: int, seed: int, ridges, n_test: int, act: str,
                   device: torch.device, dtype: torch.dtype) -> dict:
    """Kernel ridge regression with the empirical NTK of a width-m paired init on the setting-A
    target f* = (beta.x + g_2(beta.x))/sqrt 2, x on S^{d-1}(sqrt d).

    Draw order from ``torch.Generator().manual_seed(seed)``: beta, (W0, a), X_test (n_test, d),
    X (n, d); so one (d, seed) shares target, init and test set across n. Grams K (n, n) and
    K(X_test, X) = (X X'^T) * (S S'^T) (:func:`escape_ntk.ntk_gram`) and the ridge solves
    (:func:`escape_ntk.kernel_ridge`) run on ``device`` in ``dtype``.
    Returns test (relative test MSE per ridge), best_test, best_ridge, train (relative train MSE
    at best_ridge), dense and sparse (captured fractions of beta.x and g_2 at best_ridge).
    Cost O(n m (n + n_test) + n^3 * len(ridges)).
    """
    g = torch.Generator().manual_seed(seed)
    beta = tg.random_direction(d, g)
    target = tg.mix((1 / math.sqrt(2), tg.linear(beta)), (1 / math.sqrt(2), tg.gegenbauer_index(beta, 2)))
    W0, a = init_symmetric(m, d, g, torch.float64)
    X_test = sample_sphere(n_test, d, g, torch.float64)
    X = sample_sphere(n, d, g, torch.float64)
    y, y_test = target(X), target(X_test)

    def dev(T):
        return T.to(device=device, dtype=dtype)

    K = ntk_gram(dev(X), dev(W0), dev(a), act)
    K_test = ntk_gram(dev(X_test), dev(W0), dev(a), act, Y=dev(X))
    var = target.norm ** 2
    tests, fits = [], []
    for r in ridges:
        alpha = kernel_ridge(K, dev(y), r)
        pred_test = (K_test.double() @ alpha).cpu()
        tests.append(float(((pred_test - y_test) ** 2).mean()) / var)
        fits.append((alpha, pred_test))
    best = min(range(len(ridges)), key=tests.__getitem__)
    alpha, pred_test = fits[best]
    pred_train = (K.double() @ alpha).cpu()
    cap = tg.captured(pred_test, X_test, target)
    dense, sparse = (cap[c.name] for _, c in target.components)
    return {"test": tests, "best_test": tests[best], "best_ridge": float(ridges[best]),
            "train": float(((pred_train - y) ** 2).mean()) / var, "dense": dense, "sparse": sparse}


def _ntk_regression_cost(p) -> float:
    n = p["n"]
    # flops of the Grams and solves, plus ~20 ms of fixed cost (data, target, init) in flop units
    return n * p["m"] * (n + p["n_test"]) + n**3 * len(p["ridges"]) / 3 + 1.5e8


#: Demo and first stored sweep: NTK ridge regression test error over (d, n, seed).
NTK_REGRESSION = Sweep(
    name="ntk-regression",
    task=ntk_regression,
    tasks=grid(d=[10, 20, 40], n=[32, 64, 128, 256, 512, 1024, 2048], seed=[0, 1, 2]),
    fixed={"m": 1000, "ridges": [1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0], "n_test": 1000,
           "act": "softplus_shift"},
    dtype="float64",
    rtol=1e-8,
    atol=1e-10,
    cost=_ntk_regression_cost,
    description="empirical-NTK ridge regression on the setting-A target: test error vs (d, n)",
)

def _cpu_only(name: str, device) -> None:
    if getattr(device, "type", str(device)) != "cpu":
        raise SweepError(f"sweep {name!r} runs on the CPU (its trainer and records are CPU "
                         f"float32); drop --device {device}.")


@task_version("1")
def net_taylor(*, m: int, seed: int, d: int, n: int, n_test: int, act: str, lam: float,
               checkpoints, lr_factor: float, init_scale: float, device: torch.device,
               dtype: torch.dtype) -> dict:
    """The network f(W0 + U) against f_L + f_Q and f_L on setting A at width m.

    The problem is :func:`escape_ntk.experiments.prepare` of ``SETTING_A`` with these sizes from
    ``torch.Generator().manual_seed(seed)`` (data, target, paired W0, small U0 in ``dtype``);
    :func:`escape_ntk.networks.taylor_gaps` then trains "net", "LQ", "L" from W0 + U0 without
    (``plain``) and with R_1 (``R1``, weight lam on the spectral top-n_k subspace). Returns
    {"plain": gaps, "R1": gaps}, each the dict of taylor_gaps (series over ``checkpoints``).
    CPU only (the Taylor objects live there). Cost 6 x max(checkpoints) GD steps of O(nmd).
    """
    _cpu_only("net-taylor", device)
    setting = ex.SETTING_A.replace(d=d, n=n, m=m, n_test=n_test, act=act, lam=lam,
                                   steps=max(checkpoints), lr_factor=lr_factor,
                                   init_scale=init_scale)
    problem = ex.prepare(setting, torch.Generator().manual_seed(seed), dtype)
    return {"plain": taylor_gaps(problem, 0.0, checkpoints),
            "R1": taylor_gaps(problem, lam, checkpoints)}


def _net_taylor_cost(p) -> float:
    return p["m"] + 200.0          # O(m) GEMMs plus fixed cost (data, Gram, eigh)


#: The network against its Taylor models over widths m (setting A, with and without R_1).
NET_TAYLOR = Sweep(
    name="net-taylor",
    task=net_taylor,
    tasks=grid(m=[250, 500, 1000, 2000, 4000], seed=[0, 1, 2]),
    fixed={"d": 40, "n": 250, "n_test": 1000, "act": "softplus_shift", "lam": 3.0,
           "checkpoints": [0, 25, 50, 100, 200, 400, 800], "lr_factor": 0.9, "init_scale": 0.1},
    dtype="float32",
    rtol=2e-3,
    atol=1e-6,
    cost=_net_taylor_cost,
    description="network vs f_L + f_Q vs f_L on setting A: prediction gaps vs width m",
)


@task_version("1")
def mlp_realistic(*, d: int, c: int, seed: int, width: int, lr: float, steps: int,
                  n_test: int, init: str, ntk_max_n: int, ridges, threshold: float,
                  device: torch.device,
                  dtype: torch.dtype) -> dict:
    """The authors' MLP experiment at one (d, n = c d^2, seed): train, then the NTK at init.

    Draw order from ``torch.Generator().manual_seed(seed)``: the target's beta
    (:func:`escape_ntk.mlp.authors_target`), the initial parameters (:func:`escape_ntk.mlp.mlp_init`),
    X_test (n_test, d), X (n, d), all N(0, 1) in float64; so one (d, seed) shares target, init
    and test set across n (as the authors' fixed keys do). Full-batch GD on all layers
    (:func:`escape_ntk.mlp.mlp_train`) in ``dtype``. Returns test and train (MSE at the log
    points, and the final values ``final_test``, ``final_train``; ``passed``: final_test <
    threshold) and, for n <= ntk_max_n,
    ``ntk_test``: the test MSE of kernel regression with the network's empirical NTK at init
    (:func:`escape_ntk.mlp.mlp_ntk_regression`, float64) per ridge, ``ntk_best`` its minimum;
    None above. Cost steps x O(n w d) + O(n^3/3 len(ridges)).
    """
    _cpu_only("mlp-realistic", device)
    g = torch.Generator().manual_seed(seed)
    target = mlp_.authors_target(d, g)
    p0 = mlp_.mlp_init(d, width, g, torch.float64, init)
    X_test = sample_gaussian(n_test, d, g)
    X = sample_gaussian(c * d * d, d, g)
    y, y_test = target(X), target(X_test)
    out = mlp_.mlp_train(p0.to(dtype), X.to(dtype), y.to(dtype), lr=lr, steps=steps,
                         X_test=X_test.to(dtype), y_test=y_test.to(dtype))
    res = {"steps": out["steps"], "train": out["train"], "test": out["test"],
           "final_test": out["test"][-1], "final_train": out["train"][-1],
           "passed": bool(out["test"][-1] < threshold),
           "ntk_test": None, "ntk_best": None}
    if X.shape[0] <= ntk_max_n:
        preds = mlp_.mlp_ntk_regression(p0, X, y, X_test, ridges)
        res["ntk_test"] = [float((q - y_test).square().mean()) for q in preds]
        res["ntk_best"] = min(res["ntk_test"])
    return res


def _mlp_cost(p) -> float:
    # ~40 us of fixed cost per step plus ~10 ns per n d (one core, float32)
    return p["steps"] * (4e4 + 10.0 * p["c"] * p["d"] ** 3) / 1e6


#: The scans of the MLP sweep, (d, seed): (first c, c of the first pass), n = c d^2: each scan
#: runs c upward from c_0(d) (1 for d = 12, 5 for d = 16, 4 for d = 20, 24) and stops at the
#: first c whose test MSE is below the threshold (the authors' rule); the chapter on real
#: networks checks that every scan's first record fails and only its last passes.
MLP_SCANS = {
    (12, 0): (1, 11),
    (12, 1): (1, 9),
    (12, 2): (1, 14),
    (16, 0): (5, 10),
    (16, 1): (5, 9),
    (16, 2): (5, 8),
    (20, 0): (4, 15),
    (20, 1): (4, 9),
    (20, 2): (4, 8),
    (24, 0): (4, 6),
    (24, 1): (4, 8),
    (24, 2): (4, 8),
}

#: The authors' realistic MLP experiment: n* = smallest n = c d^2 with test MSE < 0.1.
MLP_REALISTIC = Sweep(
    name="mlp-realistic",
    task=mlp_realistic,
    tasks=[{"d": d, "c": c, "seed": s} for (d, s), (lo, hi) in MLP_SCANS.items()
           for c in range(lo, hi + 1)],
    fixed={"width": mlp_.WIDTH, "lr": mlp_.LR, "steps": mlp_.STEPS, "n_test": 2500,
           "init": "authors", "ntk_max_n": 4096, "ridges": [1e-6, 1e-4, 1e-2, 1.0],
           "threshold": 0.1},
    dtype="float32",
    rtol=1e-3,
    atol=1e-6,
    cost=_mlp_cost,
    description="the authors' realistic ReLU MLP: test MSE vs (d, n = c d^2) and the NTK at init",
)

@task_version("1")
def digits_taylor(*, arch: str, width: int, lr: float, seed: int, classes, n_test: int,
                  epochs: int, batch_size: int, act: str, device: torch.device,
                  dtype: torch.dtype) -> dict:
    """The network f, its quadratic Taylor model f0 + f_L + f_Q and its linearization f0 + f_L,
    trained by SGD from the same init on a binary task of scikit-learn's 8x8 digits.

    Draw order from ``torch.Generator().manual_seed(seed)``: the train/test split
    (:func:`escape_ntk.data.digits_pair`), then the init: arch 'two-layer' is
    :class:`escape_ntk.taylor_nn.TwoLayer` (paired init, width m = `width`, activation `act`,
    only W trained); 'cnn' is :func:`escape_ntk.taylor_nn.small_cnn` (3 blocks of `width`
    channels, ReLU). Each model runs :func:`escape_ntk.taylor_nn.sgd` (square loss, labels +-1).
    Returns per model ("f", "LQ", "L") its curves over epochs 0..epochs (train_loss, test_loss,
    train_acc, test_acc); gap_LQ, gap_L: mean test (f_model - f)^2 at the end; and the Taylor
    terms of the trained network (delta = its movement): at_net_{LQ,L}_test_loss, at_net_Q_acc
    (accuracy of the f_Q part alone, as in the authors' code). Runs on the CPU. Cost: epochs x
    n / batch_size SGD steps per model; a TaylorModel step costs ~2 (L) or ~4 (LQ) network steps.
    """
    if torch.device(device).type != "cpu":
        raise ValueError(f"digits-taylor runs on the CPU only (small SGD steps); got device "
                         f"{device}. Run it with --device cpu.")
    g = torch.Generator().manual_seed(seed)
    X, y, X_test, y_test = digits_pair(tuple(classes), n_test, g, dtype)
    if arch == "two-layer":
        W0, a = init_symmetric(width, X[0].numel(), g, dtype)
        net = tn.TwoLayer(W0, a, act)
    elif arch == "cnn":
        net = tn.small_cnn(width, 3, X.shape[-1], "relu", g, dtype)
    else:
        raise ValueError(f"arch must be 'two-layer' or 'cnn'; got {arch!r}.")
    models = {"f": copy.deepcopy(net), "LQ": tn.taylor_expand(net, 2), "L": tn.taylor_expand(net, 1)}
    curves = tn.sgd(models, X, y, X_test, y_test, epochs=epochs, batch_size=batch_size, lr=lr)
    out: dict = {k: {c: v[c].tolist() for c in ("train_loss", "test_loss", "train_acc", "test_acc")}
                 for k, v in curves.items()}
    with torch.no_grad():
        f = models["f"](X_test)
        for k in ("LQ", "L"):
            out[f"gap_{k}"] = float((models[k](X_test) - f).square().mean())
        at_net = tn.taylor_expand(net, 2).set_movement(models["f"])
        f0, fL, fQ = at_net.terms(X_test)
        for k, pred in (("LQ", f0 + fL + fQ), ("L", f0 + fL)):
            out[f"at_net_{k}_test_loss"] = float((pred - y_test).square().mean())
        out["at_net_Q_acc"] = float(((fQ * y_test) > 0).double().mean())
        out["net_test_loss"] = float((f - y_test).square().mean())
    return out


def _digits_cost(p) -> float:
    return (1.0 if p["arch"] == "two-layer" else 5.0) * p["epochs"]


_DIGITS_FIXED = {"classes": [3, 8], "n_test": 100, "epochs": 100, "batch_size": 64,
                 "act": "softplus_shift"}

#: Chapter 11: f, f0 + f_L + f_Q and f0 + f_L trained on digits 3 vs 8, two-layer net and CNN.
DIGITS_TAYLOR = Sweep(
    name="digits-taylor",
    task=digits_taylor,
    tasks=(grid(arch=["two-layer"], width=[128], lr=[0.1], seed=range(5))
           + grid(arch=["cnn"], width=[16], lr=[0.05], seed=range(5))),
    fixed=_DIGITS_FIXED,
    dtype="float64",
    rtol=1e-7,
    atol=1e-10,
    cost=_digits_cost,
    description="digits 3 vs 8: network vs its quadratic and linear Taylor models, SGD",
)


#: Environment variable: a folder for the checkpoints of long tasks (authors-scale); unset: none.
CHECKPOINT_ENV = "ESCAPE_NTK_CHECKPOINTS"


def authors_log_steps(horizon: int, points: int) -> list[int]:
    """0 and `points - 1` log-spaced steps in [1, horizon - 1] (deduplicated): the steps at which
    :func:`authors_scale` logs (values at the movement after t updates, before update t + 1)."""
    grid = np.geomspace(1, max(horizon - 1, 1), points - 1)
    return sorted({0, *(int(t) for t in np.round(grid))})


def _checkpoint_path(params: dict):
    root = os.environ.get(CHECKPOINT_ENV)
    if not root:
        return None
    key = digest({"params": params, "version": authors_scale.code_version})[:16]
    return os.path.join(root, f"authors-scale-{params['variant']}-{params['lam']:g}-"
                              f"{params['seed']}-{params['steps']}-{key}.pt")


@task_version("1")
def authors_scale(*, seed: int, lam: float, variant: str, steps: int, horizon: int, d: int,
                  n: int, m: int, n_test: int, n_k: int, lr: float, lam_emp: float,
                  samples: int, log_points: int, block_rows: int, act: str,
                  device: torch.device, dtype: torch.dtype) -> dict:
    """The authors' synthetic experiment (github.com/eshnich/escape_NTK, neurips_experiment.ipynb)
    on the Taylor model f_L + f_Q from U = 0, by full-batch GD with :class:`escape_ntk.blocked.
    BlockedStep`.

    Draw order from ``torch.Generator().manual_seed(seed)`` (float64, then cast): W0 (m/2 unit-norm
    Gaussian rows, duplicated; a = (+1.., -1..)/sqrt m), beta (uniform unit vector), X (n, d) and
    X_test (n_test, d) ~ N(0, I_d), then per step the population samples X_s (samples, d).
    Target ((beta.x)^2 - 1 + beta.x)/sqrt 3 (variance 1). Loss (1/n)||f - y||^2, lr as theirs.
    variant 'pop' (theirs): lam_emp R_1 (empirical, top n_k Gram eigenvectors) + lam x the
    population R_1 on fresh samples; variant 'emp' (the book's): lam x the empirical R_1 alone.
    Runs `steps` updates; logs at :func:`authors_log_steps` (horizon, log_points) below `steps`,
    so a shorter run logs a prefix of a longer one. Returns steps, train, test (MSE on the test
    set), R1 (empirical), R1_pop (the population R_1 on that step's samples; 'pop' only),
    linear (||f_L||^2/n), lam_max (lambda_max(K/n)). With $ESCAPE_NTK_CHECKPOINTS set, saves a
    checkpoint every 500 steps and resumes from it. Cost per step ~5 n m d flops (+ 2 s m n).
    """
    if variant not in ("pop", "emp"):
        raise ValueError(f"variant must be 'pop' (the authors' population R_1) or 'emp' (the "
                         f"empirical R_1 alone); got {variant!r}.")
    if device.type != "cpu":
        raise ValueError("authors-scale runs on the CPU only (its step is tuned for cache "
                         "blocking); use --device cpu.")
    g = torch.Generator().manual_seed(seed)
    W0, a = init_symmetric(m, d, g, torch.float64, dist="unit")
    beta = tg.random_direction(d, g)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    X_test = torch.randn(n_test, d, generator=g, dtype=torch.float64)

    def fstar(Xq):
        z = Xq @ beta
        return (z * z - 1 + z) / math.sqrt(3)

    y, y_test = fstar(X), fstar(X_test)
    K = ntk_gram(X, W0, a, act)
    threads = torch.get_num_threads()
    try:                                  # eigenvectors bitwise the same whatever the threads
        torch.set_num_threads(1)
        evals, evecs = torch.linalg.eigh(K)
    finally:
        torch.set_num_threads(threads)
    evals, evecs = evals.flip(0), evecs.flip(1)
    lam_max = float(evals[0]) / n
    del K
    T = Taylor(X.to(dtype), W0.to(dtype), a.to(dtype), act)
    step = BlockedStep(T, evecs[:, :n_k], evals[:n_k], block_rows=block_rows)
    yd, Xt, W0d, ad = y.to(dtype), X_test.to(dtype), W0.to(dtype), a.to(dtype)
    yt = y_test.to(dtype)
    lam_e, lam_p = (lam_emp, lam) if variant == "pop" else (lam, 0.0)
    log_at = [t for t in authors_log_steps(horizon, log_points) if t < steps]
    rows = {k: [] for k in ("steps", "train", "test", "R1", "R1_pop", "linear")}
    Ut = torch.zeros(d, m, dtype=dtype)
    start = 0
    ckpt = _checkpoint_path({"seed": seed, "lam": lam, "variant": variant, "steps": steps,
                             "horizon": horizon, "d": d, "n": n, "m": m, "n_test": n_test,
                             "n_k": n_k, "lr": lr, "lam_emp": lam_emp, "samples": samples,
                             "log_points": log_points, "block_rows": block_rows, "act": act,
                             "dtype": str(dtype)})
    if ckpt and os.path.exists(ckpt):
        state = torch.load(ckpt, weights_only=False)
        Ut, start, rows = state["Ut"], state["t"], state["rows"]
        g.set_state(state["gen"])
    logs = set(log_at)
    bar = tqdm(total=steps, initial=start, desc=f"authors-scale {variant} lam={lam:g} "
               f"seed={seed}", file=sys.stderr, mininterval=30, disable=steps < 1000)
    for t in range(start, steps):
        Xs = (torch.randn(samples, d, generator=g, dtype=torch.float64).to(dtype)
              if variant == "pop" else None)
        if t in logs:
            test = predict_blocked(Xt, W0d, ad, act, Ut.T)
        out = step.step(Ut, yd, lr, lam_e, lam_p, Xs)
        if not math.isfinite(out["mse"]):
            raise FloatingPointError(f"authors-scale diverged at step {t} (lr = {lr}).")
        if t in logs:
            fL = out["fL"]
            rows["steps"].append(t)
            rows["train"].append(out["mse"])
            rows["test"].append(float((test - yt).square().mean()))
            rows["R1"].append(out["R1"])
            rows["R1_pop"].append(out.get("R1_pop"))
            rows["linear"].append(float(fL @ fL) / n)
        bar.update(1)
        if ckpt and (t + 1) % 500 == 0 and t + 1 < steps:
            os.makedirs(os.path.dirname(ckpt), exist_ok=True)
            tmp = ckpt + ".tmp"
            torch.save({"Ut": Ut, "t": t + 1, "rows": rows, "gen": g.get_state()}, tmp)
            os.replace(tmp, ckpt)
    bar.close()
    if variant == "emp":
        rows.pop("R1_pop")
    return {**rows, "lam_max": lam_max}


def _authors_cost(p) -> float:
    return float(p["steps"]) * (1.0 + (0.4 if p["variant"] == "pop" else 0.0))


_AUTHORS_FIXED = {"horizon": 20000, "d": 100, "n": 1000, "m": 10000, "n_test": 10000, "n_k": 100,
                  "lr": 1.0, "lam_emp": 0.01, "samples": 100, "log_points": 60,
                  "block_rows": 50, "act": "sigmoid_shift"}

#: The authors' experiment at their scale, on their protocol ('pop') and the book's ('emp').
AUTHORS_SCALE = Sweep(
    name="authors-scale",
    task=authors_scale,
    # pop: the authors' weights, then 1 and 10 (n x their best weights 1e-3, 1e-2: the
    # hypothesis that their figure's penalty was n times the stored code's); emp: up to 10
    tasks=tuple(grid(variant=["pop"], lam=[0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
                     seed=[1, 11, 111], steps=[20000, 2000])
                + grid(variant=["emp"], lam=[0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0], seed=[1, 11, 111],
                       steps=[20000, 2000])),
    fixed=_AUTHORS_FIXED,
    dtype="float32",
    rtol=2e-3,
    atol=1e-6,
    cost=_authors_cost,
    description="the authors' synthetic experiment at d = 100, n = 1000, m = 10^4, T = 2 10^4",
)

#: The library's sweeps by name (see :func:`registry` for sweeps declared elsewhere).
SWEEPS: dict[str, Sweep] = {s.name: s for s in (NTK_REGRESSION, NET_TAYLOR, MLP_REALISTIC,
                                                DIGITS_TAYLOR, AUTHORS_SCALE)}

#: Environment variable: comma-separated importable modules whose module-level Sweep objects
#: join the registry (your own sweeps outside the library; the tests' small sweeps).
PLUGINS_ENV = "ESCAPE_NTK_SWEEPS"


#: Library modules above this one in the module map (their tasks train models) whose
#: ``RATE_SWEEPS`` join the registry; imported by name on first use of :func:`registry`.
LIBRARY_SWEEP_MODULES = ("escape_ntk.rate_sweeps",)


def registry() -> dict[str, Sweep]:
    """Every declared sweep: the library's (this module's and those of ``LIBRARY_SWEEP_MODULES``),
    then those of the modules in $ESCAPE_NTK_SWEEPS."""
    out = dict(SWEEPS)
    for mod in LIBRARY_SWEEP_MODULES:
        out.update(importlib.import_module(mod).RATE_SWEEPS)
    for mod in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            module = importlib.import_module(mod)
        except ImportError as err:
            raise SweepError(f"${PLUGINS_ENV} names module {mod!r}, which does not import "
                             f"({err}); put it on PYTHONPATH or fix the name.") from err
        for obj in vars(module).values():
            if isinstance(obj, Sweep):
                if obj.name in out and out[obj.name] is not obj:
                    raise SweepError(f"sweep {obj.name!r} of module {mod!r} clashes with another "
                                     f"sweep of that name; rename one.")
                out[obj.name] = obj
    return out


def get(name: str) -> Sweep:
    """The declared sweep called ``name``."""
    sweeps = registry()
    try:
        return sweeps[name]
    except KeyError:
        raise SweepError(f"no sweep named {name!r}; declared sweeps: {', '.join(sorted(sweeps))} "
                         f"(python -m escape_ntk list).") from None
