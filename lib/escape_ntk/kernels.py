"""Empirical NTK Gram matrices and kernel ridge regression.

For f(x; W) = sum_r a_r sigma(w_r . x) with the first layer trained, the empirical NTK is

    K(x, x') = (x . x') sum_r a_r^2 sigma'(w_r . x) sigma'(w_r . x'),   i.e.  K = (X X^T) * (S S^T),

with S = sigma'(X W^T) * |a| (n, m) (Nichani, Bai & Lee 2022, section 2).
Chapters: NTK spectrum, NTK kernel ridge.
"""

from __future__ import annotations

import torch

from ._checks import as_tensor, check_cols, check_labels, check_layers, check_nonneg, check_same_dtype, check_square
from .activations import resolve

_BLOCK_ROWS = 256   # row-block height of the triangular Gram product (6-8 blocks at n = 2000)


def gram_from_features(X: torch.Tensor, S: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """K = scale * (X X^T) * (S S^T), (n, n), for validated X (n, d) and S (n, m) of one dtype.

    Only the row blocks on and above the diagonal are multiplied (about half a GEMM,
    n^2 m + n^2 d flops), all in torch (one BLAS), then mirrored. O(nm + n^2) memory.
    """
    n = X.shape[0]
    nb = max(1, min(8, n // _BLOCK_ROWS))
    edges = [i * n // nb for i in range(nb + 1)]
    K = torch.empty(n, n, dtype=S.dtype, device=S.device)
    for i0, i1 in zip(edges[:-1], edges[1:], strict=True):
        B = S[i0:i1] @ S[i0:].T
        B.mul_(X[i0:i1] @ X[i0:].T)
        diag = B[:, :i1 - i0]
        diag.add_(diag.T.clone()).mul_(0.5)           # exact symmetry (GEMM rounding differs)
        if scale != 1.0:
            B.mul_(scale)
        K[i0:i1, i0:] = B
        K[i1:, i0:i1] = B[:, i1 - i0:].T
    return K


def ntk_gram(X, W, a, act=None, Y=None, *, dsigma=None) -> torch.Tensor:
    """Empirical NTK Gram K_ij = (x_i . x_j) sum_r a_r^2 sigma'(w_r . x_i) sigma'(w_r . x_j).

    X (n, d), W (m, d), a (m,), `act` an Activation or name (or ``dsigma=`` sigma' as a torch
    callable); with Y (n', d)
    the cross Gram K(X, Y) (n, n'). Closed form (X X^T) * (S S^T), S = sigma'(X W^T) |a|:
    O(n^2 m + nmd) flops (half of n^2 m via the triangular product when Y is None), O(nm + n^2)
    memory; never forms the n x md Jacobian. Chapters: NTK spectrum, NTK kernel ridge.
    """
    ds = resolve(act, 1, dsigma=dsigma)
    X, W, a = check_layers(X, W, a)
    a_abs = a.abs()
    uniform = bool((a_abs == a_abs[0]).all())       # a_r = +-c: pull c^2 out of the n x m product
    scale = float(a_abs[0]) ** 2 if uniform else 1.0

    def features(Z: torch.Tensor) -> torch.Tensor:
        S = ds(Z)
        return S if uniform else S.mul_(a_abs)

    SX = features(X @ W.T)
    if Y is None:
        return gram_from_features(X, SX, scale)
    Y = as_tensor(Y, "Y", ndim=2)
    check_cols(Y, W.shape[1], name="Y")
    check_same_dtype(X=X, Y=Y)
    K = (SX @ features(Y @ W.T).T).mul_(X @ Y.T)
    return K.mul_(scale) if scale != 1.0 else K


def kernel_ridge(K, y, ridge: float, K_test=None) -> torch.Tensor:
    """Kernel ridge regression: solve (K/n + ridge I) alpha = y/n by Cholesky in float64.

    K (n, n) symmetric PSD, y (n,) or (n, k), ridge >= 0. Returns alpha, or the predictions
    K_test alpha when K_test (n_test, n) is given. O(n^3/3) flops, O(n^2) memory.
    Chapter: NTK kernel ridge.
    """
    K = check_square(K, "K")
    n = K.shape[0]
    y = check_labels(y, n, "y", torch.float64, matrix=True, what="K is n x n with",
                     per="training input")
    ridge = check_nonneg(ridge, "ridge")
    A = K / n
    A.diagonal().add_(ridge)
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) != 0:
        raise ValueError(f"K/n + ridge*I is not positive definite (Cholesky failed at pivot "
                         f"{int(info)}); increase ridge (got {ridge}) or check that K is a "
                         f"symmetric PSD Gram.")
    rhs = y[:, None] if y.ndim == 1 else y
    alpha = torch.cholesky_solve(rhs / n, L)
    alpha = alpha[:, 0] if y.ndim == 1 else alpha
    if K_test is None:
        return alpha
    K_test = as_tensor(K_test, "K_test", ndim=2, dtype=torch.float64)
    if K_test.shape[1] != n:
        raise ValueError(f"K_test has {K_test.shape[1]} columns but there are n = {n} training "
                         f"inputs; pass K_test of shape (n_test, {n}).")
    return K_test @ alpha
