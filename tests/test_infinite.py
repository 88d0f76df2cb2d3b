"""The infinite-width NTK on data: Mehler profile, closed forms, Monte-Carlo width, spectrum."""

import math

import numpy as np
import pytest
import torch
from oracles import bivariate_expectation

import escape_ntk as en


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_profile_matches_direct_bivariate_expectation():
    d, f = 10, en.activation("softplus_shift").dsigma
    h = en.ntk_profile("softplus_shift", d)
    t = np.linspace(-0.95, 0.95, 15)
    direct = d * t * bivariate_expectation(f, t)
    np.testing.assert_allclose(h(t), direct, rtol=0, atol=1e-10 * h.diag)  # the default rtol
    tight = en.ntk_profile("softplus_shift", d, rtol=1e-15)
    np.testing.assert_allclose(tight(t), direct, rtol=0, atol=1e-13)
    assert h(np.array([1.0]))[0] == pytest.approx(d * en.normal_expectation(lambda z: f(z) ** 2))
    assert h.diag == pytest.approx(en.ntk_trace("softplus_shift", d), rel=1e-15)
    assert h(np.array([-1.0]))[0] == pytest.approx(
        -d * en.normal_expectation(lambda z: f(z) * f(-z)), rel=1e-14)
    out = h(torch.tensor([0.3, -0.2], dtype=torch.float32))
    assert out.dtype == torch.float32
    assert torch.allclose(out, torch.from_numpy(h(np.array([0.3, -0.2]))).float())


def test_profile_fixed_terms_and_bound():
    h = en.ntk_profile("sigmoid_shift", 20, terms=4)
    c2 = en.ntk_series_coefficients("sigmoid_shift", 4)
    t = np.array([0.1, -0.5])
    np.testing.assert_allclose(h(t), 20 * t * np.polyval(c2[::-1], t), rtol=1e-14)
    full = en.ntk_profile("sigmoid_shift", 20)
    assert np.all(np.abs(full(t) - h(t)) <= full.error_bound(4, 0.5) * (1 + 1e-12))
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        full(np.array([1.5]))


def test_relu_gram_matches_arccos_kernel():
    """sigma' = step: K = d t (pi - arccos t) / (2 pi), the arc-cosine kernel of degree 0."""
    d = 20
    X = en.sample_sphere(200, d, _gen(1))
    K = en.ntk_gram_inf(X, dsigma="relu")
    T = (X @ X.T / d).clamp(-1, 1)
    K_ref = d * T * (math.pi - torch.arccos(T)) / (2 * math.pi)
    K_ref.diagonal().fill_(d / 2)  # arccos(1 - 1e-16) ~ 1e-8: the reference is inexact there
    assert K.dtype == torch.float64 and K.shape == (200, 200)
    assert (K - K_ref).abs().max() < 1e-9
    assert torch.equal(K, K.T)
    assert torch.all(K.diagonal() == d / 2)  # h(1) = d E[step^2] = d/2 exactly


