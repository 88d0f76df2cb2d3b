"""Targets of known exact L^2 norm and pure degree: dense low-degree plus sparse high-degree parts.

Sphere targets (x uniform on S^{d-1}(sqrt d)) are pure spherical harmonics; Gaussian targets
(x ~ N(0, I_d)) are pure Hermite components. Every pure target has unit L^2 norm under its input
distribution, so a mixture f* = sum_i w_i g_i of pure targets of different degrees (or orthogonal
harmonics of one degree) has norm sqrt(sum_i w_i^2): e.g. setting A, (beta.x + g_2(beta.x))/sqrt 2,
and setting B, (x^T A x + g_3(beta.x))/sqrt 2 (the targets of Nichani, Bai & Lee 2022). `captured` measures how much of
each component a predictor has learned. NTK-regression, QuadNTK and good-direction chapters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch

from ._checks import as_tensor, check_cols, check_degree, check_dim, check_generator
from .data import sample_inputs
from .harmonics import gegenbauer, harmonic_dimension, hermite_normalized

DISTS = ("sphere", "gaussian")


@dataclass(frozen=True, eq=False)
class Target:
    """A target f*: X (n, d) torch -> (n,) torch in X's dtype; O(n d) per call (x^T A x: O(n d^2)).

    name: label; d: input dimension; degree: polynomial degree (of the highest component);
    norm: exact L^2 norm under `dist` ('sphere' or 'gaussian'); fn: the function on a checked X;
    parts: ((weight, unit-norm pure Target), ...) of a mixture, () for a pure target;
    params: the defining tensors in float64 (e.g. {'beta': beta} or {'A': A}).
    """

    name: str
    d: int
    degree: int
    norm: float
    dist: str
    fn: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    parts: tuple = ()
    params: Mapping = field(default_factory=dict, repr=False)

    @property
    def components(self) -> tuple:
        """((weight, unit-norm pure Target), ...); a pure target gives ((1.0, itself),)."""
        return self.parts or ((self.norm, self),)

    def __call__(self, X) -> torch.Tensor:
        X = as_tensor(X, "X")
        check_cols(X, self.d, "X", f"target {self.name!r}")
        return self.fn(X)


def _check_dist(dist: str) -> str:
    if dist not in DISTS:
        raise ValueError(f"unknown input distribution {dist!r}; use 'sphere' or 'gaussian'.")
    return dist


def _unit(beta) -> torch.Tensor:
    beta = as_tensor(beta, "beta", ndim=1, dtype=torch.float64)
    check_dim(beta.shape[0])
    norm = beta.norm()
    if norm == 0:
        raise ValueError("beta is the zero vector; pass a direction such as "
                         "en.random_direction(d, generator).")
    return beta / norm


def _project(X: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return X @ beta.to(X.dtype)


def random_direction(d: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A unit vector beta uniform on S^{d-1} (float64, shape (d,))."""
    d, generator = check_dim(d), check_generator(generator)
    g = torch.randn(d, generator=generator, dtype=torch.float64)
    return g / g.norm()


def linear(beta, dist: str = "sphere") -> Target:
    """beta.x, beta normalized to unit length: unit norm on the sphere and under N(0, I)."""
    beta = _unit(beta)
    return Target("linear", beta.shape[0], 1, 1.0, _check_dist(dist),
                  lambda X: _project(X, beta), params={"beta": beta})


def dense_quadratic(d: int, generator: torch.Generator | None = None,
                    dist: str = "sphere") -> Target:
    """x^T A x, A random symmetric (G + G^T), tr A = 0, unit norm: a pure degree-2 harmonic.

    E[(x^T A x)^2] = 2 d ||A||_F^2 / (d + 2) on S^{d-1}(sqrt d) and 2 ||A||_F^2 under N(0, I).
    """
    d, dist, generator = check_dim(d), _check_dist(dist), check_generator(generator)
    G = torch.randn(d, d, generator=generator, dtype=torch.float64)
    A = G + G.T
    A -= torch.eye(d, dtype=torch.float64) * (A.trace() / d)
    fro2 = (d + 2) / (2 * d) if dist == "sphere" else 0.5
    A *= math.sqrt(fro2) / A.norm()
    return Target("dense_quadratic", d, 2, 1.0, dist,
                  lambda X: ((X @ A.to(X.dtype)) * X).sum(1), params={"A": A})


def sparse_monomial(d: int, idx=(0, 1, 2), dist: str = "sphere") -> Target:
    """prod_{i in idx} x_i / c for p = len(idx) distinct coordinates: a pure degree-p harmonic.

    Its Laplacian is 0. c^2 = E[prod x_i^2] = d^p / (d (d+2) ... (d+2p-2)) on S^{d-1}(sqrt d)
    (p = 3: d^2 / ((d+2)(d+4))); c = 1 under N(0, I). Named e.g. 'x1x2x3' (1-based).
    """
    d, dist = check_dim(d), _check_dist(dist)
    idx = tuple(int(i) for i in idx)
    if not idx or len(set(idx)) != len(idx) or min(idx) < 0 or max(idx) >= d:
        raise ValueError(f"idx must be distinct coordinates in 0..{d - 1}; got idx = {idx}.")
    p = len(idx)
    c = math.sqrt(math.prod(d / (d + 2 * k) for k in range(p))) if dist == "sphere" else 1.0
    cols = list(idx)
    return Target("x" + "x".join(str(i + 1) for i in idx), d, p, 1.0, dist,
                  lambda X: X[:, cols].prod(1) / c, params={"idx": idx})


