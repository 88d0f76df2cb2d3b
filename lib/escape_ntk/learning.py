"""Kernel learning experiments: learning curves, ridge paths, degree energies.

Everything works on precomputed Gram matrices (float64 solves): one Gram of the largest training
set serves every nested subset X[:n], every target (columns of Y) and every ridge. Chapter: NTK
learning (learning curves, ridge paths, the degree-by-degree picture). The staircase helpers
(plateau widths, largest gap) live in ``spectra``.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ._checks import as_array, as_tensor, check_degree, check_dim, check_labels, check_square
from .harmonics import gegenbauer, harmonic_dimension
from .kernels import kernel_ridge


def _labels(Y, name: str, rows: int) -> torch.Tensor:
    Y = check_labels(Y, rows, name, torch.float64, matrix=True, what="the Gram has",
                     per="input (one row per input)")
    return Y[:, None] if Y.ndim == 1 else Y


def _ridges(ridges) -> list[float]:
    vals = [ridges] if isinstance(ridges, numbers.Real) else list(np.atleast_1d(ridges))
    if not vals or any(isinstance(r, bool) or not isinstance(r, numbers.Real) or not r >= 0
                       or not np.isfinite(r) for r in vals):
        raise ValueError(f"ridges must be finite numbers >= 0 (one or a list); got {ridges!r}.")
    return [float(r) for r in vals]


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
    K = check_square(K, "K")
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
    K = check_square(K, "K")
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


def degree_energy(alpha, X, evals, degrees) -> np.ndarray:
    """||P_l f||^2 for f(x) = sum_i alpha_i K(x, x_i), K an infinite-width (rotation-invariant) NTK.

    Funk–Hecke: K(x, x') = sum_l lambda_l B(d, l) Q_l(x.x'/d), so the degree-l part of f is
    lambda_l B(d, l) sum_i alpha_i Q_l(x.x_i/d), with squared L^2 norm (x uniform on
    S^{d-1}(sqrt d)) lambda_l^2 B(d, l) alpha^T Q_l(X X^T/d) alpha. alpha (n,) or (n, k) from
    en.kernel_ridge; X (n, d) the training inputs on the sphere; evals: lambda_l for each degree
    (en.ntk_eigenvalues).
    Returns (len(degrees),) or (len(degrees), k), float64 NumPy. Exact;
    O(n^2 (d + max(degrees))) flops, O(n^2) memory. NTK-learning chapter.
    """
    X = as_tensor(X, "X", ndim=2, dtype=torch.float64)
    n, d = X.shape
    check_dim(d)
    one = getattr(alpha, "ndim", 1) == 1
    alpha = _labels(alpha, "alpha", n)
    degrees = [check_degree(l, "degree l") for l in np.atleast_1d(degrees).tolist()]
    evals = as_array(evals, "evals", ndim=np.ndim(evals)).ravel()
    if evals.size != len(degrees):
        raise ValueError(f"evals has {evals.size} entries but there are {len(degrees)} degrees; "
                         f"pass one eigenvalue lambda_l per degree.")
    G = (X @ X.T).div_(d).clamp_(-1.0, 1.0)
    out = []
    for l, ev_l in zip(degrees, evals, strict=True):
        quad = (alpha * (gegenbauer(d, l, G) @ alpha)).sum(0)
        out.append((ev_l**2 * harmonic_dimension(d, l) * quad).numpy())
    res = np.array(out)
    return res[:, 0] if one else res
