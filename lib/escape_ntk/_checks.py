"""Input validation shared by every module: clear errors that name the problem and the fix.

The lowest layer of the package: it imports nothing from escape_ntk, so every module may import it.
Policy: tensors are finite, non-empty, on the CPU and of a float dtype (float32 or float64; integer
and bool input is converted to the default float dtype, half precision is refused); sizes are
Python integers; random draws come from a CPU ``torch.Generator``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np
import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


class LearningRateError(ValueError):
    """The learning rate makes gradient descent diverge (or is not a positive number).

    ``lr`` is the rejected rate, ``suggested_lr`` a rate that passes the same check (or None),
    ``bound`` the violated condition in words. A ``ValueError``, so ``except ValueError`` still works.
    """

    def __init__(self, message: str, lr=None, suggested_lr: float | None = None,
                 bound: str | None = None):
        super().__init__(message)
        self.lr, self.suggested_lr, self.bound = lr, suggested_lr, bound


class TaylorBase:
    """Marker base class of :class:`escape_ntk.Taylor`, so validators need not import ``models``."""

    __slots__ = ()


def check_dtype(dtype, name: str = "dtype") -> torch.dtype:
    """dtype must be torch.float32 or torch.float64 (integers would truncate, halves lose the tail)."""
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be torch.float32 or torch.float64; got {dtype!r}. "
                        f"Integer dtypes would truncate the values and half precision is too "
                        f"coarse for these computations.")
    return dtype


def check_generator(generator, name: str = "generator") -> torch.Generator | None:
    """None (torch's global generator) or a CPU torch.Generator; a seed or NumPy Generator is refused."""
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator (or None); got "
                        f"{type(generator).__name__}. Pass torch.Generator().manual_seed(seed).")
    if generator.device.type != "cpu":
        raise ValueError(f"{name} lives on {generator.device}, but escape_ntk draws on the CPU; "
                         f"pass torch.Generator().manual_seed(seed).")
    return generator


def as_tensor(X, name: str = "X", ndim: int = 2, dtype=None, allow_empty: bool = False) -> torch.Tensor:
    """Return `X` as a CPU torch tensor with `ndim` dimensions and only finite entries, or raise.

    NumPy arrays are converted (no copy when possible); float32/float64 keep their dtype unless
    `dtype` is given; integer and bool input becomes the default float dtype; float16, bfloat16 and
    complex input is refused. Empty input (a zero-size dimension) is refused unless `allow_empty`.
    """
    if isinstance(X, np.ndarray):
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers; got a NumPy array of dtype {X.dtype}.")
        X = torch.from_numpy(X)
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(X).__name__}. "
                        f"Convert it first, e.g. torch.as_tensor({name}, dtype=torch.float64).")
    if X.device.type not in ("cpu", "cuda"):   # CUDA: the sweeps' --device cuda (ntk_gram, kernel_ridge)
        raise ValueError(f"{name} is on {X.device}, but escape_ntk computes on the CPU (or CUDA); "
                         f"pass {name}.cpu().")
    if X.ndim != ndim:
        shape = {1: "(n,)", 2: "(n, d)"}.get(ndim, f"{ndim}-D")
        raise ValueError(f"{name} must have shape {shape}; got shape {tuple(X.shape)}. Reshape it first.")
    if X.is_complex() or X.dtype in (torch.float16, torch.bfloat16):
        raise TypeError(f"{name} has dtype {X.dtype}; use float32 or float64, e.g. {name}.double().")
    if dtype is not None:
        X = X.to(dtype)
    elif not X.is_floating_point():
        X = X.to(torch.get_default_dtype())
    if not allow_empty and X.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(X.shape)}); pass at least one row (n >= 1, "
                         f"m >= 1).")
    if not torch.isfinite(X).all():
        bad = int((~torch.isfinite(X)).sum())
        raise ValueError(f"{name} contains {bad} non-finite entries (NaN or inf); clean or resample the data.")
    return X


