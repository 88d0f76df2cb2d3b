"""Harmonic analysis behind the NTK spectrum: Hermite coefficients, Gegenbauer, Funk–Hecke.

Conventions (Nichani, Bai & Lee 2022; the book's Sources appendix lists the references):
- mu_j(f) = E[f(z) He_j(z)], z ~ N(0, 1), with He_j the probabilists' Hermite polynomials,
  E[He_i He_j] = j! delta_ij; the normalized h_j = He_j / sqrt(j!) are orthonormal.
- x uniform on S^{d-1}(sqrt d); t = x.x'/d has density prop. to (1 - t^2)^((d-3)/2) on [-1, 1].
  Q_l is the degree-l Gegenbauer polynomial normalized so that Q_l(1) = 1;
  E_t[Q_l Q_k] = delta_lk / B(d, l); n_k = sum_{l <= k} B(d, l).
- Dimension first, then degree: ``harmonic_dimension(d, l)``, ``gegenbauer(d, l, t)``, ``n_k(d, k)``.

The infinite-width NTK built on these (its series and eigenvalues) lives in ``infinite``.
Used by the harmonics and spectrum chapters. Every function here takes milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch

from ._checks import check_degree, check_degrees, check_dim, check_positive_int

MAX_DEGREE = 256  # highest Hermite degree the quadrature resolves (c_j to ~1e-13)
_HALF_LINE = 42.0  # h_j(z)^2 e^{-z^2/2} has its mass inside |z| < sqrt(4j + 2) = 32 for j <= 256
_PANELS, _PANEL_NODES = 84, 32  # Gauss–Legendre panels of width 1/2 on [0, 42], mirrored
_EDGE_RTOL = 1e-15  # |f(z)| e^{-z^2/4} at |z| = 42, relative to its maximum, must be below this


# ------------------------------------------------------------------------------ Hermite polynomials


def _hermite_rows(degree: int, z, normalized: bool, start=None) -> list:
    """[He_0(z), ..., He_degree(z)] (or h_j = He_j / sqrt(j!)) by the three-term recurrence.

    With `start` (an array like z), every row is multiplied by it (the recurrence is linear).
    """
    rows = [z * 0 + 1 if start is None else start]
    if degree >= 1:
        rows.append(z * rows[0])
    for k in range(1, degree):
        if normalized:  # h_{k+1} = (z h_k - sqrt(k) h_{k-1}) / sqrt(k+1): stable, never overflows
            rows.append((z * rows[k] - math.sqrt(k) * rows[k - 1]) / math.sqrt(k + 1))
        else:  # He_{k+1} = z He_k - k He_{k-1}
            rows.append(z * rows[k] - k * rows[k - 1])
    return rows


def _as_real(z):
    if isinstance(z, torch.Tensor):
        return z if z.is_floating_point() else z.to(torch.get_default_dtype())
    return np.asarray(z, dtype=np.float64)


def hermite_polynomial(j: int, z):
    """He_j(z), the probabilists' Hermite polynomial (He_0 = 1, He_1 = z, He_2 = z^2 - 1, ...).

    `z`: a torch tensor (same dtype out) or NumPy array / float (float64 out). O(j) passes over z.
    """
    j = check_degree(j, "Hermite degree j")
    return _hermite_rows(j, _as_real(z), normalized=False)[j]


def hermite_normalized(j: int, z):
    """h_j(z) = He_j(z) / sqrt(j!), orthonormal under N(0, 1); stable for large j. O(j) passes."""
    j = check_degree(j, "Hermite degree j")
    return _hermite_rows(j, _as_real(z), normalized=True)[j]


@lru_cache(maxsize=1)
def _gauss_nodes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes z, Gauss–Legendre weights w and sqrt(phi(z)) for E[f(z)] = sum w f sqrt(phi) sqrt(phi).

    Composite Gauss–Legendre on [-42, 0] and [0, 42] (panels of width 1/2, 32 nodes each). The
    split at 0 keeps the rule accurate for f with a kink or a jump at 0 (ReLU, step). The Gaussian
    density phi is split as sqrt(phi) sqrt(phi) so that neither factor underflows where
    h_j(z)^2 phi(z) still has mass (|z| up to sqrt(4j + 2)).
    """
    from scipy.special import roots_legendre  # lazy: scipy.special costs ~0.5 s to import

    x, w = roots_legendre(_PANEL_NODES)
    edges = np.linspace(0.0, _HALF_LINE, _PANELS + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    z, wz = (lo + (hi - lo) * (x + 1) / 2).ravel(), ((hi - lo) / 2 * w).ravel()
    z, wz = np.concatenate([-z[::-1], z]), np.concatenate([wz[::-1], wz])
    root_phi = np.exp(-z * z / 4) / (2 * math.pi) ** 0.25
    return z, wz, root_phi


def _evaluate(f: Callable, z: np.ndarray, what: str = "f") -> np.ndarray:
    if not callable(f):
        raise TypeError(f"{what} must be a callable on NumPy arrays (e.g. "
                        f"en.activation('relu').dsigma); got {type(f).__name__}.")
    v = f(z)
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    v = np.broadcast_to(np.asarray(v, dtype=np.float64), z.shape)
    if not np.isfinite(v).all():
        raise ValueError(f"{what} is not finite on the quadrature nodes in [{z.min():.3g}, "
                         f"{z.max():.3g}]; only functions with finite values there are supported.")
    return v


def _weighted(f: Callable) -> np.ndarray:
    """w f(z) sqrt(phi(z)) on the nodes, after checking that f does not outgrow the Gaussian."""
    z, w, root_phi = _gauss_nodes()
    g = _evaluate(f, z) * root_phi
    peak = np.abs(g).max()
    if peak > 0 and max(abs(g[0]), abs(g[-1])) > _EDGE_RTOL * peak:
        raise ValueError(f"f grows too fast for the Gaussian quadrature: |f(z)| e^(-z^2/4) at "
                         f"|z| = {_HALF_LINE:g} is {max(abs(g[0]), abs(g[-1])) / peak:.2g} of its "
                         f"maximum. Supported: f bounded by a polynomial of degree <= "
                         f"{MAX_DEGREE} (every activation and its derivatives).")
    return w * g


def normal_expectation(f: Callable) -> float:
    """E[f(z)] for z ~ N(0, 1) by the split Gauss–Legendre rule on [-42, 42].

    Accurate to ~1e-15 relative for bounded f (kinks and jumps at 0 are fine) and exact up to
    rounding for polynomials of degree <= 2 MAX_DEGREE; f growing like e^{z^2/4} or faster is
    refused (ValueError). O(5400) evaluations of f.
    """
    _, _, root_phi = _gauss_nodes()
    return float(_weighted(f) @ root_phi)


def hermite_coefficients(f: Callable, degree: int, normalized: bool = False) -> np.ndarray:
    """Hermite coefficients (mu_0, ..., mu_degree), mu_j = E[f(z) He_j(z)], z ~ N(0, 1) (NumPy f64).

    `f` is a callable on NumPy arrays (an Activation works and means sigma). With `normalized=True`
    returns c_j = E[f h_j] = mu_j / sqrt(j!) instead (what the Mehler series uses; never overflows).
    Quadrature: composite Gauss–Legendre on [-42, 0] and [0, 42] (5376 nodes) against the Hermite
    functions h_j(z) e^{-z^2/4}, so f may have a kink or a jump at 0. Valid range (enforced):
    degree <= MAX_DEGREE = 256, and f bounded by a polynomial of degree <= 256 (else ValueError);
    there c_j is accurate to ~1e-13 absolute (times max |f| on the bulk), e.g. c_60(h_60) = 1.
    O(degree * 5400) flops. Harmonics chapter.
    """
    degree = check_degree(degree)
    if degree > MAX_DEGREE:
        raise ValueError(f"degree = {degree} is above the supported maximum {MAX_DEGREE}; "
                         f"ask for fewer coefficients.")
    z, _, root_phi = _gauss_nodes()
    fw = _weighted(f)
    c = np.array([row @ fw for row in _hermite_rows(degree, z, normalized=True, start=root_phi)])
    if normalized:
        return c
    return c * np.exp(0.5 * np.array([math.lgamma(j + 1.0) for j in range(degree + 1)]))


# ------------------------------------------------------------------------------ spherical harmonics


def harmonic_dimension(d: int, l: int) -> int:
    """B(d, l) = C(l+d-1, l) - C(l+d-3, l-2), the dimension of degree-l harmonics on S^{d-1} (int).

    B(20, l) = 1, 20, 209, 1520, 8645 for l = 0..4; B(d, 2) = (d-1)(d+2)/2; B(d, l) ~ d^l / l!.
    """
    d, l = check_dim(d), check_degree(l)
    return math.comb(l + d - 1, l) - (math.comb(l + d - 3, l - 2) if l >= 2 else 0)


def n_k(d: int, k: int) -> int:
    """n_k = sum_{l <= k} B(d, l), the number of degree-<= k spherical harmonics; n_k(d, 1) = 1 + d.

    The size of the NTK's top (degree-<= k) eigenspace that R_1 leaves free; n_k(20, 2) = 230.
    """
    d, k = check_dim(d), check_degree(k, "k")
    return sum(harmonic_dimension(d, l) for l in range(k + 1))


def gegenbauer(d: int, l: int, t):
    """Q_l(t): the degree-l Gegenbauer polynomial for S^{d-1}, normalized so that Q_l(1) = 1.

    Q_{k+1} = ((2k + d - 2) t Q_k - k Q_{k-1}) / (k + d - 2), Q_0 = 1, Q_1 = t (d = 3: Legendre,
    d = 2: Chebyshev). E_t[Q_l Q_k] = delta_lk / B(d, l). Torch in, torch out (same dtype), else
    float64 NumPy. O(l) passes over t.
    """
    d, l = check_dim(d), check_degree(l, "degree l")
    t = _as_real(t)
    q_prev, q = t * 0 + 1, t * 1
    if l == 0:
        return q_prev
    for k in range(1, l):
        q_prev, q = q, ((2 * k + d - 2) * t * q - k * q_prev) / (k + d - 2)
    return q


@lru_cache(maxsize=64)
def _jacobi_nodes(d: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    alpha = (d - 3) / 2
    from scipy.special import roots_jacobi  # lazy, as in _gauss_nodes

    t, w = roots_jacobi(nodes, alpha, alpha)
    return t, w / w.sum()


def sphere_expectation(g: Callable, d: int, nodes: int = 128) -> float:
    """E_t[g(t)], t = x.x'/d for x, x' uniform on S^{d-1}(sqrt d): density ∝ (1 - t^2)^((d-3)/2).

    Gauss–Jacobi quadrature with `nodes` points (alpha = beta = (d-3)/2), exact for polynomials of
    degree < 2 * nodes. `g` is a callable on NumPy arrays. O(nodes^2) to build the rule (cached).
    """
    d, nodes = check_dim(d), check_positive_int(nodes, "nodes")
    t, w = _jacobi_nodes(d, nodes)
    return float(w @ _evaluate(g, t, "g"))


def funk_hecke(h: Callable, d: int, degrees, nodes: int = 128) -> np.ndarray:
    """Funk–Hecke eigenvalues lambda_l = E_t[h(t) Q_l(t)] of K(x, x') = h(x.x'/d), x on the sphere.

    `h`: callable on NumPy arrays; `degrees`: an int L (meaning 0..L) or a list. Exact when h is a
    polynomial of degree < 2 nodes - max(degrees); for tiny lambda_l (high l, large d) the
    quadrature cancels to ~1e-16 * max|h| absolute. NumPy float64. O(nodes * max(degrees)).
    """
    d = check_dim(d)
    degrees = check_degrees(degrees)
    t, w = _jacobi_nodes(d, check_positive_int(nodes, "nodes"))
    hw = w * _evaluate(h, t, "h")
    return np.array([gegenbauer(d, l, t) @ hw for l in degrees])


@lru_cache(maxsize=64)
def _moments(d: int, k_max: int, l_max: int) -> np.ndarray:
    M = np.zeros((k_max + 1, l_max + k_max + 2))
    M[0, 0] = 1.0
    l = np.arange(1, M.shape[1] - 1)
    for k in range(k_max):  # t Q_l = ((l + d - 2) Q_{l+1} + l Q_{l-1}) / (2l + d - 2); t Q_0 = Q_1
        M[k + 1, 0] = M[k, 1]
        M[k + 1, 1:-1] = ((l + d - 2) * M[k, 2:] + l * M[k, :-2]) / (2 * l + d - 2)
    M.setflags(write=False)
    return M


def gegenbauer_moments(d: int, k_max: int, l_max: int) -> np.ndarray:
    """M[k, l] = E_t[t^k Q_l(t)] for k <= k_max, l <= l_max (NumPy float64, (k_max+1, l_max+1)).

    Recurrence from t Q_l = ((l+d-2) Q_{l+1} + l Q_{l-1}) / (2l+d-2): every term is non-negative, so
    each entry has full relative precision (no cancellation, unlike quadrature against Q_l).
    M[k, l] = 0 unless k >= l and k - l is even; M[2, 0] = 1/d; M[l, l] ~ l!/d^l for d >> l.
    O(k_max (k_max + l_max)).
    """
    d = check_dim(d)
    k_max, l_max = check_degree(k_max, "k_max"), check_degree(l_max, "l_max")
    return _moments(d, k_max, l_max)[:, : l_max + 1].copy()
