"""The infinite-width first-layer NTK as a kernel on data: K(x, x') = h(x.x'/d), ||x||^2 = d.

With w ~ N(0, I_d/d) and ||x||^2 = ||x'||^2 = d, (w.x, w.x') is exactly a standard bivariate normal
pair with correlation t = x.x'/d, so by Mehler's formula

    K(x, x') = (x.x') E_w[sigma'(w.x) sigma'(w.x')] = h(t) = d t sum_j c_j^2 t^j,
    c_j^2 = mu_j(sigma')^2 / j!.

The series converges fast where |t| is small (random points: |t| ~ 1/sqrt d) but slowly at |t| = 1
for ReLU-like sigma', so the exact values h(1) = d E[sigma'(z)^2] and h(-1) = -d E[sigma'(z)
sigma'(-z)] are used at t = +-1.

This module is the one home of the infinite-width NTK: its Mehler series, its Funk–Hecke
eigenvalues lambda_l on the sphere (from the exact moments E_t[t^k Q_l] of ``harmonics``), and its
Gram matrices on data. Every function takes the activation as `act` (an Activation or a name) or
sigma' as ``dsigma=`` (a callable on NumPy arrays). NTK-regression and spectrum chapters.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch

from ._checks import (
    as_tensor,
    check_cols,
    check_degree,
    check_degrees,
    check_dim,
    check_dtype,
    check_nonneg,
    check_positive_int,
)
from .activations import resolve
from .harmonics import MAX_DEGREE, _moments, harmonic_dimension, hermite_coefficients, normal_expectation

MAX_TERMS = MAX_DEGREE + 1  # most terms of the Mehler series used by the NTK routines


def ntk_series_coefficients(act=None, terms: int | None = None, *, dsigma=None) -> np.ndarray:
    """Mehler coefficients c_j^2 = mu_j(sigma')^2 / j!, j < terms, of h(t) = d t sum_j c_j^2 t^j.

    `act`: Activation or name (or ``dsigma=`` a callable on NumPy arrays). NumPy float64; they sum
    to E[sigma'(z)^2] (Parseval). O(terms * 5400) flops.
    """
    f = resolve(act, 1, dsigma=dsigma)
    terms = check_positive_int(terms, "terms")
    if terms > MAX_TERMS:
        raise ValueError(f"terms = {terms} is above the supported maximum {MAX_TERMS}; "
                         f"ask for fewer terms.")
    try:
        c2 = _mehler_coefficients(f)
    except TypeError:                          # an unhashable callable: no cache
        c2 = hermite_coefficients(f, MAX_TERMS - 1, normalized=True) ** 2
    return c2[:terms].copy()


@lru_cache(maxsize=32)
def _mehler_coefficients(f: Callable) -> np.ndarray:
    """All MAX_TERMS coefficients c_j^2 of sigma' = f, cached per callable (an Activation's bound
    methods compare equal across calls): the quadrature costs ~15 ms, and the chapters ask often."""
    c2 = hermite_coefficients(f, MAX_TERMS - 1, normalized=True) ** 2
    c2.setflags(write=False)
    return c2


def ntk_trace(act=None, d: int | None = None, *, dsigma=None) -> float:
    """h(1) = K(x, x) = d E[sigma'(z)^2]: the kernel's diagonal, = sum_l B(d, l) lambda_l.

    `act`: Activation or name (or ``dsigma=`` a callable on NumPy arrays).
    """
    f = resolve(act, 1, dsigma=dsigma)
    d = check_dim(d)
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


def ntk_eigenvalues(act=None, d: int | None = None, degrees=None, terms: int = MAX_TERMS,
                    rtol: float = 1e-6, *, dsigma=None) -> np.ndarray:
    """Funk–Hecke eigenvalues lambda_l of the infinite-width first-layer NTK on S^{d-1}(sqrt d).

    K(x, x') = (x.x') E_w[sigma'(w.x) sigma'(w.x')], w ~ N(0, I_d/d), equals
    h(t) = d t sum_j c_j^2 t^j with c_j^2 = mu_j(sigma')^2 / j! and t = x.x'/d (Mehler). So
    lambda_l = E_t[h Q_l] = d sum_{j<J} c_j^2 E_t[t^{j+1} Q_l], J = `terms`, with the exact moments
    of `gegenbauer_moments`: all terms are >= 0, so every lambda_l has full relative precision, even
    ~1e-30. The truncation error is at most d (sum_{j>=J, j = l-1 mod 2} c_j^2) E|t|^{J+1}; with the
    default J = MAX_TERMS a RuntimeWarning reports it if it exceeds rtol lambda_l (e.g. ReLU, whose
    c_j^2 ~ j^{-3/2} decay slowly, at d < 10). `act`: Activation or name (or ``dsigma=`` a
    callable on NumPy arrays); `degrees`: int L (meaning 0..L) or a list. NumPy float64.
    O(J (J + max(degrees))) flops. Spectrum chapter.
    """
    f = resolve(act, 1, dsigma=dsigma)
    d = check_dim(d)
    degrees = check_degrees(degrees)
    J = min(check_positive_int(terms, "terms"), MAX_TERMS)
    rtol = check_nonneg(rtol, "rtol")
    c2 = ntk_series_coefficients(dsigma=f, terms=MAX_TERMS)
    M = _moments(d, MAX_TERMS + 2, max(degrees))
    ev = d * (c2[:J] @ M[1 : J + 1, degrees])
    if J == MAX_TERMS:
        tails = _parity_tails(f, c2)
        bound = d * tails[(np.array(degrees) + 1) % 2] * _abs_moment_bound(M, J + 1)
        if (bound > rtol * np.abs(ev)).any():
            worst = int(np.argmax(bound / np.maximum(np.abs(ev), 1e-300)))
            warnings.warn(f"the NTK Mehler series is not converged to rtol = {rtol:g} with "
                          f"{MAX_TERMS} terms: lambda_{degrees[worst]} = {ev[worst]:.6g} may be "
                          f"off by up to {bound[worst]:.2e}.", RuntimeWarning, stacklevel=2)
    return ev


def ntk_eigenvalues_leading(act=None, d: int | None = None, degrees=None, *,
                            dsigma=None) -> np.ndarray:
    """Leading-order staircase: lambda_0 ~ mu_1(sigma')^2, lambda_l ~ l mu_{l-1}(sigma')^2 d^{1-l}.

    Relative corrections are O(1/d) and grow with l. `act`: Activation or name (or ``dsigma=``).
    NumPy float64.
    """
    f = resolve(act, 1, dsigma=dsigma)
    d = check_dim(d)
    degrees = check_degrees(degrees)
    mu = hermite_coefficients(f, max(max(degrees), 1))
    return np.array([mu[1] ** 2 if l == 0 else l * mu[l - 1] ** 2 * float(d) ** (1 - l)
                     for l in degrees])


def ntk_degree_mass(act=None, d: int | None = None, degrees=None, *, dsigma=None,
                    **kwargs) -> np.ndarray:
    """B(d, l) lambda_l: the part of the trace h(1) carried by the degree-l harmonics.

    At leading order d mu_{l-1}(sigma')^2 / (l-1)!. Keyword arguments go to `ntk_eigenvalues`.
    """
    f = resolve(act, 1, dsigma=dsigma)
    d, degrees = check_dim(d), check_degrees(degrees)
    ev = ntk_eigenvalues(dsigma=f, d=d, degrees=degrees, **kwargs)
    return np.array([harmonic_dimension(d, l) for l in degrees], dtype=np.float64) * ev


def self_induced_ridge(act=None, d: int | None = None, L: int | None = None, *, dsigma=None,
                       **kwargs) -> float:
    """gamma(L) = h(1) - sum_{l<=L} B(d, l) lambda_l: the trace of all degrees above L.

    In the empirical Gram K/n the unresolved degrees form a flat bulk near gamma/n, which acts as a
    ridge (Montanari–Zhong). `act`: Activation or name (or ``dsigma=``). Spectrum chapter.
    """
    f = resolve(act, 1, dsigma=dsigma)
    L = check_degree(L, "L")
    mass = ntk_degree_mass(dsigma=f, d=d, degrees=range(L + 1), **kwargs)
    return ntk_trace(dsigma=f, d=d) - float(mass.sum())




def _series_tail(f) -> tuple[np.ndarray, np.ndarray]:
    """(c_j^2 for j < MAX_TERMS, tail[J] = E[sigma'^2] - sum_{j<J} c_j^2 for J = 0..MAX_TERMS)."""
    c2 = ntk_series_coefficients(dsigma=f, terms=MAX_TERMS)
    second = normal_expectation(lambda z: f(z) ** 2)
    return c2, np.maximum(second - np.concatenate([[0.0], np.cumsum(c2)]), 0.0)


class NTKProfile:
    """h(t) = d t sum_{j<J} c_j^2 t^j, exact at t = +-1; call it on a torch tensor or NumPy array.

    Attributes: `d`; `coeffs` (c_j^2, j < MAX_TERMS); `tail` (E sigma'^2 - sum_{j<J} c_j^2, J >= 0);
    `diag` = h(1) = d E[sigma'^2]; `antidiag` = h(-1); `terms` (a fixed J, or None: chosen per call
    from max |t| so that the truncation error d tail[J] max|t|^(J+1) is <= rtol h(1)).
    """

    def __init__(self, act=None, d: int | None = None, terms: int | None = None,
                 rtol: float = 1e-10, *, dsigma=None):
        f = resolve(act, 1, dsigma=dsigma)
        self.d = check_dim(d)
        self.coeffs, self.tail = _series_tail(f)
        self.diag = self.d * float(self.tail[0])
        self.antidiag = -self.d * normal_expectation(lambda z: f(z) * f(-z))
        self.terms = None if terms is None else min(check_positive_int(terms, "terms"), MAX_TERMS)
        if not rtol > 0:
            raise ValueError(f"rtol must be positive; got rtol = {rtol!r}.")
        self.rtol = float(rtol)

    def error_bound(self, J: int, t_max: float) -> float:
        """Bound on |h(t) - h_J(t)| for |t| <= t_max: d tail[J] t_max^(J+1)."""
        return self.d * float(self.tail[J]) * float(t_max) ** (J + 1)

    def terms_for(self, t_max: float) -> int:
        """Series length used for |t| <= t_max: `terms` if fixed, else the smallest J whose
        `error_bound` is <= rtol h(1) (a RuntimeWarning reports the bound if MAX_TERMS is short)."""
        if self.terms is not None:
            return self.terms
        atol = self.rtol * self.diag
        J = next((J for J in range(1, MAX_TERMS + 1) if self.error_bound(J, t_max) <= atol), None)
        if J is None:
            warnings.warn(f"the NTK Mehler series needs more than {MAX_TERMS} terms at |t| = "
                          f"{t_max:.6f} (two inputs are nearly parallel); truncation error up to "
                          f"{self.error_bound(MAX_TERMS, t_max):.2e}.",
                          RuntimeWarning, stacklevel=3)
            J = MAX_TERMS
        return J

    def __call__(self, t, snap: float = 0.0):
        """h(t) elementwise; entries within `snap` of +-1 get the exact h(+-1).

        Torch in, torch out (same dtype and device); NumPy float32 stays float32, anything else
        gives float64 NumPy. O(J) in-place passes over t (Horner), run in NumPy: single-threaded,
        so the many short passes never wait on a busy thread pool.
        """
        if isinstance(t, torch.Tensor):
            return torch.from_numpy(self(t.detach().cpu().numpy(), snap)).to(t.device)
        t = np.asarray(t)
        if t.dtype.kind not in "biuf":
            raise TypeError(f"t must hold real numbers; got dtype {t.dtype}.")
        shape, t = t.shape, t.reshape(-1)
        t = t if t.dtype == np.float32 else t.astype(np.float64, copy=False)
        if t.size == 0:
            return t.reshape(shape)
        if not np.isfinite(t).all():
            raise ValueError(f"t contains {int((~np.isfinite(t)).sum())} non-finite entries (NaN "
                             f"or inf); h(t) is defined for t = x.x'/d in [-1, 1].")
        abs_t = np.abs(t)
        if abs_t.max() > 1 + max(snap, 1e-12):
            raise ValueError(f"t = x.x'/d must lie in [-1, 1]; got max |t| = {abs_t.max():.6g}. "
                             f"Are the inputs on S^(d-1)(sqrt d)? Draw them with en.sample_sphere.")
        edge = abs_t >= 1 - snap
        abs_t[edge] = 0
        J = self.terms_for(float(abs_t.max()))
        h = np.full_like(t, self.coeffs[J - 1])
        for c in self.coeffs[J - 2 :: -1]:  # Horner's rule, in place
            h *= t
            h += c
        h *= t
        h *= self.d
        h[edge] = np.where(t[edge] > 0, self.diag, self.antidiag)
        return h.reshape(shape)

    def __repr__(self) -> str:
        return f"NTKProfile(d={self.d}, diag={self.diag:.6g}, terms={self.terms})"


def ntk_profile(act=None, d: int | None = None, terms: int | None = None, rtol: float = 1e-10,
                *, dsigma=None) -> NTKProfile:
    """The infinite-width NTK profile h(t) = d t sum_j mu_j(sigma')^2 t^j / j! as an `NTKProfile`.

    `act`: Activation or activation name (or ``dsigma=`` a callable on NumPy arrays). `terms`: a
    fixed length; by default chosen per call so the truncation error is <= rtol h(1). Setup ~5 ms.
    """
    return NTKProfile(act, d, terms, rtol, dsigma=dsigma)


def _check_sphere(X: torch.Tensor, name: str) -> None:
    d = X.shape[1]
    dev = (X.double().square().sum(1) / d - 1).abs()
    if dev.numel() and float(dev.max()) > math.sqrt(torch.finfo(X.dtype).eps):
        i = int(dev.argmax())
        raise ValueError(f"the rows of {name} must lie on the sphere S^(d-1)(sqrt d), "
                         f"||x||^2 = d = {d}; row {i} has ||x||^2/d = "
                         f"{float(X[i].double().square().sum()) / d:.6g}. "
                         f"Draw inputs with en.sample_sphere(n, d, generator) or rescale each "
                         f"row to norm sqrt(d).")


def ntk_gram_inf(X, Y=None, *, act=None, dsigma=None, terms: int | None = None,
                 dtype: torch.dtype = torch.float64, rtol: float = 1e-10) -> torch.Tensor:
    """Gram matrix K_ij = h(x_i.y_j/d) of the infinite-width first-layer NTK: (n, n'), `dtype`.

    X (n, d) and Y (n', d; default X) need rows on S^{d-1}(sqrt d) (`en.sample_sphere`). The kernel,
    by keyword: ``act=`` an Activation, a name or a prebuilt `NTKProfile` (reuse it across calls),
    or ``dsigma=`` sigma' as a callable on NumPy arrays (an Activation or NTKProfile works too). With
    Y = None the diagonal is exactly h(1) = d E[sigma'^2]; pairs with t = +-1 up to rounding get the
    exact h(+-1). `terms`, `rtol`: see `ntk_profile`. O(n n' (d + J)) flops, O(n n') memory.
    NTK-regression and spectrum chapters.
    """
    X = as_tensor(X, "X")
    Yt = X if Y is None else as_tensor(Y, "Y")
    d = check_dim(X.shape[1])
    check_cols(Yt, d, "Y", "X")
    dtype = check_dtype(dtype)
    given = dsigma if act is None else act
    if isinstance(given, NTKProfile) and (act is None or dsigma is None):
        profile = given
    else:
        profile = NTKProfile(act, d, terms, rtol, dsigma=dsigma)
    if profile.d != d:
        raise ValueError(f"the NTKProfile was built for d = {profile.d} but X has {d} columns; "
                         f"build it with en.ntk_profile(dsigma, {d}).")
    _check_sphere(X, "X")
    if Y is not None:
        _check_sphere(Yt, "Y")
    eps = max(torch.finfo(X.dtype).eps, torch.finfo(Yt.dtype).eps, torch.finfo(dtype).eps)
    T = (X.to(dtype) @ Yt.to(dtype).T).div_(d)
    if Y is None:  # exactly symmetric, with the exact diagonal
        T = (T + T.T).div_(2)
        T.diagonal().fill_(1.0)
    return profile(T, snap=64 * d * eps)
