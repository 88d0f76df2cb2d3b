"""Harmonic analysis behind the NTK spectrum: Hermite coefficients, Gegenbauer, Funk–Hecke.

Conventions (paper-notes §1.2, §3.2, §7):
- mu_j(f) = E[f(z) He_j(z)], z ~ N(0, 1), with He_j the probabilists' Hermite polynomials,
  E[He_i He_j] = j! delta_ij; the normalized h_j = He_j / sqrt(j!) are orthonormal.
- x uniform on S^{d-1}(sqrt d); t = x.x'/d has density prop. to (1 - t^2)^((d-3)/2) on [-1, 1].
  Q_l is the degree-l Gegenbauer polynomial normalized so that Q_l(1) = 1;
  E_t[Q_l Q_k] = delta_lk / B(d, l).
- The infinite-width first-layer NTK is K(x, x') = h(t) = d t sum_j mu_j(sigma')^2 t^j / j!
  (Mehler). Its Funk–Hecke eigenvalue on the degree-l harmonics is lambda_l = E_t[h(t) Q_l(t)],
  with multiplicity B(d, l).

Used by the harmonics and spectrum chapters. Every function here takes milliseconds.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np
import torch
from scipy.special import gammaln, roots_jacobi, roots_legendre

from ._checks import check_degree, check_dim, check_positive_int
from .activations import as_callable

MAX_DEGREE = 256  # highest Hermite degree the quadrature resolves (c_j to ~1e-14)
MAX_TERMS = MAX_DEGREE + 1  # most terms of the Mehler series used by the NTK routines
_HALF_LINE = 14.0  # the Gaussian weight is below e^{-98} beyond |z| = 14
_PANELS, _PANEL_NODES = 14, 32  # Gauss–Legendre panels of width 1 on [0, 14], mirrored to [-14, 0]


# ------------------------------------------------------------------------------ Hermite polynomials


def _hermite_rows(degree: int, z, normalized: bool) -> list:
    """[He_0(z), ..., He_degree(z)] (or h_j = He_j / sqrt(j!)) by the three-term recurrence."""
    rows = [z * 0 + 1]
    if degree >= 1:
        rows.append(z * 1)
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
def _gauss_nodes() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(z)], z ~ N(0,1): composite Gauss–Legendre on [-14, 0] and [0, 14].

    The split at 0 keeps the rule accurate for f with a kink or a jump at 0 (ReLU, step).
    """
    x, w = roots_legendre(_PANEL_NODES)
    edges = np.linspace(0.0, _HALF_LINE, _PANELS + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    z, wz = (lo + (hi - lo) * (x + 1) / 2).ravel(), ((hi - lo) / 2 * w).ravel()
    z, wz = np.concatenate([-z[::-1], z]), np.concatenate([wz[::-1], wz])
    return z, wz * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)


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


def normal_expectation(f: Callable) -> float:
    """E[f(z)] for z ~ N(0, 1) by the split Gauss–Legendre rule (~1e-15; kinks at 0 are fine)."""
    z, w = _gauss_nodes()
    return float(w @ _evaluate(f, z))


def hermite_coefficients(f: Callable, degree: int, normalized: bool = False) -> np.ndarray:
    """Hermite coefficients (mu_0, ..., mu_degree), mu_j = E[f(z) He_j(z)], z ~ N(0, 1) (NumPy f64).

    `f` is a callable on NumPy arrays (an Activation works and means sigma). With `normalized=True`
    returns c_j = E[f h_j] = mu_j / sqrt(j!) instead (what the Mehler series uses; never overflows).
    Quadrature: composite Gauss–Legendre on [-14, 0] and [0, 14] (896 nodes), so f may have a
    kink or a jump at 0; c_j is accurate to ~1e-14 up to degree 256, exact for polynomials up to
    rounding. O(degree * 900) flops. Harmonics chapter; paper-notes §1.2.
    """
    degree = check_degree(degree)
    if degree > MAX_DEGREE:
        raise ValueError(f"degree = {degree} is above the supported maximum {MAX_DEGREE}; "
                         f"ask for fewer coefficients.")
    z, w = _gauss_nodes()
    fw = w * _evaluate(f, z)
    c = np.array([row @ fw for row in _hermite_rows(degree, z, normalized=True)])
    if normalized:
        return c
    return c * np.exp(0.5 * gammaln(np.arange(degree + 1) + 1.0))


# ------------------------------------------------------------------------------ spherical harmonics


