"""Regularizers for the movement U: the good-direction penalty R_1, ||U||_{2,4}^8, sign flips.

R_1 (Nichani, Bai & Lee 2022, and the authors' experiment code, github.com/eshnich/escape_NTK)
penalizes the part of the linear term's
training predictions that the top-n_k eigenvectors U_k of the training NTK Gram K = J J^T do not
explain:

    R_1(U) = (1/n) ||(I - U_k U_k^T) f_L(X; U)||^2  =  (1/n) ||J (I - V_k V_k^T) vec(U)||^2,

an identity because J V_k V_k^T = U_k U_k^T J; only n x n objects are needed. Chapters: good
directions, the combined NTK + QuadNTK experiment (settings A and B of ``experiments``),
QuadNTK (sign flips).
"""

from __future__ import annotations

import torch

from ._checks import (
    as_tensor,
    check_degree,
    check_generator,
    check_labels,
    check_positive_int,
    check_square,
    check_taylor,
)
from .models import Taylor, norm_24

_ORTHO_TOL = 1e-8   # max |U_k^T U_k - I| accepted as orthonormal (float64)


class R1Penalty:
    """R_1(U) = (1/n) ||(I - U_k U_k^T) f_L||^2 for a fixed orthonormal basis U_k (n, n_k), float64.

    Build it with :meth:`spectral` (top-n_k eigenvectors of the training Gram, the paper's choice),
    :meth:`from_basis` (any orthonormal basis) or :meth:`random` (a random subspace, for the
    ablation). ``value`` and ``grad_fL`` take the linear term's training predictions f_L (n,) and
    cost O(n n_k); the trainer chains ``grad_fL`` through Phi^T with the residual (no extra GEMM).
    """

    def __init__(self, U_k, evals: torch.Tensor | None = None):
        """U_k (n, n_k) with orthonormal columns (checked: max |U_k^T U_k - I| <= 1e-8), float64."""
        U_k = as_tensor(U_k, "U_k", ndim=2, dtype=torch.float64, allow_empty=True)
        n, k = U_k.shape
        if n == 0:
            raise ValueError("U_k has no rows; the penalty needs n >= 1 training inputs.")
        if k > n:
            raise ValueError(f"U_k has n_k = {k} columns but only n = {n} rows; a basis of R^n has "
                             f"at most n vectors.")
        err = float((U_k.T @ U_k - torch.eye(k, dtype=torch.float64)).abs().max()) if k else 0.0
        if err > _ORTHO_TOL:
            raise ValueError(f"U_k's columns are not orthonormal (max |U_k^T U_k - I| = "
                             f"{err:.3g}); orthonormalize first, e.g. torch.linalg.qr(U_k).Q.")
        if evals is not None:
            evals = as_tensor(evals, "evals", ndim=1, dtype=torch.float64)
            if evals.shape[0] != n:
                raise ValueError(f"evals has {evals.shape[0]} entries but U_k has n = {n} rows; "
                                 f"pass all n eigenvalues of K.")
        self._U_k = U_k.contiguous()
        self._evals = evals
        self._cast = {torch.float64: self._U_k}

    @classmethod
    def spectral(cls, K, n_k: int) -> R1Penalty:
        """U_k = the top-n_k eigenvectors of the training NTK Gram K (n, n), by a float64 eigh.

        O(n^3) flops, O(n^2) memory (computed once, on one thread so that the basis is bitwise the
        same whatever torch's thread count). Keeps all eigenvalues of K (descending) in
        ``evals``, which the trainer's stability check uses: lr (1 + lam) lambda_{n_k+1}(K/n) < 1.
        """
        K = check_square(K, "K")
        n = K.shape[0]
        n_k = _check_nk(n_k, n)
        threads = torch.get_num_threads()
        try:                 # LAPACK's eigenvectors depend on the thread count: use one, always
            torch.set_num_threads(1)
            evals, evecs = torch.linalg.eigh(K)
        finally:
            torch.set_num_threads(threads)
        return cls(evecs.flip(1)[:, :n_k].contiguous(), evals.flip(0))

    @classmethod
    def from_basis(cls, U_k) -> R1Penalty:
        """Penalize everything outside span(U_k); U_k (n, n_k) must have orthonormal columns."""
        return cls(U_k)

    @classmethod
    def random(cls, n: int, n_k: int, generator: torch.Generator | None = None) -> R1Penalty:
        """A uniformly random n_k-dim subspace of R^n (QR of an n x n_k Gaussian), float64."""
        n = check_positive_int(n, "n")
        n_k = _check_nk(n_k, n)
        generator = check_generator(generator)
        G = torch.randn(n, n_k, generator=generator, dtype=torch.float64)
        return cls(torch.linalg.qr(G).Q)

    @property
    def U_k(self) -> torch.Tensor:
        """The kept basis (n, n_k), float64."""
        return self._U_k

    @property
    def evals(self) -> torch.Tensor | None:
        """All eigenvalues of K, descending, float64 (only for :meth:`spectral`; else None)."""
        return self._evals

    @property
    def n(self) -> int:
        return self._U_k.shape[0]

    @property
    def n_k(self) -> int:
        return self._U_k.shape[1]

    def _basis(self, dtype: torch.dtype) -> torch.Tensor:
        if dtype not in self._cast:
            self._cast[dtype] = self._U_k.to(dtype)
        return self._cast[dtype]

    def _check(self, fL) -> torch.Tensor:
        fL = as_tensor(fL, "fL", ndim=1)
        if fL.shape[0] != self.n:
            raise ValueError(f"fL has {fL.shape[0]} entries but the penalty was built for n = "
                             f"{self.n} training inputs; pass f_L at the training inputs.")
        return fL

    def project(self, fL) -> torch.Tensor:
        """(I - U_k U_k^T) fL (n,): the linear predictions' part outside span(U_k). O(n n_k)."""
        fL = self._check(fL)
        B = self._basis(fL.dtype)
        return fL - B @ (B.T @ fL)

    def value(self, fL) -> torch.Tensor:
        """R_1 = (1/n) ||(I - U_k U_k^T) fL||^2 (0-d tensor, differentiable). O(n n_k)."""
        p = self.project(fL)
        return p @ p / self.n

    def grad_fL(self, fL) -> torch.Tensor:
        """dR_1/dfL = (2/n) (I - U_k U_k^T) fL, (n,). O(n n_k)."""
        return self.project(fL) * (2.0 / self.n)

    def __repr__(self) -> str:
        kind = "spectral" if self._evals is not None else "basis"
        return f"R1Penalty({kind}, n={self.n}, n_k={self.n_k})"


