"""The infinite-width first-layer NTK as a kernel on data: K(x, x') = h(x.x'/d), ||x||^2 = d.

With w ~ N(0, I_d/d) and ||x||^2 = ||x'||^2 = d, (w.x, w.x') is exactly a standard bivariate normal
pair with correlation t = x.x'/d, so by Mehler's formula

    K(x, x') = (x.x') E_w[sigma'(w.x) sigma'(w.x')] = h(t) = d t sum_j c_j^2 t^j,
    c_j^2 = mu_j(sigma')^2 / j!.

The series converges fast where |t| is small (random points: |t| ~ 1/sqrt d) but slowly at |t| = 1
for ReLU-like sigma', so the exact values h(1) = d E[sigma'(z)^2] and h(-1) = -d E[sigma'(z)
sigma'(-z)] are used at t = +-1. NTK-regression and spectrum chapters (paper-notes §1.2, §3.2, §8).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from ._checks import as_tensor, check_cols, check_dim, check_positive_int
from .harmonics import MAX_TERMS, as_dsigma, normal_expectation, ntk_series_coefficients


def _series_tail(dsigma) -> tuple[np.ndarray, np.ndarray]:
    """(c_j^2 for j < MAX_TERMS, tail[J] = E[sigma'^2] - sum_{j<J} c_j^2 for J = 0..MAX_TERMS)."""
    f = as_dsigma(dsigma)
    c2 = ntk_series_coefficients(f, MAX_TERMS)
    second = normal_expectation(lambda z: f(z) ** 2)
    return c2, np.maximum(second - np.concatenate([[0.0], np.cumsum(c2)]), 0.0)


class NTKProfile:
    """h(t) = d t sum_{j<J} c_j^2 t^j, exact at t = +-1; call it on a torch tensor or NumPy array.

    Attributes: `d`; `coeffs` (c_j^2, j < MAX_TERMS); `tail` (E sigma'^2 - sum_{j<J} c_j^2, J >= 0);
    `diag` = h(1) = d E[sigma'^2]; `antidiag` = h(-1); `terms` (a fixed J, or None: chosen per call
    from max |t| so that the truncation error d tail[J] max|t|^(J+1) is <= rtol h(1)).
    """

    def __init__(self, dsigma, d: int, terms: int | None = None, rtol: float = 1e-10):
        f = as_dsigma(dsigma)
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
        shape, t = t.shape, t.reshape(-1)
        t = t if t.dtype == np.float32 else t.astype(np.float64, copy=False)
        if t.size == 0:
            return t.reshape(shape)
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


def ntk_profile(dsigma, d: int, terms: int | None = None, rtol: float = 1e-10) -> NTKProfile:
    """The infinite-width NTK profile h(t) = d t sum_j mu_j(sigma')^2 t^j / j! as an `NTKProfile`.

    `dsigma`: callable on NumPy arrays, Activation or activation name. `terms`: a fixed length;
    by default chosen per call so the truncation error is <= rtol h(1). Setup ~1 ms.
    """
    return NTKProfile(dsigma, d, terms, rtol)


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


def ntk_gram_inf(X, Y=None, *, dsigma, terms: int | None = None,
                 dtype: torch.dtype = torch.float64, rtol: float = 1e-10) -> torch.Tensor:
    """Gram matrix K_ij = h(x_i.y_j/d) of the infinite-width first-layer NTK: (n, n'), `dtype`.

    X (n, d) and Y (n', d; default X) need rows on S^{d-1}(sqrt d) (`en.sample_sphere`). `dsigma`:
    callable, Activation, activation name, or a prebuilt `NTKProfile` (reuse it across calls). With
    Y = None the diagonal is exactly h(1) = d E[sigma'^2]; pairs with t = +-1 up to rounding get the
    exact h(+-1). `terms`, `rtol`: see `ntk_profile`. O(n n' (d + J)) flops, O(n n') memory.
    NTK-regression and spectrum chapters.
    """
    X = as_tensor(X, "X")
    Yt = X if Y is None else as_tensor(Y, "Y")
    d = check_dim(X.shape[1])
    check_cols(Yt, d, "Y", "X")
    profile = dsigma if isinstance(dsigma, NTKProfile) else NTKProfile(dsigma, d, terms, rtol)
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
