"""The authors' "realistic" MLP experiment: a standard two-layer ReLU network with biases.

Unlike the rest of the book, every layer is trained and nothing is Taylor-expanded or penalized:

    f(x; theta) = w2 . relu(W1 x + b1) + b2,   theta = (W1 (w, d), b1 (w,), w2 (w,), b2 ()),

trained by plain full-batch gradient descent on the mean squared error (the authors' code,
github.com/eshnich/escape_NTK, ``MLP_realistic.ipynb``: width 100, lr 0.05, 3e4 steps). The
target on Gaussian inputs x ~ N(0, I_d) is

    f*(x) = x^T A x / sqrt(675) + He_3(beta . x) / sqrt(6),   A = diag(1{i > d/2}), i = 0..d-1,

as in that notebook (the constant 675 does not depend on d). :class:`MLPStep` is the fused,
hand-written GD step (two GEMMs of O(n w d) per step, n x w buffers allocated once);
:func:`mlp_ntk_gram` is the closed form of the network's empirical NTK Gram (biases included),
O(n n' (w + d)), never the n x P Jacobian. Chapter: real networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._checks import (
    as_tensor,
    check_dim,
    check_dtype,
    check_generator,
    check_labels,
    check_positive_int,
)
from .harmonics import hermite_polynomial
from .kernels import kernel_ridge
from .targets import Target

#: The authors' width, learning rate and number of steps.
WIDTH, LR, STEPS = 100, 0.05, 30000
INITS = ("authors", "torch")


@dataclass
class MLPParams:
    """theta = (W1 (w, d), b1 (w,), w2 (w,), b2 (0-d)) of f(x) = w2 . relu(W1 x + b1) + b2."""

    W1: torch.Tensor
    b1: torch.Tensor
    w2: torch.Tensor
    b2: torch.Tensor

    def clone(self) -> MLPParams:
        return MLPParams(*(t.clone() for t in self.tensors()))

    def tensors(self) -> tuple:
        return (self.W1, self.b1, self.w2, self.b2)

    def to(self, dtype: torch.dtype) -> MLPParams:
        return MLPParams(*(t.to(dtype) for t in self.tensors()))

    @property
    def count(self) -> int:
        """P = w (d + 2) + 1 parameters."""
        return sum(t.numel() for t in self.tensors())


def mlp_init(d: int, width: int = WIDTH, generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.float64, init: str = "authors") -> MLPParams:
    """Initial parameters, drawn in float64 and cast. Cost O(w d).

    init='authors': the authors' code, flax ``variance_scaling(1/2, 'fan_in', 'uniform')`` weights
    (uniform on [-L, L], L = sqrt(3 / (2 fan_in)), variance 1/(2 fan_in)) and zero biases (their
    comment calls it PyTorch's default, which it is not quite); init='torch': PyTorch's
    ``nn.Linear`` default, weights and biases uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)].
    Draw order: W1, w2 (then b1, b2 for 'torch').
    """
    d, width = check_dim(d), check_positive_int(width, "width")
    dtype, generator = check_dtype(dtype), check_generator(generator)
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; use 'authors' (their flax initializer) or "
                         f"'torch' (nn.Linear's default).")

    def uniform(shape, bound):
        return (2 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1) * bound

    if init == "authors":
        W1 = uniform((width, d), math.sqrt(1.5 / d))
        w2 = uniform((width,), math.sqrt(1.5 / width))
        b1, b2 = torch.zeros(width, dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    else:
        W1 = uniform((width, d), 1 / math.sqrt(d))
        w2 = uniform((width,), 1 / math.sqrt(width))
        b1 = uniform((width,), 1 / math.sqrt(d))
        b2 = uniform((), 1 / math.sqrt(width))
    return MLPParams(W1, b1, w2, b2).to(dtype)


def _check_params(p) -> MLPParams:
    if not isinstance(p, MLPParams):
        raise TypeError(f"params must be an en.mlp.MLPParams (en.mlp.mlp_init); got "
                        f"{type(p).__name__}.")
    return p


def _check_inputs(X, p: MLPParams, name: str = "X") -> torch.Tensor:
    X = as_tensor(X, name, ndim=2)
    if X.shape[1] != p.W1.shape[1]:
        raise ValueError(f"{name} has {X.shape[1]} columns but the network has d = "
                         f"{p.W1.shape[1]} inputs; pass {name} of shape (n, {p.W1.shape[1]}).")
    if X.dtype != p.W1.dtype:
        raise TypeError(f"{name} is {X.dtype} but the parameters are {p.W1.dtype}; cast one "
                        f"(params.to(dtype)).")
    return X


def mlp_forward(params: MLPParams, X) -> torch.Tensor:
    """f(X; theta) = relu(X W1^T + b1) w2 + b2, shape (n,). O(n w d)."""
    p = _check_params(params)
    X = _check_inputs(X, p)
    return torch.relu(torch.addmm(p.b1, X, p.W1.T)) @ p.w2 + p.b2


def authors_target(d: int, generator: torch.Generator | None = None) -> Target:
    """f*(x) = x^T A x / sqrt(675) + He_3(beta . x) / sqrt(6) on x ~ N(0, I_d), A = diag(1{i > d/2}).

    beta uniform on the unit sphere (one draw of d Gaussians from ``generator``). With
    k = #{i < d : i > d/2} ones on A's diagonal, E f* = k / sqrt(675), Var f* = 1 + 2k/675 and
    ``norm`` = sqrt(E f*^2) = sqrt(1 + (k^2 + 2k)/675). O(n d) per call.
    """
    d, generator = check_dim(d), check_generator(generator)
    g = torch.randn(d, generator=generator, dtype=torch.float64)
    beta = g / g.norm()
    mask = torch.tensor([float(i > d / 2) for i in range(d)], dtype=torch.float64)
    k = int(mask.sum())

    def fn(X: torch.Tensor) -> torch.Tensor:
        z = X @ beta.to(X.dtype)
        quad = (X * X) @ mask.to(X.dtype)
        return quad / math.sqrt(675.0) + hermite_polynomial(3, z) / math.sqrt(6.0)

    norm = math.sqrt(1 + (k * k + 2 * k) / 675.0)
    return Target("mlp-authors", d, 3, norm, "gaussian", fn,
                  params={"beta": beta, "A_diag": mask})


class MLPStep:
    """The fused full-batch GD step on (1/n) ||f(X; theta) - y||^2, all four tensors trained.

    Per step: H = relu(X W1^T + b1) (one GEMM into an n x w buffer), f = H w2 + b2,
    r = (2/n)(f - y), G = (r w2^T) * 1{H > 0} (in place), grad W1 = G^T X (one GEMM),
    grad b1 = colsum(G), grad w2 = H^T r, grad b2 = sum r. O(n w d) flops, O(n w) memory.
    """

    def __init__(self, X, y, params: MLPParams):
        p = _check_params(params)
        self.X = _check_inputs(X, p)
        n = self.X.shape[0]
        self.y = check_labels(y, n, "y", self.X.dtype, what="X has")
        self.H = torch.empty(n, p.W1.shape[0], dtype=self.X.dtype)
        self.M = torch.empty(n, p.W1.shape[0], dtype=torch.bool)

    def grads(self, p: MLPParams) -> tuple[torch.Tensor, MLPParams]:
        """(training MSE (0-d), gradient as MLPParams) at p; reuses the buffers."""
        X, y, H = self.X, self.y, self.H
        torch.addmm(p.b1, X, p.W1.T, out=H)
        torch.gt(H, 0, out=self.M)
        H.clamp_(min=0)
        res = torch.addmv(p.b2.expand(X.shape[0]), H, p.w2) - y
        mse = res @ res / X.shape[0]
        r = res.mul_(2.0 / X.shape[0])
        g_w2 = H.T @ r
        G = torch.outer(r, p.w2, out=H).mul_(self.M)
        return mse, MLPParams(G.T @ X, G.sum(dim=0), g_w2, r.sum())

    def update(self, p: MLPParams, lr: float) -> torch.Tensor:
        """One GD step on p in place; returns the training MSE before the step (0-d)."""
        mse, g = self.grads(p)
        for t, gt in zip(p.tensors(), g.tensors(), strict=True):
            t.sub_(gt, alpha=lr)
        return mse


def mlp_train(params: MLPParams, X, y, *, lr: float = LR, steps: int = STEPS,
              X_test=None, y_test=None, log_points: int = 8) -> dict:
    """Full-batch GD from ``params`` (copied); returns {'params', 'steps', 'train', 'test'}.

    'train'/'test': MSE (test: None without X_test) at ``log_points`` log-spaced steps (0 and
    ``steps`` included); the training MSE at step t is that of the parameters after t updates.
    Cost: steps x O(n w d). Raises FloatingPointError if the loss becomes non-finite.
    """
    p = _check_params(params).clone()
    steps = check_positive_int(steps, "steps")
    step = MLPStep(X, y, p)
    if X_test is not None:
        X_test = _check_inputs(X_test, p, "X_test")
        y_test = check_labels(y_test, X_test.shape[0], "y_test", X_test.dtype, what="X_test has")
    grid = torch.linspace(0, math.log(steps), max(log_points - 1, 1)).exp().round().long()
    log_at = sorted({0, steps, *grid.tolist()})
    out = {"steps": log_at, "train": [], "test": [] if X_test is not None else None}

    def log():
        f = mlp_forward(p, step.X)
        out["train"].append(float((f - step.y).square().mean()))
        if X_test is not None:
            out["test"].append(float((mlp_forward(p, X_test) - y_test).square().mean()))

    nxt = 0
    for t in range(steps + 1):
        if t == log_at[nxt]:
            log()
            if not math.isfinite(out["train"][-1]):
                raise FloatingPointError(f"MLP training diverged at step {t} (lr = {lr}); "
                                         f"use a smaller lr.")
            nxt += 1
        if t == steps:
            break
        step.update(p, lr)
    out["params"] = p
    return out


def mlp_ntk_gram(params: MLPParams, X, Y=None) -> torch.Tensor:
    """Empirical NTK Gram at theta, K(X, Y) = J(X) J(Y)^T over all P = w (d + 2) + 1 parameters:

        K = H_X H_Y^T + 1 + (X Y^T + 1) * (E_X E_Y^T),
        H = relu(X W1^T + b1) (d f / d w2), E = 1{X W1^T + b1 > 0} * w2 (d f / d b1),

    the (X Y^T + 1) factor from d f / d W1 = E x^T and the bias b1; the 1 from b2. Shapes (n, n')
    (Y defaults to X). Cost O(n n' (w + d)) flops, O(n n') memory; no n x P Jacobian.
    """
    p = _check_params(params)
    X = _check_inputs(X, p)
    Y = X if Y is None else _check_inputs(Y, p, "Y")

    def feats(A):
        Z = torch.addmm(p.b1, A, p.W1.T)
        return torch.relu(Z), (Z > 0).to(A.dtype) * p.w2

    HX, EX = feats(X)
    HY, EY = (HX, EX) if Y is X else feats(Y)
    return HX @ HY.T + 1.0 + (X @ Y.T + 1.0) * (EX @ EY.T)


def mlp_ntk_regression(params: MLPParams, X, y, X_test, ridges) -> list[torch.Tensor]:
    """Test predictions of the network linearized at theta and trained to convergence, per ridge:

        f(X_test; theta) + K(X_test, X) (K/n + ridge I)^{-1} (y - f(X; theta)) / n,

    (kernel ridge regression with the empirical NTK on the residual of the initial network), in
    float64. Cost O(n^2 (w + d) + n^3/3 per ridge); O(n^2) memory.
    """
    p = _check_params(params).to(torch.float64)
    X = _check_inputs(as_tensor(X, "X", ndim=2).double(), p)
    X_test = _check_inputs(as_tensor(X_test, "X_test", ndim=2).double(), p, "X_test")
    y = check_labels(y, X.shape[0], "y", torch.float64, what="X has")
    K = mlp_ntk_gram(p, X)
    K_test = mlp_ntk_gram(p, X_test, X)
    res = y - mlp_forward(p, X)
    f0 = mlp_forward(p, X_test)
    return [f0 + kernel_ridge(K, res, float(r), K_test) for r in ridges]
