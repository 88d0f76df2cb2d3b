"""The rate sweeps: test error of every model over (d, n, seed), for the sample-complexity chapter.

One task, :func:`rate_point`, trains or fits one model on one problem (target, d, n, seed) and
returns its relative test error (test MSE / Var f*) and the captured fraction of each target
component. Three sweeps (``python -m escape_ntk list``) declare the grids; their thresholds, seeds,
ridges and training constants are in each Sweep's ``fixed``:

* ``rates-a``: setting A's target (beta.x + g_2(beta.x))/sqrt 2, (k, p) = (1, 2),
  softplus(z - 1), m = 500, lam = 3, T = 800;
* ``rates-b``: setting B's target (x^T A x + g_3(beta.x))/sqrt 2, (k, p) = (2, 3), ReLU^3/6,
  m = 1000, lam = 1, T = 800;
* ``rates-dense``: the dense traceless quadratic x^T A x alone, ReLU^3/6: the QuadNTK f_Q
  (m = 500, T = 800) against the NTK of the same activation.

Models: "ntk" (kernel ridge regression with the infinite-width NTK, :func:`escape_ntk.ntk_gram_inf`,
float64, one solve per ridge of the declared grid: the first, tiny ridge is "ridgeless", the
minimum over the grid is an *oracle* ridge chosen on the test set), and the GD models of the
combined-model driver (:mod:`escape_ntk.experiments`) trained in float32 from the shared init:
"L" (f_L from U = 0), "Q" (f_Q from a small random U0), "LQ" (f_L + f_Q, lam = 0) and "LQR1"
(f_L + f_Q + lam R_1). The draw order is the driver's (X, X_test, f*, W0 and a, U0), so every model
of one (d, n, seed) sees the same data, target and test set. This module sits above the trainer
and the driver in the module map; :func:`escape_ntk.sweeps.registry` imports it by name.
"""

from __future__ import annotations

import math

import torch

from . import targets as tg
from .data import sample_sphere
from .experiments import HEADLINE, Setting, make_target, prepare, run
from .harmonics import harmonic_dimension
from .infinite import ntk_gram_inf, ntk_profile
from .kernels import kernel_ridge, ntk_gram
from .models import Taylor, init_symmetric, small_init
from .pipeline import Sweep, grid, task_version
from .train import train

#: The models of a rate sweep, and the driver's Run of each GD model.
RUNS = {"L": HEADLINE[0], "Q": HEADLINE[1], "LQ": HEADLINE[2], "LQR1": HEADLINE[3]}
MODELS = ("ntk", *RUNS)
TARGETS = {"A": (1, 2), "B": (2, 3), "dense": (2, None)}


def _setting(target: str, d: int, n: int, m: int, act: str, steps: int, lam: float,
             n_test: int, lr_factor: float, init_scale: float) -> Setting:
    k, p = TARGETS[target]
    return Setting(f"rates-{target}", d=d, n=n, m=m, act=act, k=k, p=p or k + 1, steps=steps,
                   lam=lam, n_test=n_test, lr_factor=lr_factor, init_scale=init_scale)


def _draw_data(s: Setting, target: str, g: torch.Generator):
    """X, X_test and f* in the driver's draw order."""
    X = sample_sphere(s.n, s.d, g, torch.float64)
    X_test = sample_sphere(s.n_test, s.d, g, torch.float64)
    f = tg.dense_quadratic(s.d, g) if target == "dense" else make_target(s, g)
    return X, X_test, f


def _components(f, pred, X_test) -> dict:
    cap = tg.captured(pred, X_test, f)
    names = ("dense", "sparse")
    return {names[i]: cap[c.name] for i, (_, c) in enumerate(f.components)}


