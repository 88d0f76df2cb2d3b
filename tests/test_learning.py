"""learning.py: staircase blocks, learning curves, ridge paths, degree energies."""

import numpy as np
import pytest
import torch

import escape_ntk as en


def krr_problem(n=120, n_test=80, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = en.sample_sphere(n + n_test, d, g)
    K = en.ntk_gram_inf(X, X[:n], dsigma="softplus_shift")
    f1, f2 = en.dense_quadratic(d, g), en.sparse_monomial(d)
    Y = torch.stack([f1(X), f2(X)], 1)
    return X, K[:n], K[n:], Y[:n], Y[n:]


def test_plateau_widths_and_largest_gap():
    ev = np.array([10.0] * 3 + [1.1, 0.9, 1.0, 1.0, 1.0] + [0.1] * 7 + [0.05] * 4)
    rng = np.random.default_rng(0)
    shuffled = torch.from_numpy(rng.permutation(ev))
    assert en.plateau_widths(shuffled, [10, 1, 0.1, 0.01]).tolist() == [3, 5, 11]
    assert en.largest_gap(ev, 1, ev.size) in (3, 8)
    assert en.largest_gap(ev, 5, ev.size) == 8
    assert en.largest_gap(ev, 9, ev.size) == 15
    with pytest.raises(ValueError, match="strictly decreasing"):
        en.plateau_widths(ev, [1, 10])
    with pytest.raises(ValueError, match="positive"):
        en.plateau_widths(ev, [1, 0])
    with pytest.raises(ValueError, match="start"):
        en.largest_gap(ev, 0, 5)
    with pytest.raises(ValueError, match="positive"):
        en.largest_gap(np.array([1.0, 0.5, 0.0, 0.0]), 1, 4)


def test_krr_curve_matches_kernel_ridge():
    X, K, Kt, Y, Yt = krr_problem()
    err = en.learning.krr_curve(K, Y, Kt, Yt, [40, 120], [1e-6, 1e-2])
    assert err.shape == (2, 2, 2)
    for a, r in enumerate([1e-6, 1e-2]):
        for i, n in enumerate([40, 120]):
            pred = en.kernel_ridge(K[:n, :n], Y[:n], r, K_test=Kt[:, :n])
            ref = ((pred - Yt) ** 2).mean(0) / (Yt**2).mean(0)
            assert np.allclose(err[a, i], ref.numpy(), rtol=1e-12)
    one = en.learning.krr_curve(K, Y[:, 0], Kt, Yt[:, 0], [120], 1e-6, var=1.0)
    assert one.shape == (1, 1, 1)
    pred = en.kernel_ridge(K, Y[:, 0], 1e-6, K_test=Kt)
    assert np.isclose(one[0, 0, 0], float(((pred - Yt[:, 0]) ** 2).mean()), rtol=1e-12)
    assert err[0, 1, 0] < err[0, 0, 0]                 # more data, lower error on the quadratic


def test_krr_curve_errors():
    X, K, Kt, Y, Yt = krr_problem()
    with pytest.raises(ValueError, match="ns"):
        en.learning.krr_curve(K, Y, Kt, Yt, [500], 1e-3)
    with pytest.raises(ValueError, match="columns"):
        en.learning.krr_curve(K, Y, Kt[:, :10], Yt, [10], 1e-3)
    with pytest.raises(ValueError, match="column per target"):
        en.learning.krr_curve(K, Y, Kt, Yt[:, :1], [10], 1e-3)
    with pytest.raises(ValueError, match="ridges"):
        en.learning.krr_curve(K, Y, Kt, Yt, [10], -1.0)


def test_ridge_path_matches_cholesky():
    X, K, Kt, Y, Yt = krr_problem()
    ridges = [1e-7, 1e-4, 1e-1]
    P = en.learning.ridge_path(K, Y, Kt, ridges)
    assert P.shape == (3, Kt.shape[0], 2)
    for a, r in enumerate(ridges):
        ref = en.kernel_ridge(K, Y, r, K_test=Kt)
        assert (P[a] - ref).abs().max() < 1e-7 * ref.abs().max()
    assert en.learning.ridge_path(K, Y[:, 1], Kt, 1e-3).shape == (1, Kt.shape[0])
    with pytest.raises(ValueError, match="> 0"):
        en.learning.ridge_path(K, Y, Kt, [0.0])
    with pytest.raises(ValueError, match="K_test"):
        en.learning.ridge_path(K, Y, Kt.T, [1.0])


def test_degree_energy_against_monte_carlo():
    d, n = 5, 30
    g = torch.Generator().manual_seed(1)
    X = en.sample_sphere(n, d, g)
    alpha = torch.randn(n, 2, generator=g, dtype=torch.float64)
    degrees = list(range(14))
    lam = en.ntk_eigenvalues("softplus_shift", d, degrees)
    E = en.learning.degree_energy(alpha, X, lam, degrees)
    assert E.shape == (14, 2) and np.all(E >= 0)
    Z = en.sample_sphere(40000, d, g)
    F = en.ntk_gram_inf(Z, X, dsigma="softplus_shift") @ alpha            # f(z), (N, 2)
    G = Z @ X.T / d
    parts = [lam[l] * en.harmonic_dimension(d, l) * en.gegenbauer(d, l, G) @ alpha
             for l in degrees]
    assert (sum(parts) - F).abs().max() < 1e-8 * F.abs().max()             # Funk–Hecke expansion
    for l in (0, 1, 2, 3):
        mc = (parts[l] ** 2).mean(0).numpy()
        assert np.allclose(E[l], mc, rtol=0.06), (l, E[l], mc)
    assert np.allclose(E.sum(0), (F**2).mean(0).numpy(), rtol=0.06)
    assert np.allclose(en.learning.degree_energy(alpha[:, 0], X, lam[:3], range(3)), E[:3, 0])
    with pytest.raises(ValueError, match="one eigenvalue lambda_l per degree"):
        en.learning.degree_energy(alpha, X, lam[:3], degrees)
    with pytest.raises(ValueError, match="rows"):
        en.learning.degree_energy(alpha[:5], X, lam, degrees)
