"""Input validation shared by every module: clear errors that name the problem and the fix."""

from __future__ import annotations

import numbers

import numpy as np
import torch


def as_tensor(X, name: str = "X", ndim: int = 2, dtype=None) -> torch.Tensor:
    """Return `X` as a torch tensor with `ndim` dimensions and only finite entries, or raise.

    NumPy arrays are converted (no copy when possible); floats keep their dtype unless `dtype` is given.
    """
    if isinstance(X, np.ndarray):
        X = torch.from_numpy(X)
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(X).__name__}.")
    if X.ndim != ndim:
        shape = {1: "(n,)", 2: "(n, d)"}.get(ndim, f"{ndim}-D")
        raise ValueError(f"{name} must have shape {shape}; got shape {tuple(X.shape)}. Reshape it first.")
    if dtype is not None:
        X = X.to(dtype)
    elif not X.is_floating_point():
        X = X.to(torch.get_default_dtype())
    if not torch.isfinite(X).all():
        bad = int((~torch.isfinite(X)).sum())
        raise ValueError(f"{name} contains {bad} non-finite entries (NaN or inf); clean or resample the data.")
    return X


def check_same_dtype(**tensors: torch.Tensor) -> torch.dtype:
    """Raise unless all tensors share one floating dtype; return it."""
    dtypes = {k: v.dtype for k, v in tensors.items()}
    if len(set(dtypes.values())) > 1:
        listing = ", ".join(f"{k}: {v}" for k, v in dtypes.items())
        raise TypeError(f"mixed dtypes ({listing}); convert all inputs to one dtype, e.g. .double().")
    return next(iter(dtypes.values()))


def check_cols(X: torch.Tensor, d: int, name: str = "X", other: str = "W") -> None:
    """Raise unless X has `d` columns (the input dimension shared with `other`)."""
    if X.shape[-1] != d:
        raise ValueError(
            f"{name} has {X.shape[-1]} columns but {other} expects input dimension d = {d}; "
            f"pass inputs of shape (n, {d})."
        )


def check_dim(d) -> int:
    """The input dimension must be an integer d >= 2 (the sphere S^{d-1} needs d >= 2)."""
    if not isinstance(d, numbers.Integral) or isinstance(d, bool) or d < 2:
        raise ValueError(f"input dimension d must be an integer >= 2; got d = {d!r}.")
    return int(d)


def check_positive_int(k, name: str) -> int:
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"{name} must be a positive integer; got {name} = {k!r}.")
    return int(k)


def check_degree(l, name: str = "degree") -> int:
    """Degrees of polynomials and harmonics are integers >= 0."""
    if not isinstance(l, numbers.Integral) or isinstance(l, bool) or l < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {name} = {l!r}.")
    return int(l)


def check_width(m, symmetric: bool = True) -> int:
    """The width m is a positive integer, even under the paired symmetric initialization."""
    m = check_positive_int(m, "width m")
    if symmetric and m % 2:
        raise ValueError(
            f"width m = {m} is odd, but the symmetric initialization pairs neuron r with r + m/2; "
            f"use an even width such as m = {m + 1}."
        )
    return m