@task_version("1")
def rate_point(*, target: str, model: str, d: int, n: int, seed: int, m: int, act: str,
               steps: int, lam: float, ridges, n_test: int, lr_factor: float,
               init_scale: float, threshold: float, device: torch.device,
               dtype: torch.dtype) -> dict:
    """One (target, model, d, n, seed): relative test error and captured components.

    Draws from ``torch.Generator().manual_seed(seed)`` in the driver's order. "ntk": Grams of
    the infinite-width NTK of ``act`` (float64), kernel ridge (K/n + r I) alpha = y/n for every
    r in ``ridges``; returns test (list over ridges), dense and sparse (lists: captured fractions
    per ridge). GD models: ``steps`` of full-batch GD in ``dtype`` at lr = lr_factor /
    lambda_max(K/n) (lowered for the penalized model when its stability needs it); returns test,
    train, R1 (final values) and dense, sparse (captured; sparse is absent for the target
    'dense'). ``threshold`` is not used by the task: it is stored with the records so that the
    learning threshold travels with them. Cost: "ntk" O(n^2 (d + J) + n^3 len(ridges) / 3);
    GD O(n^2 m + n^3 + steps n m d).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}; got {target!r}.")
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}; got {model!r}.")
    s = _setting(target, d, n, m, act, steps, lam, n_test, lr_factor, init_scale)
    g = torch.Generator().manual_seed(seed)
    if model == "ntk":
        X, X_test, f = _draw_data(s, target, g)
        prof = ntk_profile(act, d)
        K = ntk_gram_inf(X.to(device), act=prof)
        K_test = ntk_gram_inf(X_test.to(device), X.to(device), act=prof)
        y, y_test = f(X).to(device), f(X_test)
        tests, caps = [], []
        for r in ridges:
            pred = kernel_ridge(K, y, float(r), K_test=K_test).cpu()
            tests.append(float(((pred - y_test) ** 2).mean()) / f.norm ** 2)
            caps.append(_components(f, pred, X_test))
        out = {"test": tests}
        for key in caps[0]:
            out[key] = [c[key] for c in caps]
        return out
    if target == "dense":
        if model != "Q":
            raise ValueError("the target 'dense' is run for the models 'ntk' and 'Q' only.")
        X, X_test, f = _draw_data(s, target, g)
        W0, a = init_symmetric(m, d, g, torch.float64)
        U0 = small_init(m, d, g, scale=init_scale, dtype=dtype)
        K = ntk_gram(X, W0, a, act)
        lam_max = float(torch.linalg.eigvalsh(K)[-1]) / n
        taylor = Taylor(X.to(dtype), W0.to(dtype), a.to(dtype), act)
        test = Taylor(X_test.to(dtype), W0.to(dtype), a.to(dtype), act)
        h = train(taylor, f(X).to(dtype), model="Q", lr=lr_factor / lam_max, steps=steps, U0=U0,
                  test=test, target=f, log_points=2, progress=False)
        return {"test": h.final("test"), "train": h.final("train"),
                "dense": h.final(f.name)}
    problem = prepare(s, g, dtype)
    h = run(problem, RUNS[model], log_points=2)
    names = [c.name for _, c in problem.target.components]
    return {"test": h.final("test"), "train": h.final("train"), "R1": h.final("R1"),
            "dense": h.final(names[0]), "sparse": h.final(names[1])}


def _cost(p) -> float:
    """Relative cost (flops): the kernel's Grams and solves, or the GD steps and the eigh."""
    n, d = p["n"], p["d"]
    if p["model"] == "ntk":
        return n * (n + p["n_test"]) * (d + 40) + n**3 * len(p["ridges"]) / 3 + 5e7
    return 12 * p["steps"] * (n + p["n_test"] / p["steps"] * 2) * p["m"] * d + 3 * n**3 + \
        n * n * p["m"] + 5e7


def ngrid(lo: float, hi: float, per_octave: int = 4) -> list[int]:
    """The geometric grid round(2^(j/per_octave)) that covers [lo, hi] (integers, increasing)."""
    if not 1 <= lo <= hi:
        raise ValueError(f"need 1 <= lo <= hi; got lo = {lo!r}, hi = {hi!r}.")
    j0 = math.floor(per_octave * math.log2(lo) + 1e-9)
    j1 = math.ceil(per_octave * math.log2(hi) - 1e-9)
    return sorted({round(2 ** (j / per_octave)) for j in range(j0, j1 + 1)})


def _windows(models: dict, seeds) -> list[dict]:
    """Ragged grid: {model: (ds, window)} with window(d) = (lo, hi) or (lo, hi, n_min), the n
    range of that d (grid points <= n_min are left out: the driver builds the penalty, for
    every GD model, from the top n_k eigenvectors of the Gram, so it needs n > n_k)."""
    tasks = []
    for model, (ds, window) in models.items():
        for d in ds:
            lo, hi, *n_min = window(d)
            ns = [n for n in ngrid(lo, hi) if not n_min or n > n_min[0]]
            tasks += grid(model=[model], d=[d], n=ns, seed=seeds)
    return tasks


def _b(d: int, l: int) -> int:
    return harmonic_dimension(d, l)


def _nk(d: int, k: int) -> int:
    return sum(harmonic_dimension(d, l) for l in range(k + 1))


