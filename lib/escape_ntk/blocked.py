"""A row-blocked, fused gradient step for f_L + f_Q with the empirical and population R_1.

The objective of the authors' synthetic experiment (github.com/eshnich/escape_NTK,
``neurips_experiment.ipynb``), on the movement U (m, d) of the Taylor model around W0:

    (1/n) ||f_L(X; U) + f_Q(X; U) - y||^2
        + lam_emp (1/n) ||(I - U_k U_k^T) f_L(X; U)||^2                     (empirical R_1)
        + lam_pop (1/s) ||f_L(X_s; U - V_k V_k^T U)||^2                     (population R_1)

with U_k (n, n_k) the top eigenvectors of the training Gram K = Phi Phi^T (eigenvalues
Lambda_k), V_k = Phi^T U_k Lambda_k^{-1/2} the top right singular directions of the Jacobian Phi
(n x md), and X_s (s, d) fresh samples each step. V_k V_k^T U = Phi^T c with the n-vector
c = U_k Lambda_k^{-1} U_k^T f_L(X; U), so the population term only needs the cross Gram
K(X_s, X) = (X_s X^T) * (S1_s S1^T) (s, n): f_L(X_s; U - V_k V_k^T U) = f_L(X_s; U) - K(X_s, X) c.

One step (:meth:`BlockedStep.step`), with h the penalties' gradient in f_L(X; .):

1. f_L = rowsum(X * (S1 U)) first (one GEMM), so the penalty coefficient h (n,) is known before
   the loss pass; the population term adds the cross Gram (one GEMM) and Phi_s^T g_s (small);
2. one pass over row blocks of b rows: Z_b = X_b U^T (b, m), V_b = S1_b + S2_b Z_b / 2,
   f_b = rowsum(Z_b * V_b) (= f_L + f_Q), r_b = (2/n)(f_b - y_b),
   G_b = 2 r_b V_b + (h_b - r_b) S1_b and grad^T += X_b^T G_b: the block's Z_b, V_b stay in
   cache and no n x m array is written, only the precomputed S1, S2 are read.

With ``block_rows=None`` the same step runs in two passes over all rows instead (forward into
n x m buffers, then the penalties, then G and the gradient GEMM), f_L coming from the forward.

Under the paired initialization (W0[m/2:] = W0[:m/2], a[m/2:] = -a[:m/2]) S1 and S2 are
antisymmetric in the two halves, so every product with S1 alone (f_L, the cross Gram, Phi_s^T)
runs on m/2 columns. Flops per step: 2nmd (Z) + 2nmd (grad) + nmd (f_L) [+ nsm (cross Gram)
+ 3smd (samples)] under pairing; memory O(bm + nd + md) beyond S1, S2. Chapter: the authors'
experiment at full scale.
"""

from __future__ import annotations

import torch

from ._checks import as_tensor, check_positive_int, check_taylor
from .activations import activation

__all__ = ["BlockedStep", "predict_blocked"]


def _paired(W0: torch.Tensor, a: torch.Tensor) -> bool:
    m = W0.shape[0]
    h = m // 2
    return m % 2 == 0 and bool(torch.equal(W0[:h], W0[h:])) and bool(torch.equal(a[h:], -a[:h]))


