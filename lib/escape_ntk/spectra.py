"""Spectra of Gram matrices, always in float64: eigenvalues, parameter-space eigendirections, and
the plateau and gap helpers that read the NTK's staircase off a spectrum.

f32 eigenvalues are off by ~1e-4 (relative to the top) on an NTK Gram, which swamps its tail, so
every routine here converts to float64. Chapter: the NTK eigenvalue staircase.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ._checks import as_array, as_tensor, check_positive_int, check_square, check_taylor

_LANCZOS_MAX_FRACTION = 0.1   # Lanczos (eigsh) for k <= n/10; beyond that a full eigh is as fast


def _square64(K, name: str = "K") -> np.ndarray:
    """K as a float64 C-contiguous NumPy array (no copy when possible); warn on float32 input."""
    K = check_square(K, name, dtype=None)
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
        import scipy.sparse.linalg as sla  # lazy: ~0.15 s to import

        v0 = np.random.default_rng(0).standard_normal(n)
        try:
            evals, evecs = sla.eigsh(A, k=k, which="LA", v0=v0)
        except sla.ArpackError:                  # e.g. K = 0 (no Krylov space): use the full eigh
            evals, evecs = np.linalg.eigh(A)
            evals, evecs = evals[n - k:], evecs[:, n - k:]
    else:
        evals, evecs = np.linalg.eigh(A)
        evals, evecs = evals[n - k:], evecs[:, n - k:]
    order = np.argsort(evals)[::-1]
    return torch.from_numpy(evals[order].copy()), torch.from_numpy(_fix_signs(evecs[:, order]))


def param_eigendirections(taylor, evecs, evals) -> torch.Tensor:
    """Parameter-space eigendirections V_j = Phi^T u_j / sqrt(ev_j), (k, m, d), orthonormal.

    `taylor` is a models.Taylor at the Gram's inputs, evecs (n, k) and evals (k,) the Gram's top
    eigenpairs (ev_j > 0). One batched phi_rmatvec: a single (m x n)(n x kd) GEMM, 2nmkd flops; no
    md x md or n x md array. Then f_L(V_j) = sqrt(ev_j) u_j. Chapter: the NTK eigenvalue staircase.
    """
    check_taylor(taylor)
    evecs = as_tensor(evecs, "evecs", ndim=2)
    evals = as_tensor(evals, "evals", ndim=1)
    if evecs.shape[1] != evals.shape[0]:
        raise ValueError(f"{evecs.shape[1]} eigenvectors but {evals.shape[0]} eigenvalues; "
                         f"pass evecs (n, k) with evals (k,).")

    if not bool((evals > 0).all()):
        raise ValueError("every eigenvalue must be > 0 to normalize Phi^T u / sqrt(ev); drop the "
                         "null eigenpairs (use top_eigh on a Gram with positive top eigenvalues).")
    dtype = taylor.X.dtype
    V = taylor.phi_rmatvec(evecs.to(dtype))
    return V / evals.to(dtype).sqrt()[:, None, None]


def block_means(evals, sizes) -> np.ndarray:
    """Means of consecutive blocks of the descending spectrum; block j has the next sizes[j] values.

    For plateau checks against the degree-l blocks of size B(d, l). Returns a float64 NumPy array.
    """
    ev = as_array(evals, "evals")
    if isinstance(sizes, str) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"sizes must be a list of block sizes; got {type(sizes).__name__}.")
    sizes = [check_positive_int(s, "block size") for s in sizes]
    if not sizes:
        raise ValueError("sizes is empty; pass at least one block size.")
    if sum(sizes) > ev.size:
        raise ValueError(f"the blocks hold {sum(sizes)} eigenvalues but only {ev.size} were given; "
                         f"shorten sizes or pass more eigenvalues.")
    edges = np.cumsum([0, *sizes])
    ev = np.sort(ev)[::-1]
    return np.array([ev[i0:i1].mean() for i0, i1 in zip(edges[:-1], edges[1:], strict=True)])


def _evals_np(evals) -> np.ndarray:
    """evals as a finite, non-empty float64 NumPy array sorted descending."""
    return np.sort(as_array(evals, "evals"))[::-1]


def plateau_widths(evals, levels) -> np.ndarray:
    """How many eigenvalues fall in each level's band: w_i = #{ev : c_i < ev <= c_{i-1}}.

    `levels` (k+1,): predicted plateau heights, strictly decreasing; the cuts
    c_i = sqrt(levels_i levels_{i+1}) are geometric midpoints (c_{-1} = inf). Returns the k widths
    of the first k levels (int NumPy array); well separated steps give w_i = B(d, l_i).
    O(n log n). Spectrum chapter.
    """
    ev = _evals_np(evals)
    lv = as_array(levels, "levels").ravel()
    if lv.size < 2 or not np.all(lv > 0) or not np.all(np.diff(lv) < 0):
        raise ValueError(f"levels must be >= 2 positive, strictly decreasing plateau heights; got "
                         f"{lv.tolist()}. Sort them with np.sort(levels)[::-1], drop zero levels.")
    cuts = np.sqrt(lv[:-1] * lv[1:])
    above = np.array([(ev > c).sum() for c in cuts])
    return np.diff(np.concatenate([[0], above]))


def largest_gap(evals, start: int, stop: int) -> int:
    """The i in [start, stop) maximizing ev_{i-1} / ev_i (eigenvalues sorted descending).

    That is the number of eigenvalues above the widest relative gap in the window: it locates a
    step edge that midpoints cannot (e.g. the degree-3 block, whose lower edge sampling smears).
    Needs 1 <= start < stop <= n and positive eigenvalues in the window. O(n log n).
    """
    ev = _evals_np(evals)
    if isinstance(start, bool) or isinstance(stop, bool) or not (1 <= start < stop <= ev.size):
        raise ValueError(f"need 1 <= start < stop <= n = {ev.size}; got start = {start}, "
                         f"stop = {stop}.")
    window = ev[start - 1:stop]
    if not np.all(window > 0):
        raise ValueError("the eigenvalues in the window must be positive; move stop above the "
                         "numerically zero tail.")
    return start + int(np.argmax(window[:-1] / window[1:]))
