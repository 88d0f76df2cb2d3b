"""Input distributions: the sphere S^{d-1}(sqrt d) (the book's default) and the standard Gaussian."""

from __future__ import annotations

import math

import torch

from ._checks import check_dim, check_dtype, check_generator, check_positive_int


def sample_gaussian(n: int, d: int, generator: torch.Generator | None = None,
                    dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(n, d) tensor with i.i.d. N(0, 1) entries, so E[x x^T] = I_d. Cost O(nd)."""
    n, d = check_positive_int(n, "n"), check_dim(d)
    dtype, generator = check_dtype(dtype), check_generator(generator)
    return torch.randn(n, d, generator=generator, dtype=dtype)


def sample_sphere(n: int, d: int, generator: torch.Generator | None = None,
                  dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(n, d) tensor whose rows are uniform on the sphere S^{d-1}(sqrt d), so ||x||^2 = d, E[x x^T] = I_d.

    Normalized Gaussians; the normalization runs in float64 so both dtypes see the same points. Cost O(nd).
    """
    dtype = check_dtype(dtype)
    G = sample_gaussian(n, d, generator, torch.float64)
    return (G * (math.sqrt(d) / G.norm(dim=1, keepdim=True))).to(dtype)


def sample_inputs(n: int, d: int, generator: torch.Generator | None = None,
                  dtype: torch.dtype = torch.float64, dist: str = "sphere") -> torch.Tensor:
    """Inputs from `dist` = 'sphere' (uniform on S^{d-1}(sqrt d)) or 'gaussian' (N(0, I_d))."""
    if dist == "sphere":
        return sample_sphere(n, d, generator, dtype)
    if dist == "gaussian":
        return sample_gaussian(n, d, generator, dtype)
    raise ValueError(f"unknown input distribution {dist!r}; use 'sphere' or 'gaussian'.")