def harmonic_dimension(d: int, l: int) -> int:
    """B(d, l) = C(l+d-1, l) - C(l+d-3, l-2), the dimension of degree-l harmonics on S^{d-1} (int).

    B(20, l) = 1, 20, 209, 1520, 8645 for l = 0..4; B(d, 2) = (d-1)(d+2)/2; B(d, l) ~ d^l / l!.
    """
    d, l = check_dim(d), check_degree(l)
    return math.comb(l + d - 1, l) - (math.comb(l + d - 3, l - 2) if l >= 2 else 0)


def gegenbauer(l: int, d: int, t):
    """Q_l(t): the degree-l Gegenbauer polynomial for S^{d-1}, normalized so that Q_l(1) = 1.

    Q_{k+1} = ((2k + d - 2) t Q_k - k Q_{k-1}) / (k + d - 2), Q_0 = 1, Q_1 = t (d = 3: Legendre,
    d = 2: Chebyshev). E_t[Q_l Q_k] = delta_lk / B(d, l). Torch in, torch out (same dtype), else
    float64 NumPy. O(l) passes over t.
    """
    l, d = check_degree(l, "degree l"), check_dim(d)
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


def _degree_list(degrees) -> list[int]:
    if isinstance(degrees, numbers.Integral) and not isinstance(degrees, bool):
        degrees = range(check_degree(degrees, "largest degree L") + 1)
    if not isinstance(degrees, Iterable):
        raise TypeError(f"degrees must be an int L (meaning 0..L) or a list of ints; "
                        f"got {type(degrees).__name__}.")
    degrees = [check_degree(l, "degree l") for l in degrees]
    if not degrees:
        raise ValueError("degrees is empty; pass e.g. degrees=range(5).")
    return degrees


def funk_hecke(h: Callable, d: int, degrees, nodes: int = 128) -> np.ndarray:
    """Funk–Hecke eigenvalues lambda_l = E_t[h(t) Q_l(t)] of K(x, x') = h(x.x'/d), x on the sphere.

    `h`: callable on NumPy arrays; `degrees`: an int L (meaning 0..L) or a list. Exact when h is a
    polynomial of degree < 2 nodes - max(degrees); for tiny lambda_l (high l, large d) the
    quadrature cancels to ~1e-16 * max|h| absolute. NumPy float64. O(nodes * max(degrees)).
    """
    d = check_dim(d)
    degrees = _degree_list(degrees)
    t, w = _jacobi_nodes(d, check_positive_int(nodes, "nodes"))
    hw = w * _evaluate(h, t, "h")
    return np.array([gegenbauer(l, d, t) @ hw for l in degrees])


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


# ------------------------------------------------------------------------------ infinite-width NTK


def as_dsigma(dsigma) -> Callable:
    """sigma' from a callable on NumPy arrays, an Activation or an activation name (its .dsigma)."""
    return as_callable(dsigma, 1, "dsigma")


def ntk_series_coefficients(dsigma, terms: int) -> np.ndarray:
    """Mehler coefficients c_j^2 = mu_j(sigma')^2 / j!, j < terms, of h(t) = d t sum_j c_j^2 t^j.

    NumPy float64; they sum to E[sigma'(z)^2] (Parseval). O(terms * 900) flops.
    """
    terms = check_positive_int(terms, "terms")
    return hermite_coefficients(as_dsigma(dsigma), terms - 1, normalized=True) ** 2


def ntk_trace(dsigma, d: int) -> float:
    """h(1) = K(x, x) = d E[sigma'(z)^2]: the kernel's diagonal, = sum_l B(d, l) lambda_l."""
    d = check_dim(d)
    f = as_dsigma(dsigma)
    return d * normal_expectation(lambda z: f(z) ** 2)


def _parity_tails(f: Callable, c2: np.ndarray) -> np.ndarray:
    """tails[p] = sum_{j >= MAX_TERMS, j = p mod 2} c_j^2 from E[f_p^2], f_p the even/odd part of f.

    Differences below 64 eps E[f^2] are rounding and count as 0.
    """
    tails = np.zeros(2)
    for p, sign in ((0, 1.0), (1, -1.0)):
        whole = normal_expectation(lambda z, s=sign: ((f(z) + s * f(-z)) / 2) ** 2)
        tails[p] = whole - c2[p::2].sum()
    floor = 64 * np.finfo(np.float64).eps * (c2.sum() + tails.sum())
    return np.where(tails > floor, tails, 0.0)


