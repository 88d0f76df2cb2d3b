"""kernels.py: the closed-form NTK Gram against torch.func.jacrev, and kernel ridge regression."""

import json
import math

import pytest
import torch
from oracles import TOL, make_problem, network_jacobian, randn

import escape_ntk as en
from escape_ntk import bench, kernels


def jacobian_gram(X, W, a, act, Y=None):
    """The oracle: J(X) J(Y)^T with J the explicit n x md Jacobian of f(x; W) in W."""
    JX = network_jacobian(X, W, a, act)
    return JX @ (JX if Y is None else network_jacobian(Y, W, a, act)).T


def problem(n, m, d, dtype, seed=0, random_a=False):
    p = make_problem(n, m, d, dtype, seed=seed)
    W, a = p.W0 + randn(p.g, m, d, dtype=dtype, scale=0.3) / math.sqrt(d), p.a
    if random_a:
        a = randn(p.g, m, dtype=dtype)
    return p.X, W, a


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("random_a", [False, True])
@pytest.mark.parametrize("block_rows", [256, 48])        # 48: the triangular product runs 5 blocks
def test_ntk_gram_matches_jacrev(dtype, random_a, block_rows, monkeypatch):
    monkeypatch.setattr(kernels, "_BLOCK_ROWS", block_rows)
    X, W, a = problem(256, 32, 10, dtype, random_a=random_a)
    K = en.ntk_gram(X, W, a, dsigma=en.activation("sigmoid_shift").dsigma)
    K_ref = jacobian_gram(X, W, a, "sigmoid_shift")
    assert K.dtype == dtype and K.shape == (256, 256)
    assert (K - K_ref).abs().max() <= TOL[dtype] * K_ref.abs().max()
    assert torch.equal(K, K.T)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cross_gram_matches_jacrev(dtype):
    X, W, a = problem(50, 16, 6, dtype)
    Y = en.sample_sphere(30, 6, torch.Generator().manual_seed(9), dtype)
    K = en.ntk_gram(X, W, a, "tanh", Y=Y)
    K_ref = jacobian_gram(X, W, a, "tanh", Y)
    assert K.shape == (50, 30)
    assert (K - K_ref).abs().max() <= TOL[dtype] * K_ref.abs().max()


def test_gram_blocks_at_uneven_sizes_and_dsigma_forms():
    X, W, a = problem(601, 20, 5, torch.float64)
    S = torch.tanh(X @ W.T)
    S = (1 - S * S) * a.abs()
    K_ref = (X @ X.T) * (S @ S.T)
    for ds in ("tanh", en.activation("tanh")):
        assert (en.ntk_gram(X, W, a, ds) - K_ref).abs().max() < 1e-12 * K_ref.abs().max()
    K = en.ntk_gram(X, W, a, dsigma=lambda z: 1 - torch.tanh(z) ** 2)
    assert (K - K_ref).abs().max() < 1e-12 * K_ref.abs().max()
    T = en.Taylor(X, W, a, "tanh")
    assert (T.gram() - K_ref).abs().max() < 1e-12 * K_ref.abs().max()


def test_ntk_gram_bad_inputs():
    X, W, a = problem(20, 8, 5, torch.float64)
    with pytest.raises(ValueError, match="columns"):
        en.ntk_gram(X[:, :4], W, a, "tanh")
    with pytest.raises(ValueError, match="one output weight per neuron"):
        en.ntk_gram(X, W, a[:3], "tanh")
    with pytest.raises(TypeError, match="mixed dtypes"):
        en.ntk_gram(X.float(), W, a, "tanh")
    with pytest.raises(ValueError, match="columns"):
        en.ntk_gram(X, W, a, "tanh", Y=X[:, :3])
    with pytest.raises(TypeError, match="act must be"):
        en.ntk_gram(X, W, a, 3.0)
    with pytest.raises(TypeError, match="ambiguous"):                 # sigma or sigma'?
        en.ntk_gram(X, W, a, torch.tanh)
    with pytest.raises(ValueError, match="not dsigma"):
        en.ntk_gram(X, W, a, dsigma=en.activation("tanh").sigma)
    with pytest.raises(ValueError, match="non-finite"):
        en.ntk_gram(X * float("inf"), W, a, "tanh")


# --- kernel ridge ---------------------------------------------------------------------------------

def test_kernel_ridge_solves_the_regularized_system():
    X, W, a = problem(120, 16, 5, torch.float64)
    K = en.ntk_gram(X, W, a, "sigmoid_shift")
    y = torch.randn(120, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    n, ridge = 120, 1e-3
    alpha = en.kernel_ridge(K, y, ridge)
    assert torch.allclose((K / n + ridge * torch.eye(n, dtype=torch.float64)) @ alpha, y / n,
                          atol=1e-12)
    assert torch.allclose(en.kernel_ridge(K, y[:, 0], ridge), alpha[:, 0])
    Y = en.sample_sphere(7, 5, torch.Generator().manual_seed(2))
    K_test = en.ntk_gram(Y, W, a, "sigmoid_shift", Y=X)
    assert torch.allclose(en.kernel_ridge(K, y, ridge, K_test=K_test), K_test @ alpha)
    # f32 input is solved in f64; numpy input works
    assert en.kernel_ridge(K.float(), y, ridge).dtype == torch.float64
    assert torch.allclose(en.kernel_ridge(K.numpy(), y.numpy(), ridge), alpha)


def test_kernel_ridge_interpolates_without_ridge():
    K = torch.eye(5, dtype=torch.float64) * 2 + 0.1
    y = torch.arange(5, dtype=torch.float64)
    assert torch.allclose(K @ en.kernel_ridge(K, y, 0.0), y, atol=1e-12)


def test_kernel_ridge_bad_inputs():
    K = torch.eye(4, dtype=torch.float64)
    y = torch.ones(4, dtype=torch.float64)
    with pytest.raises(ValueError, match="square"):
        en.kernel_ridge(K[:3], y, 0.1)
    with pytest.raises(ValueError, match="one label per training input"):
        en.kernel_ridge(K, y[:3], 0.1)
    with pytest.raises(ValueError, match="ridge must be"):
        en.kernel_ridge(K, y, -1.0)
    with pytest.raises(ValueError, match="not positive definite"):
        en.kernel_ridge(torch.zeros(4, 4, dtype=torch.float64), y, 0.0)
    with pytest.raises(ValueError, match=r"K_test of shape \(n_test, 4\)"):
        en.kernel_ridge(K, y, 0.1, K_test=torch.ones(2, 3, dtype=torch.float64))


# --- benchmark smoke test -------------------------------------------------------------------------

def test_bench_quick(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--quick", "--json", str(out)])
    data = json.loads(out.read_text())
    names = {s["name"] for s in data["sections"]}
    assert {"gemm_peak", "ntk_gram", "spectrum", "eigendirections"} <= names
    assert "loadavg" in data and "ntk_gram" in capsys.readouterr().out
