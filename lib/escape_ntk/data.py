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


def digits_pair(classes: tuple[int, int] = (3, 8), n_test: int = 100,
                generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64):
    """A binary task on scikit-learn's bundled 8x8 handwritten digits (no download).

    Keeps the images of the two `classes` (label +1 for the first, -1 for the second), splits them
    at random (a permutation from `generator`) into n_test test images and the rest for training,
    and standardizes every pixel value by the training images' mean and standard deviation (one
    scalar each, as the authors' per-channel CIFAR-10 normalization). Returns X (n, 1, 8, 8),
    y (n,), X_test (n_test, 1, 8, 8), y_test (n_test,). For 3 vs 8: 357 images in all.
    Cost O(number of images); scikit-learn is imported on first use.
    """
    from sklearn.datasets import load_digits  # lazy: ~0.5 s to import

    if (not isinstance(classes, tuple | list) or len(classes) != 2 or len(set(classes)) != 2
            or any(isinstance(c, bool) or c not in range(10) for c in classes)):
        raise ValueError(f"classes must be two different digits 0-9, e.g. (3, 8); got {classes!r}.")
    dtype, generator = check_dtype(dtype), check_generator(generator)
    images, labels = load_digits(return_X_y=True)
    keep = (labels == classes[0]) | (labels == classes[1])
    X = torch.as_tensor(images[keep], dtype=torch.float64).reshape(-1, 1, 8, 8)
    y = torch.where(torch.as_tensor(labels[keep]) == classes[0], 1.0, -1.0).to(torch.float64)
    n_test = check_positive_int(n_test, "n_test")
    if n_test >= X.shape[0]:
        raise ValueError(f"n_test = {n_test} leaves no training images ({X.shape[0]} images of "
                         f"digits {tuple(classes)}); use n_test < {X.shape[0]}.")
    perm = torch.randperm(X.shape[0], generator=generator)
    test, tr = perm[:n_test], perm[n_test:]
    mean, std = X[tr].mean(), X[tr].std()
    X = (X - mean) / std
    return X[tr].to(dtype), y[tr].to(dtype), X[test].to(dtype), y[test].to(dtype)
