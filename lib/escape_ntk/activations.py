"""Activations with exact derivatives, usable on torch tensors and NumPy arrays.

Each :class:`Activation` carries sigma and its first three derivatives as functions ``sigma(z)``,
``dsigma(z)``, ``d2sigma(z)``, ``d3sigma(z)``. A torch tensor in gives a torch tensor out (same dtype);
a NumPy array (or float) in gives a float64 NumPy array out. Chapter 1 introduces them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

Fn = Callable[[torch.Tensor], torch.Tensor]


def _dual(fn: Fn) -> Callable:
    """Let a torch elementwise function accept NumPy input too (float64 in, float64 out)."""

    def wrapped(z):
        if isinstance(z, torch.Tensor):
            return fn(z)
        return fn(torch.as_tensor(np.asarray(z, dtype=np.float64))).numpy()

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


@dataclass(frozen=True)
class Activation:
    """An activation sigma with exact derivatives sigma', sigma'', sigma'''.

    ``smooth`` is False when sigma'' (or sigma''') has a jump or a Dirac mass (ReLU), so that
    second-order Taylor terms are only meaningful in the distributional sense.
    """

    name: str
    latex: str
    _sigma: Fn
    _d1: Fn
    _d2: Fn
    _d3: Fn
    smooth: bool = True
    _d1_of_sigma: Callable[[torch.Tensor], torch.Tensor] | None = None

    def dsigma_from_sigma_(self, s: torch.Tensor) -> torch.Tensor | None:
        """sigma'(z) written over s = sigma(z) in place (one elementwise pass), or None.

        For activations whose derivative is a function of their value (tanh: 1 - s^2,
        sigmoid_shift: s (1 - s), relu: 1{s > 0}); None for the others, which then need
        ``dsigma(z)``. It saves the second transcendental pass of a network's GD step.
        """
        return None if self._d1_of_sigma is None else self._d1_of_sigma(s)

    def sigma(self, z):
        return _dual(self._sigma)(z)

    def dsigma(self, z):
        return _dual(self._d1)(z)

    def d2sigma(self, z):
        return _dual(self._d2)(z)

    def d3sigma(self, z):
        return _dual(self._d3)(z)

    def derivative(self, k: int) -> Callable:
        """The k-th derivative (k = 0..3) as a dual torch/NumPy callable."""
        fns = (self.sigma, self.dsigma, self.d2sigma, self.d3sigma)
        if k not in range(4):
            raise ValueError(f"derivative order must be 0, 1, 2 or 3; got {k!r}.")
        return fns[k]

    __call__ = sigma

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


def _sig1(z):
    return torch.sigmoid(z - 1)


_SQRT_PI = float(np.sqrt(np.pi))

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation(
            "relu", r"\mathrm{ReLU}(z)",
            torch.relu,
            lambda z: (z > 0).to(z.dtype),
            torch.zeros_like,
            torch.zeros_like,
            smooth=False,
            _d1_of_sigma=lambda s: s.sign_(),
        ),
        Activation(
            "relu3", r"\mathrm{ReLU}(z)^3/6",
            lambda z: torch.relu(z) ** 3 / 6,
            lambda z: torch.relu(z) ** 2 / 2,
            torch.relu,
            lambda z: (z > 0).to(z.dtype),
            smooth=False,
        ),
        Activation(
            "softplus_shift", r"\log(1+e^{z-1})",
            lambda z: torch.nn.functional.softplus(z - 1),
            _sig1,
            lambda z: _sig1(z) * (1 - _sig1(z)),
            lambda z: _sig1(z) * (1 - _sig1(z)) * (1 - 2 * _sig1(z)),
        ),
        Activation(
            "sigmoid_shift", r"1/(1+e^{1-z})",
            _sig1,
            lambda z: _sig1(z) * (1 - _sig1(z)),
            lambda z: _sig1(z) * (1 - _sig1(z)) * (1 - 2 * _sig1(z)),
            lambda z: _sig1(z) * (1 - _sig1(z)) * (1 - 6 * _sig1(z) + 6 * _sig1(z) ** 2),
            _d1_of_sigma=lambda s: torch.addcmul(s, s, s, value=-1, out=s),
        ),
        Activation(
            "tanh", r"\tanh(z)",
            torch.tanh,
            lambda z: 1 - torch.tanh(z) ** 2,
            lambda z: -2 * torch.tanh(z) * (1 - torch.tanh(z) ** 2),
            lambda z: -2 * (1 - torch.tanh(z) ** 2) * (1 - 3 * torch.tanh(z) ** 2),
            _d1_of_sigma=lambda s: torch.addcmul(torch.ones((), dtype=s.dtype), s, s, value=-1,
                                                 out=s),
        ),
        Activation(
            "erf", r"\mathrm{erf}(z)",
            torch.erf,
            lambda z: 2 / _SQRT_PI * torch.exp(-z * z),
            lambda z: -4 * z / _SQRT_PI * torch.exp(-z * z),
            lambda z: (8 * z * z - 4) / _SQRT_PI * torch.exp(-z * z),
        ),
    ]
}


_ORDER_NAMES = {0: "sigma", 1: "dsigma", 2: "d2sigma", 3: "d3sigma"}


def _bound_order(f) -> int | None:
    """k if f is the bound method act.sigma / act.dsigma / ... of an Activation, else None."""
    owner = getattr(f, "__self__", None)
    if isinstance(owner, Activation):
        name = getattr(f, "__name__", "")
        return {"sigma": 0, "__call__": 0, "dsigma": 1, "d2sigma": 2, "d3sigma": 3}.get(name)
    return None


def resolve(act=None, order: int = 0, *, sigma=None, dsigma=None) -> Callable:
    """The order-th derivative of the activation chosen by exactly one of `act`, `sigma=`, `dsigma=`.

    - ``act``: an :class:`Activation` or an activation name; the function takes the derivative it
      needs (``order``). A raw callable here is refused: it would be ambiguous (sigma or sigma'?).
    - ``sigma=`` / ``dsigma=`` (keyword only): a raw callable that *is* sigma (``order`` 0) or
      sigma' (``order`` 1); an Activation or a name is accepted too and means that activation.
      Only the keyword matching ``order`` is accepted, and a bound method of another derivative
      (``sigma=act.dsigma``) is refused.

    So a function's meaning never depends on which parameter received the argument.
    """
    given = {k: v for k, v in (("act", act), ("sigma", sigma), ("dsigma", dsigma)) if v is not None}
    want = _ORDER_NAMES[order]
    if len(given) != 1:
        raise TypeError(f"pass the activation once: an Activation or a name as act (e.g. "
                        f"en.activation('relu') or 'relu'), or a callable as {want}=...; got "
                        f"{sorted(given) or 'none'}.")
    (key, f), = given.items()
    if isinstance(f, Activation | str):
        return activation(f).derivative(order)
    if not callable(f):
        raise TypeError(f"{key} must be an Activation, an activation name or (by keyword) a "
                        f"callable; got {type(f).__name__}.")
    bound = _bound_order(f)
    if key == "act":
        hint = (f"pass the Activation itself ({f.__self__.name!r}), or {want}=... if this callable "
                f"is {want}" if bound is not None else f"pass it by keyword, {want}=...")
        raise TypeError(f"act must be an Activation or an activation name, not a raw callable "
                        f"({getattr(f, '__name__', type(f).__name__)}): a callable is ambiguous "
                        f"(sigma or sigma'?); {hint}.")
    if key != want:
        raise TypeError(f"this function needs {want}, not {key}; pass the Activation (act) or "
                        f"{want}=... .")
    if bound is not None and bound != order:
        raise ValueError(f"{key}= got {f.__self__.name}.{_ORDER_NAMES[bound]}, which is not "
                         f"{want}; pass {key}={f.__self__.name}.{want} or the Activation itself.")
    return f


def activation(name: str | Activation) -> Activation:
    """Look up an activation by name: 'relu', 'relu3' (ReLU^3/6), 'softplus_shift' (softplus(z-1)),
    'sigmoid_shift' (sigmoid(z-1), the authors' choice), 'tanh', 'erf'. An Activation passes through."""
    if isinstance(name, Activation):
        return name
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}.") from None