class BlockedStep:
    """The fused, row-blocked GD step of f_L + f_Q (+ empirical and population R_1); see the module.

    taylor: the training :class:`~escape_ntk.Taylor` (or a row subset of one) (its S1, S2 are read, never copied);
    U_k (n, n_k) orthonormal and evals_k (n_k,) > 0: the top eigenpairs of the training Gram
    (U_k for the empirical R_1, both for the population R_1; float64 is fine, they are cast
    once); block_rows: rows per block
    (default 32: a 32 x m float32 block is 1.3 MB at m = 10^4, in L2/L3 cache), or None for
    the two-pass step over all rows: Z = X U^T, V, f and f_L in n x m buffers (3 n m floats,
    120 MB at the authors' size), then the penalties, then G and one gradient GEMM. It needs no
    separate f_L GEMM (f_L is an elementwise pass over Z): on the book's 2-core machine about 8%
    faster at one thread and as fast at two (``python -m escape_ntk.bench``, authors_step).
    """

    def __init__(self, taylor, U_k=None, evals_k=None, block_rows: int = 32):
        check_taylor(taylor)
        self.T = taylor
        self.n, self.m, self.d = taylor.n, taylor.m, taylor.d
        self.dtype = taylor.X.dtype
        self.block = None if block_rows is None else check_positive_int(block_rows, "block_rows")
        self.paired = _paired(taylor.W0, taylor.a)
        h = self.m // 2 if self.paired else self.m
        self.h = h
        self.S1h = taylor.S1[:, :h]                     # a strided view, no copy
        if U_k is not None:
            U_k = as_tensor(U_k, "U_k", ndim=2)
            if U_k.shape[0] != self.n:
                raise ValueError(f"U_k has {U_k.shape[0]} rows but the Taylor model has n = "
                                 f"{self.n} inputs; pass eigenvectors of this training Gram.")
            self.U_k = U_k.to(self.dtype).contiguous()
            self.inv_k = None
            if evals_k is not None:
                evals_k = as_tensor(evals_k, "evals_k", ndim=1)
                if evals_k.shape[0] != U_k.shape[1] or not bool((evals_k > 0).all()):
                    raise ValueError(f"evals_k must hold {U_k.shape[1]} positive eigenvalues (one "
                                     f"per column of U_k); got shape {tuple(evals_k.shape)}.")
                self.inv_k = (1.0 / evals_k).to(self.dtype)
        else:
            self.U_k = self.inv_k = None
        rows = self.n if self.block is None else self.block
        self.Z = torch.empty(rows, self.m, dtype=self.dtype)
        self.V = torch.empty(rows, self.m, dtype=self.dtype)
        self.B = torch.empty(rows, self.m, dtype=self.dtype) if self.block is None else None
        self.grad = torch.empty(self.d, self.m, dtype=self.dtype)

    # --- pieces ---
    def _half_diff(self, Ut: torch.Tensor) -> torch.Tensor:
        """(d, h): Ut's first half minus its second half under pairing (else Ut itself)."""
        if not self.paired:
            return Ut
        return Ut[:, :self.h] - Ut[:, self.h:]

    def f_L(self, Ut: torch.Tensor) -> torch.Tensor:
        """f_L(X; U) (n,) = rowsum(X * (S1 U)); one GEMM of n m d (n m d / 2 under pairing)."""
        return (self.T.X * (self.S1h @ self._half_diff(Ut).T)).sum(dim=1)

    def _project(self, fL: torch.Tensor) -> torch.Tensor:
        B = self.U_k
        return fL - B @ (B.T @ fL)

    def _sample_features(self, Xs: torch.Tensor) -> torch.Tensor:
        """S1_s (s, h) = a sigma'(X_s W0^T) on the first h neurons."""
        T = self.T
        return T.a[:self.h] * T.act.dsigma(Xs @ T.W0[:self.h].T)

    def population(self, Xs: torch.Tensor, Ut: torch.Tensor, fL: torch.Tensor, lam: float):
        """(R_1 on the samples, h_pop (n,), G_s (d, m)): the population term's value, its
        gradient in f_L(X; .) and its direct gradient Phi_s^T g_s (transposed)."""
        T = self.T
        S1s = self._sample_features(Xs)                             # (s, h)
        mult = 2.0 if self.paired else 1.0                          # both halves of the sum
        Ksx = (Xs @ T.X.T).mul_(S1s @ self.S1h.T).mul_(mult)        # (s, n)
        c = self.U_k @ (self.inv_k * (self.U_k.T @ fL))             # U_k L^-1 U_k^T f_L
        fs = (Xs * (S1s @ self._half_diff(Ut).T)).sum(dim=1) - Ksx @ c
        s = Xs.shape[0]
        value = fs @ fs / s
        gs = fs * (2.0 * lam / s)
        h_pop = -(self.U_k @ (self.inv_k * (self.U_k.T @ (Ksx.T @ gs))))
        top = (gs[:, None] * Xs).T @ S1s                            # (d, h)
        Gs = torch.cat([top, -top], dim=1) if self.paired else top
        return value, h_pop, Gs

    def _penalties(self, Ut, fL, lam_emp, lam_pop, Xs, out):
        """(h (n,), G_s (d, m) or None): the penalties' gradient in f_L(X; .) and the population
        term's direct gradient; writes R1 (and R1_pop) into `out`."""
        n = self.n
        p = self._project(fL)
        out["R1"] = float(p @ p) / n
        hvec = p * (2.0 * lam_emp / n)
        if Xs is None:
            return hvec, None
        v, h_pop, Gs = self.population(Xs, Ut, fL, lam_pop)
        out["R1_pop"] = float(v)
        return hvec + h_pop, Gs

    def _two_pass(self, Ut, y, lr, lam_emp, lam_pop, Xs) -> dict:
        """:meth:`step` with block_rows=None: forward over all rows, penalties, backward."""
        T, n = self.T, self.n
        X, S1, S2 = T.X, T.S1, T.S2
        Z, V = self.Z, self.V
        torch.mm(X, Ut, out=Z)
        torch.addcmul(S1, S2, Z, value=0.5, out=V)                # V = S1 + S2 Z / 2
        out: dict = {}
        hvec = Gs = None
        if self.U_k is not None:
            fL = torch.mul(S1, Z, out=self.B).sum(dim=1)          # f_L, elementwise
            out["fL"] = fL
            hvec, Gs = self._penalties(Ut, fL, lam_emp, lam_pop, Xs, out)
        f = Z.mul_(V).sum(dim=1)                                  # f_L + f_Q
        r = (f - y).mul_(2.0 / n)
        coef = -r if hvec is None else hvec - r
        V.mul_((2.0 * r)[:, None]).addcmul_(S1, coef[:, None])    # G
        grad = torch.mm(X.T, V, out=self.grad)
        if Gs is not None:
            grad.add_(Gs)
        res = f - y
        out["f"], out["mse"] = f, float(res @ res) / n
        Ut.sub_(grad, alpha=lr)
        return out

    def step(self, Ut: torch.Tensor, y: torch.Tensor, lr: float, lam_emp: float = 0.0,
             lam_pop: float = 0.0, Xs: torch.Tensor | None = None) -> dict:
        """One GD step in place, Ut (d, m) <- Ut - lr grad^T; returns the values at the old Ut.

        Returns {"f": f_L + f_Q (n,), "fL": f_L (n,), "mse", "R1": empirical R_1 (when U_k was
        given), "R1_pop": the population R_1 on Xs (when Xs was given)}. Xs (s, d): the fresh
        samples of the population term (required when lam_pop > 0).
        """
        T, n, b = self.T, self.n, self.block
        X, S1, S2 = T.X, T.S1, T.S2
        if lam_pop and Xs is None:
            raise ValueError("lam_pop > 0 needs fresh samples Xs (s, d) for the population R_1.")
        if Xs is not None and self.inv_k is None:
            raise ValueError("the population R_1 needs the Gram's eigenvalues: build "
                             "BlockedStep(taylor, U_k, evals_k).")
        if (lam_emp or lam_pop) and self.U_k is None:
            raise ValueError("lam_emp and lam_pop need the Gram's eigenpairs: build "
                             "BlockedStep(taylor, U_k, evals_k).")
        if b is None:
            return self._two_pass(Ut, y, lr, lam_emp, lam_pop, Xs)
        out: dict = {}
        grad = self.grad
        hvec = Gs = None
        if self.U_k is not None:
            fL = self.f_L(Ut)
            out["fL"] = fL
            hvec, Gs = self._penalties(Ut, fL, lam_emp, lam_pop, Xs, out)
        if Gs is None:
            grad.zero_()
        else:
            grad.copy_(Gs)
        f = torch.empty(n, dtype=self.dtype)
        for i in range(0, n, b):
            j = min(i + b, n)
            rows = j - i
            Z, V = self.Z[:rows], self.V[:rows]
            torch.mm(X[i:j], Ut, out=Z)
            torch.addcmul(S1[i:j], S2[i:j], Z, value=0.5, out=V)       # S1 + S2 Z / 2
            fb = torch.linalg.vecdot(Z, V)                             # f_L + f_Q
            f[i:j] = fb
            r = (fb - y[i:j]).mul_(2.0 / n)
            coef = -r if hvec is None else hvec[i:j] - r
            V.mul_((2.0 * r)[:, None]).addcmul_(S1[i:j], coef[:, None])  # G_b
            grad.addmm_(X[i:j].T, V)
        res = f - y
        out["f"], out["mse"] = f, float(res @ res) / n
        Ut.sub_(grad, alpha=lr)
        return out