def test_gram_matches_monte_carlo_finite_width():
    """K_m = (X X^T) * (S S^T)/m, S = sigma'(X W^T), W rows ~ N(0, I/d): within 5 std errors."""
    d, n, m = 10, 30, 100000
    g = _gen(2)
    X = en.sample_sphere(n, d, g)
    W = torch.randn(m, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    S = en.activation("softplus_shift").dsigma(X @ W.T)
    G = X @ X.T
    mean = S @ S.T / m  # mean over neurons of sigma'(w.x_i) sigma'(w.x_j)
    var = (S**2) @ (S**2).T / m - mean**2
    z = (en.ntk_gram_inf(X, dsigma="softplus_shift") - G * mean).abs() / (G.abs() * var.sqrt()
                                                                          / math.sqrt(m))
    assert z.max() < 5, float(z.max())


def test_gram_spectrum_matches_funk_hecke():
    """Top eigenvalues of K/n at d = 10: blocks of sizes B(10, l) near lambda_l (softplus)."""
    d, n = 10, 600
    X = en.sample_sphere(n, d, _gen(3))
    K = en.ntk_gram_inf(X, dsigma="softplus_shift")
    ev = torch.linalg.eigvalsh(K / n).flip(0).numpy()
    lam = en.ntk_eigenvalues("softplus_shift", d, 2)  # lambda_1 > lambda_0 > lambda_2 here
    assert lam[1] > lam[0] > lam[2]
    assert ev[:10].mean() == pytest.approx(lam[1], rel=0.03)  # degree 1: B = 10
    assert ev[10] == pytest.approx(lam[0], rel=0.05)  # degree 0: B = 1
    assert ev[11:65].mean() == pytest.approx(lam[2], rel=0.05)  # degree 2: B = 54
    assert ev.sum() == pytest.approx(en.ntk_trace("softplus_shift", d), rel=1e-12)


def test_cross_gram_dtypes_and_profile_reuse():
    d = 8
    X, Y = en.sample_sphere(40, d, _gen(4)), en.sample_sphere(25, d, _gen(5))
    h = en.ntk_profile("tanh", d)
    K_all = en.ntk_gram_inf(torch.cat([X, Y]), dsigma=h)
    K_xy = en.ntk_gram_inf(X, Y, dsigma=h)
    assert K_xy.shape == (40, 25)
    assert torch.allclose(K_xy, K_all[:40, 40:], rtol=0, atol=1e-13)
    K32 = en.ntk_gram_inf(X.float(), Y.float(), dsigma="tanh")
    assert K32.dtype == torch.float64 and torch.allclose(K32, K_xy, rtol=0, atol=1e-5)
    assert en.ntk_gram_inf(X, dsigma=h, dtype=torch.float32).dtype == torch.float32
    # antipodal points get the exact h(-1)
    K_anti = en.ntk_gram_inf(X[:3], -X[:3], dsigma=h)
    assert torch.allclose(K_anti.diagonal(), torch.full((3,), h.antidiag, dtype=torch.float64))
    assert en.ntk_gram_inf(X.numpy(), dsigma=en.activation("tanh")).shape == (40, 40)


def test_nearly_parallel_inputs_warn_for_relu():
    d = 10
    X = en.sample_sphere(2, d, _gen(6))
    X[1] = X[0] + 0.05 * X[1]
    X[1] *= math.sqrt(d) / X[1].norm()
    with pytest.warns(RuntimeWarning, match="nearly parallel"):
        en.ntk_gram_inf(X, dsigma="relu")


def test_gram_errors():
    d = 6
    X = en.sample_sphere(10, d, _gen(7))
    with pytest.raises(ValueError, match="en.sample_sphere"):
        en.ntk_gram_inf(en.sample_gaussian(10, d, _gen(8)), dsigma="relu")
    with pytest.raises(ValueError, match="en.sample_sphere"):
        en.ntk_gram_inf(X, 2 * X, dsigma="relu")
    with pytest.raises(ValueError, match="columns"):
        en.ntk_gram_inf(X, en.sample_sphere(3, d + 1, _gen(9)), dsigma="relu")
    bad = X.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        en.ntk_gram_inf(bad, dsigma="relu")
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        en.ntk_gram_inf(X[0], dsigma="relu")
    with pytest.raises(ValueError, match="built for d = 7"):
        en.ntk_gram_inf(X, dsigma=en.ntk_profile("relu", 7))
    with pytest.raises(TypeError, match="pass the activation once"):
        en.ntk_gram_inf(X, dsigma=None)
    with pytest.raises(TypeError, match="pass the activation once"):
        en.ntk_gram_inf(X)  # the kernel is required
    assert torch.equal(en.ntk_gram_inf(X[:5], act="relu"), en.ntk_gram_inf(X[:5], dsigma="relu"))


def test_series_coefficients_cache_is_exact_and_private():
    act = en.activation("softplus_shift")
    want = en.hermite_coefficients(act.dsigma, 11, normalized=True) ** 2
    got = en.ntk_series_coefficients(act, 12)
    assert np.array_equal(got, want)
    got[:] = -1.0                                   # a copy: the cache is not touched
    assert np.array_equal(en.ntk_series_coefficients("softplus_shift", 12), want)
    f = lambda z: np.tanh(z)                        # noqa: E731 - a fresh callable, cached by identity
    assert np.array_equal(en.ntk_series_coefficients(dsigma=f, terms=5),
                          en.hermite_coefficients(f, 4, normalized=True) ** 2)