def gegenbauer_index(beta, p: int) -> Target:
    """sqrt(B(d, p)) Q_p(beta.x / sqrt d): unit-norm degree-p harmonic of one direction (sphere).

    p = 1: beta.x; p = 2: ((beta.x)^2 - 1) / sqrt((2d - 2)/(d + 2)). O(n (d + p)).
    """
    beta = _unit(beta)
    p = check_degree(p, "degree p")
    d = beta.shape[0]
    scale, root_d = math.sqrt(harmonic_dimension(d, p)), math.sqrt(d)
    return Target(f"gegenbauer{p}", d, p, 1.0, "sphere",
                  lambda X: scale * gegenbauer(d, p, _project(X, beta) / root_d),
                  params={"beta": beta})


def hermite_index(beta, p: int) -> Target:
    """He_p(beta.x) / sqrt(p!): unit-norm degree-p Hermite component of one direction (Gaussian)."""
    beta = _unit(beta)
    p = check_degree(p, "degree p")
    return Target(f"hermite{p}", beta.shape[0], p, 1.0, "gaussian",
                  lambda X: hermite_normalized(p, _project(X, beta)), params={"beta": beta})


def _check_orthogonal(pure: list, n: int = 16384) -> None:
    """Raise if two same-degree components are visibly correlated (Monte Carlo, fixed seed)."""
    for i, (_, gi) in enumerate(pure):
        for _, gj in pure[i + 1:]:
            if gi.degree != gj.degree:
                continue  # pure components of different degrees are orthogonal
            X = sample_inputs(n, gi.d, torch.Generator().manual_seed(0), dist=gi.dist)
            corr = float((gi(X) * gj(X)).mean())
            if abs(corr) > 0.1:
                raise ValueError(f"components {gi.name!r} and {gj.name!r} have the same degree and "
                                 f"are not orthogonal (E[g_i g_j] ~ {corr:.3f}); mix components of "
                                 f"different degrees, or orthogonal harmonics.")


def mix(*pairs, name: str | None = None) -> Target:
    """f* = sum_i w_i g_i from (weight, Target) pairs; nested mixtures are flattened.

    Assumes the unit-norm pure components are orthogonal, so that norm = sqrt(sum_i w_i^2): true for
    different degrees (distinct harmonic or Hermite degrees); same-degree pairs are checked by Monte
    Carlo. Example (setting A): mix((2**-0.5, linear(beta)), (2**-0.5, gegenbauer_index(beta, 2))).
    """
    if not pairs:
        raise ValueError("mix needs at least one (weight, Target) pair.")
    pure = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], Target)):
            raise TypeError(f"mix takes (weight, Target) pairs; got {pair!r}.")
        w, g = float(pair[0]), pair[1]
        if not math.isfinite(w):
            raise ValueError(f"the weight of {g.name!r} is not finite ({w}).")
        pure += [(w * wi, gi) for wi, gi in g.components]
    first = pure[0][1]
    for _, g in pure:
        if (g.d, g.dist) != (first.d, first.dist):
            raise ValueError(f"cannot mix {first.name!r} (d = {first.d}, {first.dist}) with "
                             f"{g.name!r} (d = {g.d}, {g.dist}); use one d and input distribution.")
    names = [g.name for _, g in pure]
    if len(set(names)) != len(names):
        raise ValueError(f"component names must be distinct (got {names}); merge equal components "
                         f"into one weight.")
    _check_orthogonal(pure)
    weights, fns = [w for w, _ in pure], [g.fn for _, g in pure]
    return Target(name or " + ".join(names), first.d, max(g.degree for _, g in pure),
                  math.sqrt(sum(w * w for w in weights)), first.dist,
                  lambda X: sum(w * f(X) for w, f in zip(weights, fns, strict=True)),
                  parts=tuple(pure))


def _vector(y, name: str, n: int) -> torch.Tensor:
    y = as_tensor(y, name, ndim=1)
    if y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} entries but there are {n} inputs; pass one "
                         f"value per row of X.")
    return y


def captured(yhat, X, target: Target) -> dict[str, float]:
    """{component name: E_X[yhat g_i] / w_i} on test inputs X (1 = learned, 0 = not at all).

    Monte Carlo projection of the predictor on each unit-norm component; error ~ 1/sqrt(n). O(n d).
    """
    X = as_tensor(X, "X")
    yhat = _vector(yhat, "yhat", X.shape[0]).to(X.dtype)
    return {g.name: float((yhat * g(X)).mean()) / w for w, g in target.components}


def relative_mse(yhat, y, target: Target | None = None) -> float:
    """mean((yhat - y)^2) / Var f*, Var f* = target.norm^2 if a target is given, else mean(y^2).

    1 means no better than predicting 0: the primary test metric of the book's experiments.
    """
    y = as_tensor(y, "y", ndim=1)
    yhat = _vector(yhat, "yhat", y.shape[0]).to(y.dtype)
    var = target.norm**2 if target is not None else float((y**2).mean())
    if var <= 0:
        raise ValueError("the target has zero variance; the relative MSE is undefined.")
    return float(((yhat - y) ** 2).mean()) / var
