"""Taylor models of any ``torch.nn.Module``, trainable by torch optimizers; chapter 11's networks.

For a module f(x; theta) with parameters theta0 at construction and a movement delta (the
trainable parameters of the Taylor model, zero at the start):

    f_L(x; delta) = J(x) delta                       = d/dt f(x; theta0 + t delta) at t = 0
    f_Q(x; delta) = 1/2 delta^T H(x) delta           = 1/2 d^2/dt^2 f(x; theta0 + t delta) at t = 0

evaluated matrix-free with ``torch.func``: f_L by one forward-mode ``jvp``, f_Q by a ``jvp`` of
that ``jvp`` (the same direction twice). :class:`TaylorModel` returns f(x; theta0) + f_L (order 1)
or f(x; theta0) + f_L + f_Q (order 2), the counterpart of neural-tangents' ``taylor_expand``;
backpropagation through the jvp gives the gradient in delta, so ``torch.optim.SGD(model
.parameters(), lr)`` trains it like the network. Cost of one forward pass: about 2 (order 1) or
4 (order 2) forward passes of the module; memory the same multiple of its activations. Neither
J nor H is ever formed.

Also here: the two-layer network of the book as a module (:class:`TwoLayer`, f = sigma(X W^T) a,
only W trained, so its Taylor model is the closed form of :class:`escape_ntk.Taylor`), a small
CNN (:func:`small_cnn`, the authors' CIFAR-10 architecture scaled down) and the epoch loop that
trains a network and its Taylor models side by side (:func:`sgd`). Chapter: Real data.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch.func import functional_call, jvp

from ._checks import (
    as_tensor,
    check_dtype,
    check_generator,
    check_layers,
    check_positive_int,
    check_real,
)
from .activations import Activation, activation

__all__ = ["TaylorModel", "TwoLayer", "sgd", "small_cnn", "taylor_expand"]


def _check_module(module, name: str = "module") -> torch.nn.Module:
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module; got {type(module).__name__}.")
    if not any(True for _ in module.parameters()):
        raise ValueError(f"{name} has no parameters, so it has no Taylor expansion in them; "
                         f"pass a module with trainable parameters.")
    return module


class TaylorModel(torch.nn.Module):
    """f(x; theta0) + f_L(x; delta) [+ f_Q(x; delta)] of `module` around its current parameters.

    ``order`` 1 (the linearization) or 2 (the quadratic Taylor model). The parameters of this
    module are the movements delta (one zero tensor per parameter of `module`, same shapes);
    theta0 and the buffers are frozen copies, so later changes to `module` do not affect it.
    Use the module in the mode it should be expanded in (``eval()`` for dropout or batch norm).
    :meth:`terms` returns (f0, f_L, f_Q) separately; :meth:`set_movement` puts delta = theta -
    theta0 of a trained copy of the module (the Taylor terms of a trained network). Cost per
    call: about 2 (order 1) or 4 (order 2) forward passes; backward about twice that.
    """

    def __init__(self, module: torch.nn.Module, order: int = 2):
        super().__init__()
        module = _check_module(module)
        if order not in (1, 2) or isinstance(order, bool):
            raise ValueError(f"order must be 1 (f0 + f_L) or 2 (f0 + f_L + f_Q); got {order!r}.")
        self.order = order
        named = list(module.named_parameters())
        self._names = tuple(n for n, _ in named)
        self._theta0 = tuple(p.detach().clone() for _, p in named)
        self._buffers0 = {n: b.detach().clone() for n, b in module.named_buffers()}
        self._base = (copy.deepcopy(module).requires_grad_(False),)   # a tuple: not a submodule
        self.delta = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.zeros_like(p)) for p in self._theta0])

    def _f(self, x: torch.Tensor):
        names, buffers, base = self._names, self._buffers0, self._base[0]

        def f(*theta):
            return functional_call(base, ({**dict(zip(names, theta, strict=True)), **buffers}),
                                   (x,))
        return f

    def terms(self, x) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(f(x; theta0), f_L(x; delta), f_Q(x; delta)); f_Q is None for order 1.

        f_L = J delta by ``jvp``; f_Q = 1/2 delta^T H delta as the tangent of a ``jvp`` of that
        ``jvp`` in the same direction delta.
        """
        f, delta = self._f(x), tuple(self.delta)
        if self.order == 1:
            f0, fL = jvp(f, self._theta0, delta)
            return f0, fL, None

        def first(*theta):
            f0, fL = jvp(f, theta, delta)
            return fL, f0

        fL, dHd, f0 = jvp(first, self._theta0, delta, has_aux=True)
        return f0, fL, 0.5 * dHd

    def forward(self, x) -> torch.Tensor:
        f0, fL, fQ = self.terms(x)
        return f0 + fL if fQ is None else f0 + fL + fQ

    @torch.no_grad()
    def set_movement(self, module: torch.nn.Module) -> TaylorModel:
        """delta = theta - theta0 for `module` (a trained copy of the expanded module); returns self."""
        named = list(_check_module(module).named_parameters())
        if tuple(n for n, _ in named) != self._names or any(
                p.shape != q.shape for (_, p), q in zip(named, self._theta0, strict=True)):
            raise ValueError("module must have the parameters (names and shapes) of the module "
                             "this Taylor model expands, e.g. a trained copy of it.")
        for dlt, (_, p), p0 in zip(self.delta, named, self._theta0, strict=True):
            dlt.copy_(p - p0)
        return self


