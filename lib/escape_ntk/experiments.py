"""The combined NTK + QuadNTK experiment: several models from one init, over seeds, as a tidy table.

A :class:`Setting` fixes the sizes, activation, target and penalty of one experiment (the book's
calibrated settings A and B, small versions of the experiment in Nichani, Bai & Lee 2022 and the
authors' code, github.com/eshnich/escape_NTK). For each seed :func:`prepare` draws the
data, the target, the symmetric init W0 and a small random U0 once, and builds the training Gram K
in float64 and the spectral penalty R_1 from it; :func:`run` then trains one :class:`Run` (NTK "L",
QuadNTK "Q", f_L + f_Q "LQ", with or without R_1 on a spectral or random subspace) from that
shared state, and :func:`compare` loops over seeds and runs and returns one row per (seed, run),
with a progress bar over runs; Ctrl-C returns the finished rows. Chapter: the combined model.
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from tqdm import tqdm

from . import targets as tg
from ._checks import check_dtype, check_generator, check_positive_int
from .data import sample_sphere
from .harmonics import n_k
from .kernels import ntk_gram
from .models import Taylor, init_symmetric, small_init
from .plotting import MODEL_LABELS
from .regularizers import R1Penalty
from .tables import Table, table
from .train import History, top_eigenvalue, train


@dataclass(frozen=True)
class Setting:
    """One experiment: target (w_dense f_k + w_sparse g_p(beta.x)), sizes, activation, steps, lam.

    ``k``: degree of the dense part (1: beta.x; 2: a random traceless x^T A x); ``p``: degree of the
    sparse part g_p(beta.x), the unit-norm degree-p Gegenbauer harmonic of one direction. The NTK
    eigenspace left free by R_1 has dimension n_k = sum_{l <= k} B(d, l).
    """

    name: str
    d: int
    n: int
    m: int
    act: str
    k: int
    p: int
    steps: int
    lam: float
    weights: tuple[float, float] = (1 / math.sqrt(2), 1 / math.sqrt(2))
    n_test: int = 2000
    lr_factor: float = 0.9
    init_scale: float = 0.1

    @property
    def n_k(self) -> int:
        return n_k(self.d, self.k)

    def replace(self, **changes) -> Setting:
        """A copy with some fields changed, e.g. ``SETTING_A.replace(steps=2000)``."""
        return replace(self, **changes)


#: Setting A: (k, p) = (1, 2), n = 250 ~ d^1.5, softplus(z - 1).
SETTING_A = Setting("A", d=40, n=250, m=500, act="softplus_shift", k=1, p=2, steps=800, lam=3.0)
#: Setting B: (k, p) = (2, 3), d = 20, n = m = 1000, ReLU^3/6.
SETTING_B = Setting("B", d=20, n=1000, m=1000, act="relu3", k=2, p=3, steps=800, lam=1.0)


@dataclass(frozen=True)
class Run:
    """One trained model: ``model`` in {"L", "Q", "LQ"}; ``lam`` (None: the setting's) on a penalty
    built from the ``subspace`` "spectral" (top-n_k eigenvectors of K) or "random"; ``n_k`` None
    means the setting's n_k."""

    label: str
    model: str
    lam: float | None = 0.0
    subspace: str = "spectral"
    n_k: int | None = None


#: The four models of the headline comparison.
HEADLINE = (Run("L", "L"), Run("Q", "Q"), Run("LQ", "LQ"), Run("LQ+R1", "LQ", lam=None))


@dataclass
class Problem:
    """Everything one seed shares across runs: train/test Taylor models (float32 by default), the
    target and labels, the float64 Gram K, the spectral penalty, the small init U0."""

    setting: Setting
    taylor: Taylor
    test: Taylor
    target: object
    y: torch.Tensor
    K: torch.Tensor
    penalty: R1Penalty
    U0: torch.Tensor
    generator: torch.Generator
    _penalties: dict = field(default_factory=dict)

    @property
    def lr(self) -> float:
        """The common learning rate lr_factor / lambda_max(K/n)."""
        return self.setting.lr_factor * self.setting.n / float(self.penalty.evals[0])


def make_target(setting: Setting, generator: torch.Generator | None = None):
    """f* = w_1 f_k + w_2 g_p(beta.x), unit-norm orthogonal components on S^{d-1}(sqrt d)."""
    d = setting.d
    beta = tg.random_direction(d, generator)
    if setting.k == 1:
        dense = tg.linear(beta)
    elif setting.k == 2:
        dense = tg.dense_quadratic(d, generator)
    else:
        raise ValueError(f"dense part of degree k = {setting.k} is not implemented; use k = 1 "
                         f"(beta.x) or k = 2 (x^T A x).")
    if setting.p <= setting.k:
        raise ValueError(f"the sparse degree p = {setting.p} must exceed k = {setting.k}.")
    sparse = tg.gegenbauer_index(beta, setting.p)
    (w1, w2) = setting.weights
    return tg.mix((w1, dense), (w2, sparse))


def prepare(setting: Setting, generator: torch.Generator | None = None,
            dtype: torch.dtype = torch.float32) -> Problem:
    """Draw one seed's problem: X (n, d), X_test, f*, W0, a, U0; K and R_1 (spectral, n_k).

    Weights and inputs are drawn in float64 and cast, so float32 and float64 runs see the same
    problem. Cost: the float64 Gram O(n^2 m) and one float64 eigh O(n^3).
    """
    s = setting
    dtype, generator = check_dtype(dtype), check_generator(generator)
    X = sample_sphere(s.n, s.d, generator, torch.float64)
    X_test = sample_sphere(s.n_test, s.d, generator, torch.float64)
    target = make_target(s, generator)
    W0, a = init_symmetric(s.m, s.d, generator, torch.float64)
    U0 = small_init(s.m, s.d, generator, scale=s.init_scale, dtype=dtype)
    K = ntk_gram(X, W0, a, s.act)
    penalty = R1Penalty.spectral(K, s.n_k)
    taylor = Taylor(X.to(dtype), W0.to(dtype), a.to(dtype), s.act)
    test = Taylor(X_test.to(dtype), W0.to(dtype), a.to(dtype), s.act)
    y = target(X).to(dtype)
    return Problem(s, taylor, test, target, y, K, penalty, U0, generator)


def penalty_for(problem: Problem, spec: Run) -> R1Penalty:
    """The R_1 penalty of a run: spectral top-n_k eigenvectors of K, or a random n_k-dim subspace
    (drawn once per problem from its generator)."""
    nk = problem.setting.n_k if spec.n_k is None else spec.n_k
    key = (spec.subspace, nk)
    if key not in problem._penalties:
        if spec.subspace == "spectral":
            pen = (problem.penalty if nk == problem.penalty.n_k
                   else R1Penalty.spectral(problem.K, nk))
        elif spec.subspace == "random":
            pen = R1Penalty.random(problem.setting.n, nk, problem.generator)
        else:
            raise ValueError(f"unknown subspace {spec.subspace!r}; use 'spectral' or 'random'.")
        problem._penalties[key] = pen
    return problem._penalties[key]


def run(problem: Problem, spec: Run, *, log_points: int = 3, steps: int | None = None,
        progress: bool = False) -> History:
    """Train one run from the problem's shared init. "L" starts at U = 0, "Q"/"LQ" at U0.

    Learning rate: the common lr_factor / lambda_max(K/n), lowered to lr_factor / lambda_max of the
    penalized linear dynamics when the penalty makes that binding (:func:`en.top_eigenvalue`).
    The penalty is always passed, so R_1 is logged for every model.
    """
    s = problem.setting
    lam = s.lam if spec.lam is None else spec.lam
    pen = penalty_for(problem, spec)
    lr = problem.lr
    if spec.model != "Q" and lam > 0:
        lr = min(lr, s.lr_factor / top_eigenvalue(problem.taylor, lam, pen))
    U0 = None if spec.model == "L" else problem.U0
    return train(problem.taylor, problem.y, model=spec.model, lr=lr,
                 steps=s.steps if steps is None else steps, lam=lam, penalty=pen, U0=U0,
                 test=problem.test, target=problem.target, log_points=log_points,
                 progress=progress)


def compare(setting: Setting, runs=HEADLINE, n_seeds: int = 3,
            generator: torch.Generator | None = None, *, log_points: int = 3,
            dtype: torch.dtype = torch.float32, progress: bool = False) -> list[dict]:
    """Train every run on `n_seeds` problems drawn in turn from `generator`; a row per seed and run.

    Row keys: setting, seed, label, model, lam, lr, test (test MSE / Var f*), train, R1 (final),
    dense and sparse (captured fractions of the two components), components (their names in
    History.captured), history (the History).
    `progress`: a bar over the runs (and one per run's steps). Ctrl-C stops the loop and returns
    the rows of the runs finished so far (a RuntimeWarning says how many); an interrupted run is
    left out. Cost: n_seeds x (Gram + eigh) + n_seeds x len(runs) x steps GD steps of O(nmd).
    """
    if not isinstance(setting, Setting):
        raise TypeError(f"setting must be an escape_ntk.experiments.Setting; got "
                        f"{type(setting).__name__}.")
    n_seeds = check_positive_int(n_seeds, "n_seeds")
    runs = tuple(runs)
    if not runs or not all(isinstance(r, Run) for r in runs):
        raise TypeError("runs must be a non-empty sequence of escape_ntk.experiments.Run.")
    rows: list[dict] = []
    bar = tqdm(total=n_seeds * len(runs), desc=f"setting {setting.name}", disable=not progress)
    try:
        for seed in range(n_seeds):
            problem = prepare(setting, generator, dtype)
            names = component_names(problem.target)
            for spec in runs:
                h = run(problem, spec, log_points=log_points, progress=progress)
                if h.interrupted:
                    raise KeyboardInterrupt
                rows.append({"setting": setting.name, "seed": seed, "label": spec.label,
                             "model": spec.model, "lam": h.lam, "lr": h.lr,
                             "test": h.final("test"), "train": h.final("train"),
                             "R1": h.final("R1"), "dense": h.final(names[0]),
                             "sparse": h.final(names[1]), "components": names, "history": h})
                bar.update(1)
    except KeyboardInterrupt:
        warnings.warn(f"compare interrupted: returning the {len(rows)} finished runs of "
                      f"{n_seeds * len(runs)}.", RuntimeWarning, stacklevel=2)
    finally:
        bar.close()
    return rows


def component_names(target) -> tuple[str, str]:
    """Names of the (dense, sparse) components, as keyed in History.captured."""
    return tuple(c.name for _, c in target.components)


def summarize(rows: list[dict], value: str) -> dict[str, tuple[float, float]]:
    """{label: (mean, std)} of `value` over seeds (population std), labels in first-seen order."""
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(r["label"], []).append(float(r[value]))
    return {k: (float(np.mean(v)), float(np.std(v))) for k, v in out.items()}


def values(rows: list[dict], label: str, value: str) -> np.ndarray:
    """The per-seed values of `value` for one label, in seed order."""
    return np.array([r[value] for r in rows if r["label"] == label], dtype=np.float64)


def series(rows: list[dict], label: str, name: str) -> np.ndarray:
    """(seeds, log points) array of a logged History series ('train', 'test', 'R1', ...) or of a
    captured fraction ('dense', 'sparse') for one label; the steps are any history's ``steps``."""
    out = []
    for r in rows:
        if r["label"] != label:
            continue
        h = r["history"]
        if name in ("dense", "sparse"):
            out.append(h.captured[r["components"][("dense", "sparse").index(name)]])
        else:
            out.append(getattr(h, name))
    return np.array(out, dtype=np.float64)


def _table_cells(rows, columns, names, digits):
    names = names or {}
    stats = {c: summarize(rows, c) for c in columns}
    head = ["model"] + [names.get(c, c) for c in columns]
    body = [[names.get(label, label)] + [f"{stats[c][label][0]:.{digits}f} ± "
                                         f"{stats[c][label][1]:.{digits}f}" for c in columns]
            for label in stats[columns[0]]]
    return head, body


def seed_table(rows: list[dict], names: dict | None = None,
               columns=("test", "dense", "sparse", "R1"), digits: int = 3) -> Table:
    """Mean ± std over seeds as an :func:`escape_ntk.table`: one line per model (named as in the book's
    figures, ``MODEL_LABELS``), one column per logged value (renamed by ``names``). Cost O(rows)."""
    head, body = _table_cells(rows, columns, {**MODEL_LABELS, **(names or {})}, digits)
    return table(body, head)


def markdown_table(rows: list[dict], columns=("test", "dense", "sparse", "R1"),
                   names: dict | None = None, digits: int = 3) -> str:
    """A Markdown table of mean ± std over seeds: one line per label, one column per value."""
    head, body = _table_cells(rows, columns, names, digits)
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def html_table(rows: list[dict], columns=("test", "dense", "sparse", "R1"),
               names: dict | None = None, digits: int = 3) -> str:
    """The same table as :func:`markdown_table`, as HTML (for ``IPython.display.HTML``)."""
    head, body = _table_cells(rows, columns, names, digits)
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"
