"""spectra.py: float64 eigenvalues, top-k eigenpairs, parameter eigendirections, block means."""

import numpy as np
import pytest
import torch
from oracles import make_problem

import escape_ntk as en


def gram(n=200, m=64, d=6, dtype=torch.float64, seed=0):
    T = make_problem(n, m, d, dtype, "sigmoid_shift", seed).taylor
    return T, T.gram()


def test_eigvalsh_descending_float64_any_input():
    _, K = gram()
    ev = en.eigvalsh(K)
    ref = np.sort(np.linalg.eigvalsh(K.numpy()))[::-1]
    assert ev.dtype == torch.float64 and torch.all(ev[:-1] >= ev[1:])
    assert np.allclose(ev.numpy(), ref, atol=1e-12 * ref[0])
    assert torch.equal(en.eigvalsh(K.numpy()), ev)
    with pytest.warns(UserWarning, match="converting to float64"):
        ev32 = en.eigvalsh(K.float())
    assert ev32.dtype == torch.float64 and (ev32 - ev).abs().max() < 1e-5 * ev[0]


@pytest.mark.parametrize("k", [5, 60])          # 5: Lanczos; 60 > n/10: full eigh
def test_top_eigh_matches_full_spectrum(k):
    _, K = gram()
    evals, evecs = en.top_eigh(K, k)
    assert evals.shape == (k,) and evecs.shape == (200, k)
    assert torch.allclose(evals, en.eigvalsh(K)[:k], rtol=0, atol=1e-10 * evals[0])
    assert torch.allclose(K @ evecs, evecs * evals, atol=1e-9 * evals[0])
    assert torch.allclose(evecs.T @ evecs, torch.eye(k, dtype=torch.float64), atol=1e-10)
    big = evecs.abs().argmax(dim=0)
    assert torch.all(evecs[big, torch.arange(k)] > 0)
    again = en.top_eigh(K, k)                      # reproducible: fixed start vector
    assert torch.equal(again[0], evals) and torch.equal(again[1], evecs)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_param_eigendirections_orthonormal_and_map_back(dtype):
    T, K = gram(dtype=dtype)
    evals, evecs = en.top_eigh(K.double(), 8)
    V = en.param_eigendirections(T, evecs, evals)
    assert V.shape == (8, T.m, T.d) and V.dtype == dtype
    flat = V.reshape(8, -1).double()
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert (flat @ flat.T - torch.eye(8, dtype=torch.float64)).abs().max() < tol
    fL = T.phi_matvec(V).double()                 # (n, k): f_L(V_j) = sqrt(lam_j) u_j
    assert (fL - evecs * evals.sqrt()).abs().max() < tol * evals[0].sqrt()


def test_block_means():
    ev = torch.tensor([1.0, 9.0, 10.0, 11.0, 5.0, 3.0], dtype=torch.float64)
    assert np.allclose(en.block_means(ev, [1, 3, 2]), [11.0, (10 + 9 + 5) / 3, 2.0])
    assert np.allclose(en.block_means(ev.numpy(), [2]), [10.5])


def test_bad_inputs():
    T, K = gram(n=30)
    with pytest.raises(ValueError, match="square"):
        en.eigvalsh(K[:5])
    with pytest.raises(ValueError, match="non-finite"):
        en.eigvalsh(K * float("nan"))
    with pytest.raises(ValueError, match="exceeds the matrix size"):
        en.top_eigh(K, 31)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        en.top_eigh(K, 0)
    evals, evecs = en.top_eigh(K, 3)
    with pytest.raises(ValueError, match="3 eigenvectors but 2 eigenvalues"):
        en.param_eigendirections(T, evecs, evals[:2])
    with pytest.raises(ValueError, match="> 0"):
        en.param_eigendirections(T, evecs, -evals)
    with pytest.raises(ValueError, match="one residual per input"):
        en.param_eigendirections(T, evecs[:20], evals)
    with pytest.raises(ValueError, match="only 6 were given"):
        en.block_means(evals.new_ones(6), [4, 4])
    with pytest.raises(ValueError, match="block size"):
        en.block_means(evals, [0])
