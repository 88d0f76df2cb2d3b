"""Spectra of Gram matrices, always in float64, and the matching parameter-space eigendirections.

f32 eigenvalues are off by ~1e-4 on an NTK Gram, which swamps its tail (performance.md section 2.4),
so every routine here converts to float64. Chapter: the NTK eigenvalue staircase.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse.linalg as sla
import torch

from ._checks import as_tensor, check_positive_int

_LANCZOS_MAX_FRACTION = 0.1   # Lanczos (eigsh) for k <= n/10; beyond that a full eigh is as fast


def _square64(K, name: str = "K") -> np.ndarray:
    """K as a float64 C-contiguous NumPy array (no copy when possible); warn on float32 input."""
    K = as_tensor(K, name, ndim=2)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) matrix; got shape {tuple(K.shape)}.")
    if K.dtype != torch.float64:
        warnings.warn(f"{name} is {K.dtype}; converting to float64 (spectra are always computed in "
                      f"float64, f32 eigenvalues are too inaccurate for the tail).", stacklevel=3)
        K = K.to(torch.float64)
    return np.ascontiguousarray(K.detach().numpy())


def _fix_signs(V: np.ndarray) -> np.ndarray:
    """Make each eigenvector's largest-magnitude entry positive, so results are reproducible."""
    idx = np.abs(V).argmax(axis=0)
    return V * np.sign(V[idx, np.arange(V.shape[1])])


def eigvalsh(K) -> torch.Tensor:
    """All eigenvalues of the symmetric K (n, n), descending, float64 (torch or NumPy in).

    LAPACK syevd via NumPy: O(n^3) flops, O(n^2) memory.
    """
    return torch.from_numpy(np.linalg.eigvalsh(_square64(K))[::-1].copy())


def top_eigh(K, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest eigenpairs of the symmetric K (n, n): (evals (k,), evecs (n, k)), descending.

    float64. Lanczos (scipy.sparse.linalg.eigsh, fixed start vector) for k <= n/10, else a full
    eigh. Lanczos costs O(n^2) per iteration and O(nk) extra memory. Each eigenvector's largest
    entry is positive.
    """
    A = _square64(K)
    n = A.shape[0]
    k = check_positive_int(k, "k")
    if k > n:
        raise ValueError(f"k = {k} exceeds the matrix size n = {n}; ask for at most n eigenpairs.")
    if k <= _LANCZOS_MAX_FRACTION * n:
        v0 = np.random.default_rng(0).standard_normal(n)
        evals, evecs = sla.eigsh(A, k=k, which="LA", v0=v0)
    else:
        evals, evecs = np.linalg.eigh(A)
        evals, evecs = evals[n - k:], evecs[:, n - k:]
    order = np.argsort(evals)[::-1]
    return torch.from_numpy(evals[order].copy()), torch.from_numpy(_fix_signs(evecs[:, order]))


def param_eigendirections(taylor, evecs, evals) -> torch.Tensor:
    """Parameter-space eigendirections V_j = Phi^T u_j / sqrt(lam_j), (k, m, d), orthonormal.

    `taylor` is a models.Taylor at the Gram's inputs, evecs (n, k) and evals (k,) the Gram's top
    eigenpairs (lam_j > 0). One batched phi_rmatvec: a single (m x n)(n x kd) GEMM, 2nmkd flops; no
    md x md or n x md array. Then f_L(V_j) = sqrt(lam_j) u_j. Chapter: the NTK eigenvalue staircase.
    """
    evecs = as_tensor(evecs, "evecs", ndim=2)
    evals = as_tensor(evals, "evals", ndim=1)
    if evecs.shape[1] != evals.shape[0]:
        raise ValueError(f"{evecs.shape[1]} eigenvectors but {evals.shape[0]} eigenvalues; "
                         f"pass evecs (n, k) with evals (k,).")
    if not bool((evals > 0).all()):
        raise ValueError("every eigenvalue must be > 0 to normalize Phi^T u / sqrt(lam); drop the "
                         "null eigenpairs (use top_eigh on a Gram with positive top eigenvalues).")
    dtype = taylor.X.dtype
    V = taylor.phi_rmatvec(evecs.to(dtype))
    return V / evals.to(dtype).sqrt()[:, None, None]


def block_means(evals, sizes) -> np.ndarray:
    """Means of consecutive blocks of the descending spectrum; block j has the next sizes[j] values.

    For plateau checks against the degree-l blocks of size B(d, l). Returns a float64 NumPy array.
    """
    if isinstance(evals, torch.Tensor):
        evals = evals.detach().cpu().numpy()
    ev = np.asarray(evals, dtype=np.float64)
    if ev.ndim != 1:
        raise ValueError(f"evals must be 1-D; got shape {ev.shape}.")
    sizes = [check_positive_int(s, "block size") for s in sizes]
    if sum(sizes) > ev.size:
        raise ValueError(f"the blocks hold {sum(sizes)} eigenvalues but only {ev.size} were given; "
                         f"shorten sizes or pass more eigenvalues.")
    edges = np.cumsum([0, *sizes])
    ev = np.sort(ev)[::-1]
    return np.array([ev[i0:i1].mean() for i0, i1 in zip(edges[:-1], edges[1:], strict=True)])