def taylor_expand(module: torch.nn.Module, order: int = 2) -> TaylorModel:
    """The Taylor model of `module` around its current parameters: ``TaylorModel(module, order)``.

    order 1: f0 + J delta (the linearization, NTK regime); order 2: f0 + J delta + 1/2 delta^T H
    delta (the quadratic model). The counterpart of neural-tangents' ``taylor_expand``.
    """
    return TaylorModel(module, order)


class TwoLayer(torch.nn.Module):
    """The book's network f(X; W) = sigma(X W^T) a as a module: W (m, d) trained, a (m,) fixed.

    Starts at W = W0 (a copy), so ``TaylorModel(TwoLayer(W0, a, act))`` expands around W0 and
    equals f_L, f_Q of :class:`escape_ntk.Taylor` (tests/test_taylor_nn.py). Input (n, d) or
    images (n, ...) flattened to (n, d); output (n,). O(nmd) flops.
    """

    def __init__(self, W0, a, act):
        super().__init__()
        if not isinstance(act, Activation | str):
            raise TypeError(f"act must be an Activation or an activation name; got "
                            f"{type(act).__name__}.")
        self.act = activation(act)
        W0 = as_tensor(W0, "W0", ndim=2)
        _, W0, a = check_layers(torch.zeros(1, W0.shape[1], dtype=W0.dtype), W0, a)
        self.W = torch.nn.Parameter(W0.clone())
        self.register_buffer("a", a.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act.sigma(x.flatten(1) @ self.W.T) @ self.a


def small_cnn(channels: int = 32, blocks: int = 3, size: int = 8, act: str = "relu",
              generator: torch.Generator | None = None,
              dtype: torch.dtype = torch.float64) -> torch.nn.Sequential:
    """`blocks` x [conv 3x3 (padding 1), `channels` channels, act, 2x2 average pool] + linear head.

    Input (n, 1, size, size), output (n,). The authors' CIFAR-10 CNN had 4 blocks of 512 channels
    on 32x32x3 images; their init, which we copy: weights uniform with variance 1/(2 fan_in)
    (flax variance_scaling(1/2, fan_in, uniform)), biases zero. Drawn in float64 from
    `generator`, then cast. Parameters: 10 c + (9 c^2 + c)(blocks - 1) + c (size / 2^blocks)^2 + 1.
    """
    channels, blocks = check_positive_int(channels, "channels"), check_positive_int(blocks, "blocks")
    size = check_positive_int(size, "size")
    if size % 2 ** blocks:
        raise ValueError(f"size = {size} must be divisible by 2^blocks = {2 ** blocks} (each block "
                         f"halves the image); use fewer blocks or a larger image.")
    dtype, generator = check_dtype(dtype), check_generator(generator)
    acts = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}
    if act not in acts:
        raise ValueError(f"act must be one of {sorted(acts)}; got {act!r}.")
    layers: list[torch.nn.Module] = []
    c_in = 1
    for _ in range(blocks):
        layers += [torch.nn.Conv2d(c_in, channels, 3, padding=1), acts[act](),
                   torch.nn.AvgPool2d(2)]
        c_in = channels
    side = size // 2 ** blocks
    layers += [torch.nn.Flatten(), torch.nn.Linear(channels * side * side, 1),
               torch.nn.Flatten(0)]
    net = torch.nn.Sequential(*layers).to(torch.float64)
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, torch.nn.Conv2d | torch.nn.Linear):
                fan_in = layer.weight[0].numel()
                bound = math.sqrt(1.5 / fan_in)              # uniform(-b, b): variance 1/(2 fan_in)
                w = torch.rand(layer.weight.shape, generator=generator, dtype=torch.float64)
                layer.weight.copy_((2 * w - 1) * bound)
                layer.bias.zero_()
    return net.to(dtype)