def as_array(x, name: str, ndim: int = 1) -> np.ndarray:
    """x (torch tensor, NumPy array or list of numbers) as a finite, non-empty float64 NumPy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers; got {type(x).__name__}.") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one value.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(arr)).sum())} non-finite entries "
                         f"(NaN or inf); clean the input.")
    return arr


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


def check_layers(X, W, a) -> tuple:
    """Validate X (n, d), W (m, d), a (m,): finite tensors of one dtype with matching sizes."""
    X = as_tensor(X, "X", ndim=2)
    W = as_tensor(W, "W", ndim=2)
    a = as_tensor(a, "a", ndim=1)
    if a.shape[0] != W.shape[0]:
        raise ValueError(f"a has {a.shape[0]} entries but W has m = {W.shape[0]} rows; "
                         f"pass one output weight per neuron.")
    check_cols(X, W.shape[1])
    check_same_dtype(X=X, W=W, a=a)
    return X, W, a


def check_square(K, name: str = "K", dtype=torch.float64, symmetric: bool = True) -> torch.Tensor:
    """K as a finite square (n, n) tensor in `dtype`; with `symmetric`, refuse an asymmetric K.

    Solvers and eigensolvers read one triangle of K, so an asymmetric K would give silently wrong
    results. Tolerance: max |K - K^T| <= sqrt(eps) max |K| in K's own dtype (rounding passes).
    """
    K = as_tensor(K, name, ndim=2)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) Gram matrix; got shape {tuple(K.shape)}.")
    if symmetric:
        asym = float((K - K.T).abs().max())
        scale = float(K.abs().max())
        if asym > math.sqrt(torch.finfo(K.dtype).eps) * scale:
            raise ValueError(f"{name} is not symmetric (max |{name} - {name}^T| = {asym:.3g}, "
                             f"max |{name}| = {scale:.3g}); pass a symmetric Gram matrix, e.g. "
                             f"en.ntk_gram(X, W, a, act), or symmetrize it: ({name} + {name}.T) / 2.")
    return K if dtype is None else K.to(dtype)


def check_labels(y, n: int, name: str = "y", dtype=None, matrix: bool = False,
                 what: str = "the Gram has", per: str = "input") -> torch.Tensor:
    """Labels y (n,) (or (n, k) when `matrix`) as a finite tensor, one per input, or raise."""
    ndim = 2 if matrix and getattr(y, "ndim", 1) == 2 else 1
    y = as_tensor(y, name, ndim=ndim, dtype=dtype)
    if y.shape[0] != n:
        unit = "rows" if matrix else "entries"
        raise ValueError(f"{name} has {y.shape[0]} {unit} but {what} n = {n} inputs; "
                         f"pass one label per {per}.")
    return y


def check_taylor(taylor, name: str = "taylor") -> None:
    """Raise TypeError unless `taylor` is an escape_ntk.Taylor."""
    if not isinstance(taylor, TaylorBase):
        raise TypeError(f"{name} must be an escape_ntk.Taylor (the model at fixed inputs), e.g. "
                        f"en.Taylor(X, W0, a, act); got {type(taylor).__name__}.")


def check_real(x, name: str) -> float:
    """A finite real number (not a bool), as float."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number; got {name} = {x!r}.")
    return float(x)


def check_nonneg(x, name: str) -> float:
    """A finite number >= 0, as float."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {name} = {x!r}.")
    return float(x)


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


def check_degrees(degrees) -> list[int]:
    """An int L (meaning 0..L) or a non-empty iterable of degrees >= 0, as a list of ints."""
    if isinstance(degrees, numbers.Integral) and not isinstance(degrees, bool):
        degrees = range(check_degree(degrees, "largest degree L") + 1)
    if isinstance(degrees, np.ndarray | torch.Tensor):
        degrees = degrees.tolist()
    if not isinstance(degrees, Iterable) or isinstance(degrees, str):
        raise TypeError(f"degrees must be an int L (meaning 0..L) or a list of ints; "
                        f"got {type(degrees).__name__}.")
    degrees = [check_degree(l, "degree l") for l in degrees]
    if not degrees:
        raise ValueError("degrees is empty; pass e.g. degrees=range(5).")
    return degrees