def _abs_moment_bound(M: np.ndarray, k: int) -> float:
    """E|t|^k <= (E t^{2r})^{k/2r} with 2r = k rounded up to even (Lyapunov)."""
    k_even = k + (k % 2)
    return float(M[k_even, 0]) ** (k / k_even)


def ntk_eigenvalues(dsigma, d: int, degrees, terms: int = MAX_TERMS,
                    rtol: float = 1e-6) -> np.ndarray:
    """Funk–Hecke eigenvalues lambda_l of the infinite-width first-layer NTK on S^{d-1}(sqrt d).

    K(x, x') = (x.x') E_w[sigma'(w.x) sigma'(w.x')], w ~ N(0, I_d/d), equals
    h(t) = d t sum_j c_j^2 t^j with c_j^2 = mu_j(sigma')^2 / j! and t = x.x'/d (Mehler). So
    lambda_l = E_t[h Q_l] = d sum_{j<J} c_j^2 E_t[t^{j+1} Q_l], J = `terms`, with the exact moments
    of `gegenbauer_moments`: all terms are >= 0, so every lambda_l has full relative precision, even
    ~1e-30. The truncation error is at most d (sum_{j>=J, j = l-1 mod 2} c_j^2) E|t|^{J+1}; with the
    default J = MAX_TERMS a RuntimeWarning reports it if it exceeds rtol lambda_l (e.g. ReLU, whose
    c_j^2 ~ j^{-3/2} decay slowly, at d < 10). `dsigma`: callable, Activation or name;
    `degrees`: int L (meaning 0..L) or a list. NumPy float64. O(J (J + max(degrees))) flops.
    Spectrum chapter; paper-notes §3.2.
    """
    d = check_dim(d)
    degrees = _degree_list(degrees)
    J = min(check_positive_int(terms, "terms"), MAX_TERMS)
    f = as_dsigma(dsigma)
    c2 = ntk_series_coefficients(f, MAX_TERMS)
    M = _moments(d, MAX_TERMS + 2, max(degrees))
    lam = d * (c2[:J] @ M[1 : J + 1, degrees])
    if J == MAX_TERMS:
        tails = _parity_tails(f, c2)
        bound = d * tails[(np.array(degrees) + 1) % 2] * _abs_moment_bound(M, J + 1)
        if (bound > rtol * np.abs(lam)).any():
            worst = int(np.argmax(bound / np.maximum(np.abs(lam), 1e-300)))
            warnings.warn(f"the NTK Mehler series is not converged to rtol = {rtol:g} with "
                          f"{MAX_TERMS} terms: lambda_{degrees[worst]} = {lam[worst]:.6g} may be "
                          f"off by up to {bound[worst]:.2e}.", RuntimeWarning, stacklevel=2)
    return lam


def ntk_eigenvalues_leading(dsigma, d: int, degrees) -> np.ndarray:
    """Leading-order staircase: lambda_0 ~ mu_1(sigma')^2, lambda_l ~ l mu_{l-1}(sigma')^2 d^{1-l}.

    Relative corrections are O(1/d) and grow with l (paper-notes §3.2). NumPy float64.
    """
    d = check_dim(d)
    degrees = _degree_list(degrees)
    mu = hermite_coefficients(as_dsigma(dsigma), max(max(degrees), 1))
    return np.array([mu[1] ** 2 if l == 0 else l * mu[l - 1] ** 2 * float(d) ** (1 - l)
                     for l in degrees])


def ntk_degree_mass(dsigma, d: int, degrees, **kwargs) -> np.ndarray:
    """B(d, l) lambda_l: the part of the trace h(1) carried by the degree-l harmonics.

    At leading order d mu_{l-1}(sigma')^2 / (l-1)!. Keyword arguments go to `ntk_eigenvalues`.
    """
    degrees = _degree_list(degrees)
    lam = ntk_eigenvalues(dsigma, d, degrees, **kwargs)
    return np.array([harmonic_dimension(d, l) for l in degrees], dtype=np.float64) * lam


def self_induced_ridge(dsigma, d: int, L: int, **kwargs) -> float:
    """gamma(L) = h(1) - sum_{l<=L} B(d, l) lambda_l: the trace of all degrees above L.

    In the empirical Gram K/n the unresolved degrees form a flat bulk near gamma/n, which acts as a
    ridge (Montanari–Zhong; paper-notes §3.2). Spectrum chapter.
    """
    L = check_degree(L, "L")
    return ntk_trace(dsigma, d) - float(ntk_degree_mass(dsigma, d, range(L + 1), **kwargs).sum())