def _check_nk(n_k, n: int) -> int:
    n_k = check_degree(n_k, "n_k")
    if n_k > n:
        raise ValueError(f"n_k = {n_k} exceeds the number of training inputs n = {n}; "
                         f"keep at most n directions (n_k = sum_(l<=k) B(d, l), see en.n_k).")
    return n_k


def bl_penalty(U) -> torch.Tensor:
    """Bai & Lee's ||U||_{2,4}^8 = (sum_r ||u_r||^4)^2 (0-d tensor). O(md). Chapter: QuadNTK."""
    return norm_24(U) ** 8


def bl_penalty_grad(U) -> torch.Tensor:
    """Gradient of ||U||_{2,4}^8: row r is 8 ||U||_{2,4}^4 ||u_r||^2 u_r, (m, d). O(md)."""
    U = as_tensor(U, "U", ndim=2)
    sq = U.square().sum(dim=1)
    return (8.0 * sq.square().sum()) * sq[:, None] * U


def sign_flip_expected_loss(taylor: Taylor, U, y) -> torch.Tensor:
    """E_S of the Taylor model's square loss under sign flips S = diag(s), s uniform in {+-1}^m:

        E_S (1/n) ||f_L(SU) + f_Q(U) - y||^2 = (1/n) sum_i [(f_Q(x_i; U) - y_i)^2
                                               + sum_r a_r^2 sigma'(w_{0,r}.x_i)^2 (u_r.x_i)^2]

    (cross terms vanish since E s_r = 0; f_Q(SU) = f_Q(U); Bai & Lee 2020). Returns a 0-d tensor
    (differentiable in U). O(nmd) flops, O(nm) memory. Chapter: QuadNTK.
    """
    check_taylor(taylor)
    y = check_labels(y, taylor.n, "y", taylor.X.dtype, what="the Taylor model has")
    U = taylor.check_movement(U, cast=True)
    Z = taylor.X @ U.T
    return ((taylor._f_Q(Z) - y).square() + taylor._linear_energy(Z)).mean()
