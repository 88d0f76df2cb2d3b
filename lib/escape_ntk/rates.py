"""Sample-complexity rates: learning thresholds n*(d) and fitted exponents with a seed bootstrap.

The book's rate experiment (chapter: the sample complexity as d grows) stores, for each model and
dimension d, the relative test error on a geometric grid of training-set sizes n and several seeds.
This module turns such tables into rates:

* :func:`n_star` -- the learning threshold: the smallest grid n at which the mean over seeds of the
  error falls below a threshold (optionally the geometric interpolation of the crossing between the
  last grid point above and the first below). Never a silent NaN: the result says whether the
  threshold was crossed on the grid, was already met at the smallest n, or was not reached.
* :func:`fit_exponent` -- least squares of log n* on log x, with x = d or x = B(d, l).
* :func:`rate_fit` -- the exponent with its uncertainty: seeds resampled with replacement per d,
  n* recomputed, the line refitted (bootstrap); slope, its std and a 95 % interval.
* :func:`curves` -- the (ns, errors) table of each d for one model of a loaded rate sweep.
* :func:`plot_rates` -- n* against x on log-log axes with the fitted line and reference slopes.

Pure NumPy on small arrays; cost O(n_boot * len(ds) * grid * seeds).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .harmonics import harmonic_dimension

#: What :func:`n_star` found on the grid.
REACHED, BELOW_AT_START, NOT_REACHED = "reached", "below at the smallest n", "not reached on this grid"


@dataclass(frozen=True)
class NStar:
    """A learning threshold on a grid: ``value`` (None unless ``status`` is 'reached'), the
    ``status``, the grid n (smallest grid n below the threshold, or None), the threshold and the
    mean errors over seeds on the grid."""

    value: float | None
    status: str
    grid_n: int | None
    threshold: float
    mean: tuple

    @property
    def reached(self) -> bool:
        return self.status == REACHED

    def __str__(self) -> str:
        if self.reached:
            return f"n* = {self.value:.4g}"
        return f"n* {self.status} (threshold {self.threshold:g})"


def _grid_and_errors(ns, errors) -> tuple[np.ndarray, np.ndarray]:
    ns = np.asarray(ns, dtype=np.float64)
    E = np.asarray(errors, dtype=np.float64)
    if ns.ndim != 1 or ns.size < 2:
        raise ValueError(f"ns must be a 1-D grid of at least 2 training-set sizes; got shape "
                         f"{ns.shape}.")
    if not np.all(np.isfinite(ns)) or ns.min() <= 0 or np.any(np.diff(ns) <= 0):
        raise ValueError(f"ns must be positive and strictly increasing; got {ns.tolist()}.")
    if E.ndim == 1:
        E = E[:, None]
    if E.ndim != 2 or E.shape[0] != ns.size or E.shape[1] < 1:
        raise ValueError(f"errors must have shape (len(ns), seeds) = ({ns.size}, s); got "
                         f"{np.shape(errors)}. Pass one row per grid n, one column per seed.")
    if not np.all(np.isfinite(E)) or E.min() < 0:
        raise ValueError("errors must be finite and >= 0 (relative test errors); a NaN or inf "
                         "means a run failed: fix or drop it before computing n*.")
    return ns, E


def _threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or \
            not 0 < threshold < math.inf:
        raise ValueError(f"threshold must be a positive finite number (a relative test error); "
                         f"got {threshold!r}.")
    return float(threshold)


def n_star(ns, errors, threshold: float, *, interpolate: bool = False) -> NStar:
    """The learning threshold: the smallest grid n whose mean error over seeds is < ``threshold``.

    ns (G,): increasing training-set sizes; errors (G, S) (or (G,)): relative test errors, one
    column per seed. With ``interpolate`` the value is the crossing of the straight line through
    (log n, log mean error) at the last grid point above the threshold before the first one below
    (still a grid value when the first point is already below). Status 'reached', 'below at the
    smallest n' (value None: the grid starts too late) or 'not reached on this grid' (value None:
    it ends too early). Cost O(G S).
    """
    ns, E = _grid_and_errors(ns, errors)
    thr = _threshold(threshold)
    mean = E.mean(axis=1)
    below = np.flatnonzero(mean < thr)
    if below.size == 0:
        return NStar(None, NOT_REACHED, None, thr, tuple(mean.tolist()))
    i = int(below[0])
    if i == 0:
        return NStar(None, BELOW_AT_START, int(ns[0]), thr, tuple(mean.tolist()))
    value = float(ns[i])
    if interpolate:
        e0, e1 = math.log(max(mean[i - 1], 1e-300)), math.log(max(mean[i], 1e-300))
        t = (math.log(thr) - e0) / (e1 - e0)
        value = float(math.exp(math.log(ns[i - 1]) + t * (math.log(ns[i]) - math.log(ns[i - 1]))))
    return NStar(value, REACHED, int(ns[i]), thr, tuple(mean.tolist()))


def fit_exponent(x, nstar) -> tuple[float, float]:
    """Least-squares line log n* = slope * log x + log c; returns (slope, c).

    x, nstar: positive, same length >= 2, at least two distinct x. Cost O(len(x)).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(nstar, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and nstar must be 1-D of the same length >= 2; got shapes {x.shape} "
                         f"and {y.shape}.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))) or x.min() <= 0 or y.min() <= 0:
        raise ValueError("x and nstar must be positive and finite (a threshold not reached on "
                         "the grid has no n*: extend the grid or leave that d out).")
    if np.unique(x).size < 2:
        raise ValueError(f"x needs at least two distinct values to fit a slope; got {x.tolist()}.")
    slope, logc = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(math.exp(logc))


@dataclass(frozen=True)
class RateFit:
    """A fitted rate n* ~ c x^slope: x is d (``degree`` None) or B(d, degree).

    ds, x, nstar: the dimensions, abscissae and thresholds of the full data; slope, c: the fit;
    std, ci (2.5 %, 97.5 %): over ``n_boot`` bootstrap resamples of the seeds per d (``str``
    shows slope ± std); ``dropped``:
    resamples in which some d did not reach the threshold (left out of std and ci).
    """

    ds: tuple
    x: tuple
    nstar: tuple
    degree: int | None
    slope: float
    c: float
    std: float
    ci: tuple
    n_boot: int
    dropped: int

    def __str__(self) -> str:
        against = "d" if self.degree is None else f"B(d, {self.degree})"
        return (f"n* ~ {self.c:.3g} {against}^({self.slope:.2f} ± {self.std:.2f}) "
                f"(95% [{self.ci[0]:.2f}, {self.ci[1]:.2f}])")

    def predict(self, x) -> np.ndarray:
        """c x^slope."""
        return self.c * np.asarray(x, dtype=np.float64) ** self.slope


def _abscissa(ds, degree) -> np.ndarray:
    if degree is None:
        return np.asarray(ds, dtype=np.float64)
    if isinstance(degree, bool) or not isinstance(degree, numbers.Integral) or degree < 1:
        raise ValueError(f"degree must be None (fit against d) or an integer >= 1 (fit against "
                         f"B(d, degree)); got {degree!r}.")
    return np.array([harmonic_dimension(int(d), int(degree)) for d in ds], dtype=np.float64)


def rate_fit(curves: Mapping, threshold: float, *, degree: int | None = None,
             interpolate: bool = True, n_boot: int = 2000, seed: int = 0) -> RateFit:
    """The exponent of n*(d) with a bootstrap over seeds.

    curves: {d: (ns, errors)} with errors (G, S) as in :func:`n_star` (each d its own grid and
    seeds). Fits log n* against log d (``degree`` None) or log B(d, degree). Every d must reach the
    threshold on its grid (else ValueError naming it). Bootstrap: for each of ``n_boot`` draws
    (``numpy.random.default_rng(seed)``) the S seeds of every d are resampled with replacement,
    n* recomputed and the line refitted; resamples in which a d misses the threshold are dropped
    and counted (a ValueError if more than 10 % are). Cost O(n_boot * sum_d G S).
    """
    if not isinstance(curves, Mapping) or len(curves) < 2:
        raise ValueError("curves must map at least two dimensions d to (ns, errors).")
    ds = sorted(curves)
    data = {d: _grid_and_errors(*curves[d]) for d in ds}
    thr = _threshold(threshold)
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 10:
        raise ValueError(f"n_boot must be an integer >= 10; got {n_boot!r}.")
    x = _abscissa(ds, degree)
    stars = []
    for d in ds:
        s = n_star(*data[d], thr, interpolate=interpolate)
        if not s.reached:
            raise ValueError(f"d = {d}: {s}; extend that d's grid of n or leave it out of the fit.")
        stars.append(s.value)
    slope, c = fit_exponent(x, stars)
    rng = np.random.default_rng(seed)
    slopes, dropped = [], 0
    for _ in range(int(n_boot)):
        ys = []
        for d in ds:
            ns, E = data[d]
            pick = rng.integers(0, E.shape[1], E.shape[1])
            s = n_star(ns, E[:, pick], thr, interpolate=interpolate)
            if not s.reached:
                break
            ys.append(s.value)
        if len(ys) < len(ds):
            dropped += 1
            continue
        slopes.append(fit_exponent(x, ys)[0])
    if dropped > 0.1 * n_boot:
        raise ValueError(f"{dropped} of {n_boot} bootstrap resamples miss the threshold at some "
                         f"d: n* sits at the edge of the grid; extend the grid of n.")
    slopes = np.asarray(slopes)
    return RateFit(tuple(ds), tuple(x.tolist()), tuple(stars), degree, slope, c,
                   float(slopes.std()), tuple(np.percentile(slopes, [2.5, 97.5]).tolist()),
                   int(n_boot), dropped)


def curves(df, model: str, *, value: str = "test", ridge="first") -> dict:
    """{d: (ns, errors (len(ns), seeds))} of one model from a loaded rate sweep (one row per record).

    df: a table with columns model, d, n, seed and ``value`` (``en.results.load`` of a rate
    sweep). For the kernel model the value is a list over the sweep's ridge grid: ``ridge``
    'first' takes the first (tiny, "ridgeless") ridge, 'oracle' the smallest error over the
    grid (a ridge chosen on the test set), an integer that index. Every (d, n) must have the same
    seeds (else ValueError naming the cell). Cost O(rows).
    """
    rows = df[df["model"] == model]
    if len(rows) == 0:
        raise ValueError(f"no rows for model {model!r}; models present: "
                         f"{sorted(set(df['model']))}.")
    if value not in df.columns:
        raise ValueError(f"no column {value!r}; columns: {list(df.columns)}.")

    def pick(v):
        if not isinstance(v, list | tuple):
            return float(v)
        if ridge == "first":
            return float(v[0])
        if ridge == "oracle":
            return float(min(v))
        if isinstance(ridge, numbers.Integral) and not isinstance(ridge, bool):
            return float(v[ridge])
        raise ValueError(f"ridge must be 'first', 'oracle' or an index; got {ridge!r}.")

    out = {}
    for d in sorted(set(int(x) for x in rows["d"])):
        sub = rows[rows["d"] == d]
        ns = sorted(set(int(x) for x in sub["n"]))
        seeds = sorted(set(int(x) for x in sub["seed"]))
        E = np.full((len(ns), len(seeds)), np.nan)
        for n_, s_, v in zip(sub["n"], sub["seed"], sub[value], strict=True):
            E[ns.index(int(n_)), seeds.index(int(s_))] = pick(v)
        if np.isnan(E).any():
            i, j = np.argwhere(np.isnan(E))[0]
            raise ValueError(f"model {model!r}, d = {d}: no record for n = {ns[i]}, seed = "
                             f"{seeds[j]}; every n needs the same seeds.")
        out[d] = (np.array(ns, dtype=np.float64), E)
    return out


def plot_rates(ax, fits: Mapping, *, colors: Mapping | None = None, labels: Mapping | None = None,
               references=(), ref_anchor: float | None = None) -> None:
    """n* against x (d or B(d, l)) on log-log axes: one marker series and fitted line per fit.

    fits: {name: RateFit}; references: exponents k for dashed lines x^k through (x_min,
    ``ref_anchor``) (default: the smallest n* plotted), labelled 'd^k' (or 'B^k'). Against d,
    the x ticks are the plotted dimensions.
    """
    if not fits:
        raise ValueError("fits is empty; pass {name: RateFit}.")
    colors, labels = dict(colors or {}), dict(labels or {})
    xs = np.array([v for f in fits.values() for v in f.x])
    grid = np.geomspace(xs.min(), xs.max(), 50)
    for name, f in fits.items():
        col = colors.get(name)
        line = ax.loglog(f.x, f.nstar, "o", color=col,
                         label=f"{labels.get(name, name)}: slope {f.slope:.2f} ± {f.std:.2f}")[0]
        own = np.geomspace(min(f.x), max(f.x), 50)      # each line over its own range of x
        ax.loglog(own, f.predict(own), "-", color=line.get_color(), lw=1.2)
    anchor = ref_anchor or min(v for f in fits.values() for v in f.nstar)
    sym = "d" if all(f.degree is None for f in fits.values()) else "B"
    for k in references:
        ax.loglog(grid, anchor * (grid / grid[0]) ** k, "--", color="0.55", lw=0.9)
        ax.annotate(f"${sym}^{{{k:g}}}$", (grid[-1], anchor * (grid[-1] / grid[0]) ** k),
                    fontsize=9, color="0.35", ha="left", va="center")
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    if sym == "d":                   # ticks at the dimensions (after loglog, which resets them)
        ax.xaxis.set_major_locator(FixedLocator(sorted(set(xs.tolist()))))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