#: Tolerance of the live recompute: float32 GD over 800 steps changes by up to ~3e-4 (relative)
#: with torch's thread count (the GEMMs' summation order); the kernel records (float64) agree to
#: ~1e-12. A stale record differs by far more.
_RTOL = 2e-3

_COMMON = {"steps": 800, "n_test": 2000, "lr_factor": 0.9, "init_scale": 0.1, "threshold": 0.25}

# The windows of n bracket each model's threshold as measured in a one-seed calibration
# (NTK ~ 0.7 B(d, 2) on target A, ~1.4 B(d, 3) on target B, ~2 B(d, 2) on the dense quadratic;
# the penalized model ~3d on A, ~2 n_k on B), by a factor >= 2 on each side. A window that
# misses shows up as "not reached on this grid" / "below at the smallest n" in the chapter.

#: Setting A's target (beta.x + g_2(beta.x))/sqrt 2, (k, p) = (1, 2).
RATES_A = Sweep(
    name="rates-a",
    task=rate_point,
    tasks=_windows({
        "ntk": ([10, 14, 20, 28, 40, 56], lambda d: (0.25 * _b(d, 2), 2.5 * _b(d, 2))),
        "LQR1": ([10, 14, 20, 28, 40, 56], lambda d: (d + 2, 10 * d, _nk(d, 1))),
        "LQ": ([10, 14, 20, 28, 40], lambda d: (0.25 * _b(d, 2), 2 * _b(d, 2))),
        "Q": ([10, 14, 20, 28, 40], lambda d: (0.25 * _b(d, 2), 2.5 * _b(d, 2))),
        "L": ([10, 14, 20, 28, 40], lambda d: (0.4 * _b(d, 2), 2.5 * _b(d, 2))),
    }, [0, 1, 2, 3]),
    fixed={"target": "A", "m": 500, "act": "softplus_shift", "lam": 3.0,
           "ridges": [1e-6, 1e-4, 1e-2], **_COMMON},
    dtype="float32",
    rtol=_RTOL,
    atol=1e-5,
    cost=_cost,
    description="rates, setting A's target (k, p) = (1, 2): test error of NTK regression and "
                "the GD models over (model, d, n, seed)",
)

#: Setting B's target (x^T A x + g_3(beta.x))/sqrt 2, (k, p) = (2, 3).
RATES_B = Sweep(
    name="rates-b",
    task=rate_point,
    tasks=_windows({
        "ntk": ([10, 14, 20, 28], lambda d: (0.45 * _b(d, 3), min(1.8 * _b(d, 3), 6144))),
        "LQR1": ([10, 14, 20, 28], lambda d: (1.1 * _nk(d, 2), (3.5 if d < 28 else 3) * _nk(d, 2),
                                              _nk(d, 2))),
        "LQ": ([10, 14, 20], lambda d: (1.1 * _nk(d, 2), 3.5 * _nk(d, 2), _nk(d, 2))),
        "Q": ([10, 14, 20], lambda d: (1.1 * _nk(d, 2), 3.5 * _nk(d, 2), _nk(d, 2))),
    }, [0, 1, 2]),
    fixed={"target": "B", "m": 1000, "act": "relu3", "lam": 1.0,
           "ridges": [1e-6, 1e-4, 1e-2], **_COMMON},
    dtype="float32",
    rtol=_RTOL,
    atol=1e-5,
    cost=_cost,
    description="rates, setting B's target (k, p) = (2, 3): test error of NTK regression and "
                "the GD models over (model, d, n, seed)",
)

#: The dense traceless quadratic x^T A x alone: the QuadNTK against the NTK (both ReLU^3/6).
RATES_DENSE = Sweep(
    name="rates-dense",
    task=rate_point,
    tasks=_windows({
        "ntk": ([10, 14, 20, 28, 40], lambda d: (0.7 * _b(d, 2), 5 * _b(d, 2))),
        "Q": ([10, 14, 20, 28], lambda d: (1.2 * _b(d, 2), 6 * _b(d, 2))),
    }, [0, 1, 2]),
    fixed={"target": "dense", "m": 500, "act": "relu3", "lam": 0.0,
           "ridges": [1e-6, 1e-4, 1e-2], **_COMMON},
    dtype="float32",
    rtol=_RTOL,
    atol=1e-5,
    cost=_cost,
    description="rates, the dense quadratic x^T A x: QuadNTK f_Q against NTK regression over "
                "(model, d, n, seed)",
)

#: The sweeps of the rate chapter, by name (joined to escape_ntk.sweeps.registry()).
RATE_SWEEPS = {s.name: s for s in (RATES_A, RATES_B, RATES_DENSE)}
