"""The two-layer network f(x; W) = sum_r a_r sigma(w_r . x) and its Taylor terms around W0.

Only the first layer W (m, d) is trained; a_r = +-1/sqrt(m) is fixed. The paired symmetric
initialization (neuron r + m/2 copies w_{0,r} with the opposite sign of a_r) makes f(x; W0) = 0.
Around W0, with movement U = W - W0 (Nichani, Bai & Lee 2022, section 2):

    f_L(x; U) = sum_r a_r sigma'(w_{0,r}.x) (u_r.x)              (NTK / linearized term)
    f_Q(x; U) = 1/2 sum_r a_r sigma''(w_{0,r}.x) (u_r.x)^2       (QuadNTK term)
    f_3(x; U) = 1/6 sum_r a_r sigma'''(w_{0,r}.x) (u_r.x)^3      (third-order term)

Chapter 1 (setup and scales) introduces these; the training and QuadNTK chapters use
:class:`Taylor`, the one home of f, f_L, f_Q, f_3 and the matrix-free products with the Jacobian
Phi: every other module (the trainer, the regularizers, the spectra) calls these methods.
"""

from __future__ import annotations

import math
from functools import cached_property

import torch

from ._checks import (
    TaylorBase,
    as_tensor,
    check_dim,
    check_dtype,
    check_generator,
    check_layers,
    check_positive_int,
    check_real,
    check_same_dtype,
    check_width,
)
from .activations import Activation, activation, resolve
from .kernels import gram_from_features


