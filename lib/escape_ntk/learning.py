"""Kernel learning experiments: staircase blocks, learning curves, ridge paths, degree energies.

Everything works on precomputed Gram matrices (float64 solves): one Gram of the largest training
set serves every nested subset X[:n], every target (columns of Y) and every ridge. Chapters: the
NTK spectrum (staircase blocks) and NTK learning (learning curves, ridge paths, the
degree-by-degree picture); paper-notes §3.2, §8(a-b), §10.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ._checks import as_tensor, check_degree, check_dim
from .harmonics import gegenbauer, harmonic_dimension
from .kernels import kernel_ridge


def _evals_np(evals) -> np.ndarray:
    if isinstance(evals, torch.Tensor):
        evals = evals.detach().cpu().numpy()
    ev = np.sort(np.asarray(evals, dtype=np.float64))[::-1]
    if ev.ndim != 1 or ev.size == 0:
        raise ValueError(f"evals must be a non-empty 1-D array; got shape {ev.shape}.")
    return ev


def plateau_widths(evals, levels) -> np.ndarray:
    """How many eigenvalues fall in each level's band: w_i = #{ev : c_i < ev <= c_{i-1}}.

    `levels` (k+1,): predicted plateau heights, strictly decreasing; the cuts
    c_i = sqrt(levels_i levels_{i+1}) are geometric midpoints (c_{-1} = inf). Returns the k widths
    of the first k levels (int NumPy array); well separated steps give w_i = B(d, l_i).
    O(n log n). Spectrum chapter.
    """
    ev = _evals_np(evals)
    lv = np.asarray(levels, dtype=np.float64).ravel()
    if lv.size < 2 or not np.all(lv > 0) or not np.all(np.diff(lv) < 0):
        raise ValueError(f"levels must be >= 2 positive, strictly decreasing plateau heights; got "
                         f"{lv.tolist()}. Sort them with np.sort(levels)[::-1], drop zero levels.")
    cuts = np.sqrt(lv[:-1] * lv[1:])
    above = np.array([(ev > c).sum() for c in cuts])
    return np.diff(np.concatenate([[0], above]))


def largest_gap(evals, start: int, stop: int) -> int:
    """The i in [start, stop) maximizing ev_{i-1} / ev_i (eigenvalues sorted descending).

    That is the number of eigenvalues above the widest relative gap in the window: it locates a
    step edge that midpoints cannot (e.g. the degree-3 block, whose lower edge sampling smears).
    Needs 1 <= start < stop <= n and positive eigenvalues in the window. O(n log n).
    """
    ev = _evals_np(evals)
    if isinstance(start, bool) or isinstance(stop, bool) or not (1 <= start < stop <= ev.size):
        raise ValueError(f"need 1 <= start < stop <= n = {ev.size}; got start = {start}, "
                         f"stop = {stop}.")
    window = ev[start - 1:stop]
    if not np.all(window > 0):
        raise ValueError("the eigenvalues in the window must be positive; move stop above the "
                         "numerically zero tail.")
    return start + int(np.argmax(window[:-1] / window[1:]))


def _labels(Y, name: str, rows: int) -> torch.Tensor:
    Y = as_tensor(Y, name, ndim=2 if getattr(Y, "ndim", 1) == 2 else 1, dtype=torch.float64)
    if Y.shape[0] != rows:
        raise ValueError(f"{name} has {Y.shape[0]} rows but the Gram has {rows}; pass one label "
                         f"(row) per input.")
    return Y[:, None] if Y.ndim == 1 else Y


def _ridges(ridges) -> list[float]:
    vals = [ridges] if isinstance(ridges, numbers.Real) else list(ridges)
    if not vals or any(isinstance(r, bool) or not isinstance(r, numbers.Real) or not r >= 0
                       for r in vals):
        raise ValueError(f"ridges must be numbers >= 0 (one or a list); got {ridges!r}.")
    return [float(r) for r in vals]


def _square(K, name: str = "K") -> torch.Tensor:
    K = as_tensor(K, name, ndim=2, dtype=torch.float64)
    if K.shape[1] != K.shape[0]:
        raise ValueError(f"{name} must be square (n, n); got shape {tuple(K.shape)}.")
    return K


def _cross(K_test, n: int) -> torch.Tensor:
    K_test = as_tensor(K_test, "K_test", ndim=2, dtype=torch.float64)
    if K_test.shape[1] != n:
        raise ValueError(f"K_test has {K_test.shape[1]} columns but K is {n} x {n}; pass the "
                         f"test-vs-train Gram K(X_test, X) of shape (n_test, {n}).")
    return K_test


def krr_curve(K, Y, K_test, Y_test, ns, ridges, var=None) -> np.ndarray:
    """Relative test MSE of kernel ridge regression on nested training sets X[:n]: learning curves.

    K (N, N): Gram of N training inputs; K_test (n_test, N); Y (N,) or (N, k), Y_test (n_test,) or
    (n_test, k): one column per target, all sharing the Gram. For each ridge r and n in `ns`
    (n <= N): solve (K[:n,:n]/n + r I) alpha = Y[:n]/n by Cholesky (en.kernel_ridge), predict
    K_test[:, :n] alpha. Returns err[r, i, j] = mean((pred - Y_test[:, j])^2) / var_j, shape
    (len(ridges), len(ns), k), float64 NumPy; var defaults to mean(Y_test^2) per column (pass 1
    for unit-norm targets). Cost sum_n n^3/3 + n_test n k per ridge. NTK-learning chapter.
    """
    K = _square(K)
    N = K.shape[0]
    K_test = _cross(K_test, N)
    Y, Y_test = _labels(Y, "Y", N), _labels(Y_test, "Y_test", K_test.shape[0])
    if Y.shape[1] != Y_test.shape[1]:
        raise ValueError(f"Y has {Y.shape[1]} columns but Y_test has {Y_test.shape[1]}; pass one "
                         f"column per target.")
    ns = [int(n) for n in np.atleast_1d(ns)]
    if not ns or min(ns) < 1 or max(ns) > N:
        raise ValueError(f"every n in ns must lie in 1..{N} (the Gram's size); got {ns}.")
    if var is None:
        v = (Y_test**2).mean(0)
    else:
        v = torch.as_tensor(var, dtype=torch.float64).expand(Y.shape[1])
    rs = _ridges(ridges)
    out = np.empty((len(rs), len(ns), Y.shape[1]))
    for a, r in enumerate(rs):
        for i, n in enumerate(ns):
            pred = kernel_ridge(K[:n, :n], Y[:n], r, K_test=K_test[:, :n])
            out[a, i] = (((pred - Y_test) ** 2).mean(0) / v).numpy()
    return out


def ridge_path(K, Y, K_test, ridges) -> torch.Tensor:
    """KRR predictions for many ridges from one eigendecomposition K/n = V diag(ev) V^T (float64).

    pred(r) = K_test V diag(1/(ev + r)) V^T Y / n, equal to en.kernel_ridge(K, Y, r, K_test) for
    every r > 0 (rounding-negative eigenvalues are clipped to 0). K (n, n), Y (n,) or (n, k),
    K_test (n_test, n). Returns (len(ridges), n_test) or (len(ridges), n_test, k).
    O(n^3) once, then O(n_test n k) per ridge. NTK-learning chapter.
    """
    K = _square(K)
    n = K.shape[0]
    K_test = _cross(K_test, n)
    one = getattr(Y, "ndim", 1) == 1
    Y = _labels(Y, "Y", n)
    rs = _ridges(ridges)
    if min(rs) <= 0:
        raise ValueError(f"ridge_path needs ridges > 0 (K/n is singular up to rounding); got {rs}.")
    ev, V = torch.linalg.eigh(K / n)
    ev = ev.clamp(min=0.0)
    A = K_test @ V                                   # (n_test, n)
    B = V.T @ Y / n                                  # (n, k)
    out = torch.stack([A @ (B / (ev + r)[:, None]) for r in rs])
    return out[..., 0] if one else out


def degree_energy(alpha, X, lam, degrees) -> np.ndarray:
    """||P_l f||^2 for f(x) = sum_i alpha_i K(x, x_i), K an infinite-width (rotation-invariant) NTK.

    Funk–Hecke: K(x, x') = sum_l lam_l B(d, l) Q_l(x.x'/d), so the degree-l part of f is
    lam_l B(d, l) sum_i alpha_i Q_l(x.x_i/d), with squared L^2 norm (x uniform on S^{d-1}(sqrt d))
    lam_l^2 B(d, l) alpha^T Q_l(X X^T/d) alpha. alpha (n,) or (n, k) from en.kernel_ridge;
    X (n, d) the training inputs on the sphere; lam: lam_l for each degree (en.ntk_eigenvalues).
    Returns (len(degrees),) or (len(degrees), k), float64 NumPy. Exact;
    O(n^2 (d + max(degrees))) flops, O(n^2) memory. NTK-learning chapter.
    """
    X = as_tensor(X, "X", ndim=2, dtype=torch.float64)
    n, d = X.shape
    check_dim(d)
    one = getattr(alpha, "ndim", 1) == 1
    alpha = _labels(alpha, "alpha", n)
    degrees = [check_degree(l, "degree l") for l in np.atleast_1d(degrees).tolist()]
    lam = np.asarray(lam, dtype=np.float64).ravel()
    if lam.size != len(degrees):
        raise ValueError(f"lam has {lam.size} entries but there are {len(degrees)} degrees; pass "
                         f"one lam_l per degree.")
    G = (X @ X.T).div_(d).clamp_(-1.0, 1.0)
    out = []
    for l, lam_l in zip(degrees, lam, strict=True):
        quad = (alpha * (gegenbauer(l, d, G) @ alpha)).sum(0)
        out.append((lam_l**2 * harmonic_dimension(d, l) * quad).numpy())
    res = np.array(out)
    return res[:, 0] if one else res