def predict_blocked(X, W0, a, act, U, block_rows: int = 1024) -> torch.Tensor:
    """f_L + f_Q (n,) at inputs X (n, d) for movement U (m, d), without storing any n x m array.

    Rows in blocks of `block_rows`: Z0 = X_b W0^T, Z = X_b U^T, then
    rowsum(a sigma'(Z0) Z + a sigma''(Z0) Z^2 / 2). Under the paired initialization only the
    first m/2 neurons are evaluated: with D = X_b (U_1 - U_2)^T and S = X_b (U_1 + U_2)^T over the
    halves, f = (D * (sigma'(Z0) + sigma''(Z0) S / 2)) a_1. Cost about 3nmd flops (paired; 4nmd
    otherwise) plus the elementwise sigma derivatives on n m/2 entries; memory O(block_rows m).
    For large test sets (n = 10^4, m = 10^4).
    """
    act = activation(act)
    X, W0, a, U = (as_tensor(t, nm, ndim=k) for t, nm, k in
                   ((X, "X", 2), (W0, "W0", 2), (a, "a", 1), (U, "U", 2)))
    if U.shape != W0.shape:
        raise ValueError(f"U must have W0's shape {tuple(W0.shape)}; got {tuple(U.shape)}.")
    b = check_positive_int(block_rows, "block_rows")
    if not bool(U.any()):                       # U = 0: both terms vanish
        return torch.zeros(X.shape[0], dtype=X.dtype)
    out = torch.empty(X.shape[0], dtype=X.dtype)
    if _paired(W0, a):
        h = W0.shape[0] // 2
        Wt, ah = W0[:h].T.contiguous(), a[:h]
        Dt, St = (U[:h] - U[h:]).T.contiguous(), (U[:h] + U[h:]).T.contiguous()
        for i in range(0, X.shape[0], b):
            Xb = X[i:i + b]
            Z0 = Xb @ Wt
            V = torch.addcmul(act.dsigma(Z0), act.d2sigma(Z0), Xb @ St, value=0.5)
            out[i:i + b] = V.mul_(Xb @ Dt) @ ah
        return out
    Wt, Ut = W0.T.contiguous(), U.T.contiguous()
    for i in range(0, X.shape[0], b):
        Xb = X[i:i + b]
        Z0, Z = Xb @ Wt, Xb @ Ut
        V = torch.addcmul(act.dsigma(Z0), act.d2sigma(Z0), Z, value=0.5)
        out[i:i + b] = (V.mul_(Z)) @ a
    return out


def flops(n: int, m: int, d: int, s: int = 0, paired: bool = True) -> float:
    """Flops of one :meth:`BlockedStep.step` (GEMMs only): 4nmd + f_L + the population term."""
    half = 0.5 if paired else 1.0
    extra = 2 * n * m * d * half
    if s:
        extra += 2 * s * m * n * half + 2 * s * m * d * half * 3
    return 4.0 * n * m * d + extra