def _metrics(model, X, y) -> tuple[float, float]:
    with torch.no_grad():
        f = model(X)
    return float((f - y).square().mean()), float(((f * y) > 0).to(torch.float64).mean())


def _log(rows: dict, model, sets: dict) -> None:
    for split, (A, b) in sets.items():
        loss, acc = _metrics(model, A, b)
        rows[f"{split}_loss"].append(loss)
        rows[f"{split}_acc"].append(acc)


def sgd(models: dict[str, torch.nn.Module], X, y, X_test, y_test, *, epochs: int,
        batch_size: int, lr: float) -> dict[str, dict[str, np.ndarray]]:
    """Train each model by plain SGD on the square loss mean((f - y)^2); returns its curves.

    Each epoch visits the training set in its given order in batches of `batch_size` (the last
    one smaller), as the authors' loop does, with ``torch.optim.SGD(lr)``; the models are trained
    in place. Per model: {"epoch", "train_loss", "test_loss", "train_acc", "test_acc"} at epochs
    0..epochs (losses and accuracies sign(f) = y over the whole sets, after each epoch).
    Deterministic (no random draws). Cost: epochs x n / batch_size steps per model.
    """
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a non-empty dict {name: torch.nn.Module}.")
    for k, mod in models.items():
        _check_module(mod, f"models[{k!r}]")
    X, X_test = (as_tensor(A, nm, ndim=A.ndim) for A, nm in ((X, "X"), (X_test, "X_test")))
    y, y_test = as_tensor(y, "y", ndim=1), as_tensor(y_test, "y_test", ndim=1)
    if y.shape[0] != X.shape[0] or y_test.shape[0] != X_test.shape[0]:
        raise ValueError(f"one label per input: X has {X.shape[0]} rows and y {y.shape[0]}; "
                         f"X_test {X_test.shape[0]} and y_test {y_test.shape[0]}.")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    lr = check_real(lr, "lr")
    if lr <= 0:
        raise ValueError(f"lr must be > 0; got {lr}.")
    n = X.shape[0]
    out = {}
    for name, model in models.items():
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        rows = {k: [] for k in ("train_loss", "test_loss", "train_acc", "test_acc")}
        sets = {"train": (X, y), "test": (X_test, y_test)}
        _log(rows, model, sets)
        for _ in range(epochs):
            for i in range(0, n, batch_size):
                opt.zero_grad(set_to_none=True)
                loss = (model(X[i:i + batch_size]) - y[i:i + batch_size]).square().mean()
                if not math.isfinite(float(loss.detach())):
                    raise FloatingPointError(f"SGD on {name!r} diverged (loss {float(loss.detach())}); "
                                             f"use a smaller lr than {lr}.")
                loss.backward()
                opt.step()
            _log(rows, model, sets)
        out[name] = {"epoch": np.arange(epochs + 1), **{k: np.asarray(v) for k, v in rows.items()}}
    return out