def init_symmetric(m: int, d: int, generator: torch.Generator | None = None,
                   dtype: torch.dtype = torch.float64, dist: str = "gaussian"):
    """Paired symmetric initialization: returns (W0 (m, d), a (m,)) with f(x; W0) = 0 for every x.

    Rows W0[:m/2] ~ N(0, I_d/d) (dist='gaussian') or uniform on the unit sphere (dist='unit', the
    authors' code); W0[m/2:] = W0[:m/2]; a = (+1, ..., +1, -1, ..., -1)/sqrt(m). Drawn in float64,
    then cast, so both dtypes see the same weights. Cost O(md).
    """
    m, d = check_width(m, symmetric=True), check_dim(d)
    dtype, generator = check_dtype(dtype), check_generator(generator)
    half = torch.randn(m // 2, d, generator=generator, dtype=torch.float64)
    if dist == "gaussian":
        half = half / math.sqrt(d)
    elif dist == "unit":
        half = half / half.norm(dim=1, keepdim=True)
    else:
        raise ValueError(f"unknown weight distribution {dist!r}; "
                         f"use 'gaussian' (N(0, I_d/d)) or 'unit'.")
    W0 = torch.cat([half, half]).to(dtype)
    a = torch.cat([torch.ones(m // 2), -torch.ones(m // 2)]).to(dtype) / math.sqrt(m)
    return W0, a


def network(X, W, a, act=None, *, sigma=None) -> torch.Tensor:
    """f(X; W) = sigma(X W^T) a, shape (n,). `act`: Activation or name; or ``sigma=`` a torch callable.

    O(nmd) flops, O(nm) memory.
    """
    s = resolve(act, 0, sigma=sigma)
    X, W, a = check_layers(X, W, a)
    return s(X @ W.T) @ a


def small_init(m: int, d: int, generator: torch.Generator | None = None, scale: float = 0.1,
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Small random U0 (m, d): u_r ~ N(0, (scale m^{-1/4})^2 / d I), ||u_r|| ~ scale m^{-1/4}.

    The start for "Q" and "LQ" (grad f_Q = 0 at U = 0, a saddle). Drawn in float64, then cast. O(md).
    """
    m, d = check_positive_int(m, "width m"), check_dim(d)
    dtype, generator = check_dtype(dtype), check_generator(generator)
    scale = check_real(scale, "scale")
    U = torch.randn(m, d, generator=generator, dtype=torch.float64)
    return (U * (scale * m ** -0.25 / math.sqrt(d))).to(dtype)


def random_signs(m: int, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """s in {-1, +1}^m, i.i.d. fair signs (the Bai-Lee randomization S = diag(s))."""
    m = check_width(m, symmetric=False)
    dtype, generator = check_dtype(dtype), check_generator(generator)
    return (2 * torch.randint(0, 2, (m,), generator=generator) - 1).to(dtype)


def sign_flip(U, s) -> torch.Tensor:
    """diag(s) U: neuron r's movement u_r times the sign s_r. U (m, d), s (m,)."""
    U, s = as_tensor(U, "U", ndim=2), as_tensor(s, "s", ndim=1)
    if s.shape[0] != U.shape[0]:
        raise ValueError(f"s has {s.shape[0]} signs but U has m = {U.shape[0]} rows; "
                         f"pass one sign per neuron.")
    check_same_dtype(U=U, s=s)
    return s[:, None] * U


def norm_24(U) -> torch.Tensor:
    """||U||_{2,4} = (sum_r ||u_r||^4)^{1/4}, the quadratic-regime norm (0-d tensor)."""
    U = as_tensor(U, "U", ndim=2)
    return (U.square().sum(dim=1).square().sum()) ** 0.25


def scale_movement(U, scale: str) -> torch.Tensor:
    """Rescale a direction U (m, d) to the NTK ball or the quadratic ball. Chapter 1.

    scale='ntk': ||U||_F = 1, so ||u_r|| ~ 1/sqrt(m); scale='quadratic': ||U||_{2,4} = 1, so
    ||u_r|| ~ m^{-1/4}.
    """
    U = as_tensor(U, "U", ndim=2)
    if scale == "ntk":
        norm = U.norm()
    elif scale == "quadratic":
        norm = norm_24(U)
    else:
        raise ValueError(f"unknown scale {scale!r}; "
                         f"use 'ntk' (||U||_F = 1) or 'quadratic' (||U||_2,4 = 1).")
    if norm == 0:
        raise ValueError("U is zero and has no direction to rescale; pass a nonzero movement.")
    return U / norm


#: The trainable models: f_L (NTK), f_Q (QuadNTK), f_L + f_Q, and the full network.
MODELS = ("L", "Q", "LQ", "net")


class Taylor(TaylorBase):
    """Taylor expansion of f(.; W0 + U) around W0 at fixed inputs X (a training or test set).

    Precomputes Z0 = X W0^T and S_k = a * sigma^{(k)}(Z0) (n, m) for k = 1, 2 (k = 3 lazily), so
    each term costs one O(nmd) GEMM plus O(nm) elementwise work; memory O(nm). Never forms the
    n x md Jacobian Phi (row i of Phi is (S1[i, r] x_i)_r).

    Attributes: X, W0, a, act (Activation), n, m, d, Z0, S1, S2, S3 (lazy).
    """

    def __init__(self, X, W0, a, act):
        if not isinstance(act, Activation | str):
            raise TypeError("act must be an Activation or an activation name (Taylor needs sigma', "
                            f"sigma'', sigma'''); got {type(act).__name__}.")
        self.act = activation(act)
        self.X, self.W0, self.a = check_layers(X, W0, a)
        self.n, self.d = self.X.shape
        self.m = self.W0.shape[0]
        self.Z0 = self.X @ self.W0.T
        self.S1 = self.a * self.act.dsigma(self.Z0)
        self.S2 = self.a * self.act.d2sigma(self.Z0)

    @cached_property
    def S3(self) -> torch.Tensor:
        """a * sigma'''(Z0), (n, m); computed on first use."""
        return self.a * self.act.d3sigma(self.Z0)

    def check_movement(self, U, name: str = "U", batch: bool = False, cast: bool = False) -> torch.Tensor:
        """U as a finite (m, d) tensor (or (k, m, d) when `batch`), or a clear error.

        cast=False requires U in the model's dtype; cast=True converts it.
        """
        U = as_tensor(U, name, ndim=3 if batch and getattr(U, "ndim", 2) == 3 else 2)
        shape = (self.m, self.d)
        if tuple(U.shape[-2:]) != shape:
            want = f"(m, d) = {shape}" + (" or (k, m, d)" if batch else "")
            raise ValueError(f"{name} must have shape {want}, one movement row per neuron; "
                             f"got {tuple(U.shape)}.")
        if cast:
            return U.to(self.X.dtype)
        check_same_dtype(**{name: U, "W0": self.W0})
        return U

    def f0(self) -> torch.Tensor:
        """f(X; W0), (n,): zero under the symmetric initialization."""
        return self.act.sigma(self.Z0) @ self.a

    def f(self, U) -> torch.Tensor:
        """The full network f(X; W0 + U) = sigma(Z0 + X U^T) a, (n,). O(nmd)."""
        return self._f(self.check_movement(U))

    def f_L(self, U) -> torch.Tensor:
        """NTK term rowsum(S1 * (X U^T)) = rowsum(X * (S1 U)), (n,). O(nmd) flops, O(nd) memory."""
        return self._f_L(self.check_movement(U))

    def f_Q(self, U) -> torch.Tensor:
        """QuadNTK term 1/2 rowsum(S2 * (X U^T)^2), (n,). O(nmd) flops, O(nm) memory."""
        return self._f_Q(self.X @ self.check_movement(U).T)

    # Unchecked kernels of the terms (U already validated, in the model's dtype); one home each.
    def _f(self, U: torch.Tensor) -> torch.Tensor:
        return self.act.sigma(torch.addmm(self.Z0, self.X, U.T)) @ self.a

    def _f_L(self, U: torch.Tensor) -> torch.Tensor:
        return (self.X * (self.S1 @ U)).sum(dim=1)

    def _f_Q(self, Z: torch.Tensor) -> torch.Tensor:
        """f_Q from Z = X U^T (n, m)."""
        return 0.5 * (self.S2 * Z * Z).sum(dim=1)

    def _linear_energy(self, Z: torch.Tensor) -> torch.Tensor:
        """sum_r (S1 Z)^2 per row, (n,): E_S f_L(SU)^2 under sign flips, from Z = X U^T."""
        return (self.S1 * Z).square().sum(dim=1)

    def _rmatvec(self, r: torch.Tensor) -> torch.Tensor:
        """Phi^T r (m, d) for a checked r (n,) in the model's dtype."""
        return self.S1.T @ (r[:, None] * self.X)

    def predict(self, U, model: str = "LQ") -> torch.Tensor:
        """Predictions (n,) of `model`: "L" f_L, "Q" f_Q, "LQ" f_L + f_Q, "net" the network f.

        U (m, d) is cast to the model's dtype. O(nmd) flops, O(nm) memory ("L": O(nd)).
        """
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; choose one of {MODELS} "
                             f"(f_L, f_Q, f_L + f_Q, the full network).")
        U = self.check_movement(U, cast=True)
        if model == "net":
            return self._f(U)
        if model == "L":
            return self._f_L(U)
        fQ = self._f_Q(self.X @ U.T)
        return fQ if model == "Q" else self._f_L(U) + fQ

    def f_3(self, U) -> torch.Tensor:
        """Third-order term 1/6 rowsum(S3 * (X U^T)^3), (n,). O(nmd) flops, O(nm) memory."""
        Z = self.X @ self.check_movement(U).T
        return (self.S3 * Z * Z * Z).sum(dim=1) / 6

    def phi_matvec(self, U) -> torch.Tensor:
        """Phi vec(U) = rowsum(X * (S1 U)), (n,); a batch U (k, m, d) gives (n, k) in one GEMM.

        O(nmdk) flops, O(ndk) memory; no n x md array.
        """
        U = self.check_movement(U, batch=True)
        if U.ndim == 2:
            return self._f_L(U)
        k = U.shape[0]
        SU = self.S1 @ U.permute(1, 0, 2).reshape(self.m, k * self.d)     # (n, k d)
        return (SU.view(self.n, k, self.d) * self.X[:, None, :]).sum(dim=2)

    def phi_rmatvec(self, r) -> torch.Tensor:
        """Phi^T r reshaped to (m, d): S1^T (r * X). A batch r (n, k) gives (k, m, d) as ONE GEMM.

        O(nmdk) flops, O(ndk + mdk) memory; no n x md array. Also the gradient of <r, f_L(U)> in U.
        """
        r = as_tensor(r, "r", ndim=2 if getattr(r, "ndim", 1) == 2 else 1)
        if r.shape[0] != self.n:
            raise ValueError(f"r has {r.shape[0]} rows but the Taylor model has n = {self.n} "
                             f"inputs; pass one residual per input.")
        check_same_dtype(r=r, X=self.X)
        if r.ndim == 1:
            return self._rmatvec(r)
        k = r.shape[1]
        RX = (r[:, :, None] * self.X[:, None, :]).reshape(self.n, k * self.d)
        return (self.S1.T @ RX).view(self.m, k, self.d).permute(1, 0, 2)

    def gram(self) -> torch.Tensor:
        """Empirical NTK Gram at X, (n, n): (X X^T) * (S1 S1^T), as kernels.ntk_gram. O(n^2 m)."""
        return gram_from_features(self.X, self.S1)
