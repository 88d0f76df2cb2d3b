"""Hermite coefficients, Gegenbauer polynomials, Funk–Hecke and the infinite-width NTK spectrum."""

import math
import warnings

import numpy as np
import pytest
import scipy.special as sps
import sympy as sp
import torch
from numpy.polynomial import hermite_e
from oracles import bivariate_expectation

import escape_ntk as en
from escape_ntk import symbolic as sym

STEP = en.activation("relu").dsigma
SMOOTH = ["softplus_shift", "sigmoid_shift", "tanh", "erf"]


def _step_coefficients(J):
    """c_j = mu_j(step)/sqrt(j!): mu_0 = 1/2, mu_j = He_{j-1}(0)/sqrt(2 pi) for j >= 1,
    He_{2k}(0) = (-1)^k (2k-1)!!."""
    c = np.zeros(J + 1)
    c[0] = 0.5
    for j in range(1, J + 1, 2):
        k = (j - 1) // 2
        log_df = math.lgamma(2 * k + 1) - k * math.log(2) - math.lgamma(k + 1)  # log (2k-1)!!
        c[j] = (-1) ** k * math.exp(log_df - 0.5 * math.lgamma(j + 1)) / math.sqrt(2 * math.pi)
    return c


# ------------------------------------------------------------------------------ Hermite


def test_hermite_polynomial_matches_numpy_and_keeps_torch_dtype():
    z = np.linspace(-5, 5, 41)
    for j in range(12):
        ref = hermite_e.hermeval(z, np.eye(j + 1)[j])
        np.testing.assert_allclose(en.hermite_polynomial(j, z), ref, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(en.hermite_normalized(j, z), ref / math.sqrt(math.factorial(j)),
                                   rtol=1e-12, atol=1e-12)
    out = en.hermite_polynomial(3, torch.linspace(-1, 1, 5, dtype=torch.float32))
    assert out.dtype == torch.float32
    assert torch.allclose(out, torch.tensor([2.0, 1.375, 0.0, -1.375, -2.0]))


def test_coefficients_exact_for_polynomials():
    g = sym.z**5 + 2 * sym.z**2 - 1
    ref = np.array([float(sym.hermite_coefficient(g, j)) for j in range(9)])
    got = en.hermite_coefficients(sp.lambdify(sym.z, g, "numpy"), 8)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert got[5] == pytest.approx(120) and got[2] == pytest.approx(4)


def test_step_coefficients_closed_form_up_to_high_degree():
    c = en.hermite_coefficients(STEP, 256, normalized=True)
    np.testing.assert_allclose(c, _step_coefficients(256), rtol=0, atol=1e-14)
    mu = en.hermite_coefficients(STEP, 7)
    r = 1 / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(mu, [0.5, r, 0, -r, 0, 3 * r, 0, -15 * r], rtol=0, atol=1e-13)


def test_relu3_second_derivative_is_relu():
    mu = en.hermite_coefficients(en.activation("relu3").d2sigma, 2)
    r = 1 / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(mu, [r, 0.5, r], rtol=0, atol=1e-14)


def test_exponential_coefficients_to_degree_60():
    # mu_j(e^{z/2}) = e^{1/8} 2^{-j}
    c = en.hermite_coefficients(lambda z: np.exp(z / 2), 60, normalized=True)
    j = np.arange(61)
    ref = np.exp(1 / 8 - j * math.log(2) - 0.5 * sps.gammaln(j + 1))
    np.testing.assert_allclose(c, ref, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("name", SMOOTH + ["relu3"])
def test_stein_shift(name):
    """mu_j(sigma'') = mu_{j+1}(sigma'), i.e. c_j(sigma'') = sqrt(j+1) c_{j+1}(sigma')."""
    act = en.activation(name)
    c1 = en.hermite_coefficients(act.dsigma, 41, normalized=True)
    c2 = en.hermite_coefficients(act.d2sigma, 40, normalized=True)
    np.testing.assert_allclose(c2, np.sqrt(np.arange(1, 42)) * c1[1:], rtol=0, atol=1e-13)
    if act.smooth:  # and once more: mu_j(sigma''') = mu_{j+1}(sigma'')
        c3 = en.hermite_coefficients(act.d3sigma, 39, normalized=True)
        np.testing.assert_allclose(c3, np.sqrt(np.arange(1, 41)) * c2[1:], rtol=0, atol=1e-13)


def test_normalized_and_parseval():
    f = en.activation("softplus_shift").dsigma
    mu = en.hermite_coefficients(f, 30)
    c = en.hermite_coefficients(f, 30, normalized=True)
    root_factorial = [math.sqrt(math.factorial(j)) for j in range(31)]
    np.testing.assert_allclose(mu, c * root_factorial, rtol=1e-13)
    # Parseval: sum_j c_j^2 = E[f^2]
    assert np.sum(en.ntk_series_coefficients(dsigma=f, terms=120)) == pytest.approx(
        en.normal_expectation(lambda z: f(z) ** 2), rel=1e-12)


def test_hermite_errors():
    with pytest.raises(ValueError, match="non-negative integer"):
        en.hermite_coefficients(np.tanh, -1)
    with pytest.raises(ValueError, match="above the supported maximum"):
        en.hermite_coefficients(np.tanh, en.MAX_DEGREE + 1)
    with pytest.raises(TypeError, match="callable"):
        en.hermite_coefficients("tanh", 3)
    with pytest.raises(ValueError, match="not finite"):
        en.hermite_coefficients(lambda z: np.where(z > 3, np.inf, 0.0), 3)
    with pytest.raises(ValueError, match="non-negative integer"):
        en.hermite_polynomial(-2, 0.5)


# ------------------------------------------------------------------------------ sphere


def test_harmonic_dimension():
    assert [en.harmonic_dimension(20, l) for l in range(5)] == [1, 20, 209, 1520, 8645]
    for d in (2, 3, 5, 40):
        assert en.harmonic_dimension(d, 2) == (d - 1) * (d + 2) // 2
    assert [en.harmonic_dimension(2, l) for l in range(5)] == [1, 2, 2, 2, 2]
    assert [en.harmonic_dimension(3, l) for l in range(5)] == [1, 3, 5, 7, 9]
    # degree <= L polynomials restricted to the sphere: C(L+d-1, L) + C(L+d-2, L-1)
    assert sum(en.harmonic_dimension(7, l) for l in range(5)) == math.comb(10, 4) + math.comb(9, 3)
    for bad in [(1, 2), (2.5, 1), (True, 1)]:
        with pytest.raises(ValueError, match="d must be an integer >= 2"):
            en.harmonic_dimension(*bad)
    with pytest.raises(ValueError, match="non-negative integer"):
        en.harmonic_dimension(5, -1)


@pytest.mark.parametrize("d", [2, 3, 5, 20])
def test_gegenbauer_normalization_and_scipy(d):
    t = np.linspace(-1, 1, 21)
    for l in range(7):
        q = en.gegenbauer(d, l, t)
        assert q[-1] == pytest.approx(1.0, abs=1e-13)
        if d == 2:
            ref = np.cos(l * np.arccos(t))
        elif d == 3:
            ref = sps.eval_legendre(l, t)
        else:
            a = (d - 2) / 2
            ref = sps.eval_gegenbauer(l, a, t) / sps.eval_gegenbauer(l, a, 1.0)
        np.testing.assert_allclose(q, ref, rtol=0, atol=1e-13)
    assert en.gegenbauer(d, 3, torch.tensor([0.5], dtype=torch.float32)).dtype == torch.float32


@pytest.mark.parametrize("d", [2, 5, 20])
def test_gegenbauer_orthogonality(d):
    Q = lambda i: (lambda t: en.gegenbauer(d, i, t))
    G = np.array([[en.sphere_expectation(lambda t: Q(i)(t) * Q(j)(t), d) for j in range(6)]
                  for i in range(6)])
    B = np.array([en.harmonic_dimension(d, l) for l in range(6)])
    np.testing.assert_allclose(G * np.sqrt(np.outer(B, B)), np.eye(6), rtol=0, atol=1e-12)


def test_sphere_expectation_moments_and_monte_carlo():
    for d in (3, 10, 40):
        assert en.sphere_expectation(lambda t: t**2, d) == pytest.approx(1 / d, rel=1e-13)
        assert en.sphere_expectation(lambda t: t**4, d) == pytest.approx(3 / (d * (d + 2)),
                                                                         rel=1e-13)
    d, n = 6, 100000
    X = en.sample_sphere(n, d, torch.Generator().manual_seed(0))
    Y = en.sample_sphere(n, d, torch.Generator().manual_seed(1))
    v = torch.exp(2 * (X * Y).sum(1) / d)
    se = float(v.std()) / math.sqrt(n)
    assert abs(float(v.mean()) - en.sphere_expectation(lambda t: np.exp(2 * t), d)) < 5 * se


def test_gegenbauer_moments_recurrence():
    for d in (2, 3, 7, 20):
        M = en.gegenbauer_moments(d, 14, 6)
        quad = np.array([[en.sphere_expectation(lambda t: t**k * en.gegenbauer(d, l, t), d)
                          for l in range(7)] for k in range(15)])
        np.testing.assert_allclose(M, quad, rtol=0, atol=1e-13)
        assert M[2, 0] == pytest.approx(1 / d) and (M >= 0).all()
        k, l = np.indices(M.shape)
        assert (M[(k < l) | ((k - l) % 2 == 1)] == 0).all()
        # t^k = sum_l B(d,l) E[t^k Q_l] Q_l(t); at t = 1 this gives sum_l B(d,l) M[k,l] = 1
        full = en.gegenbauer_moments(d, 6, 6)
        B = np.array([en.harmonic_dimension(d, l) for l in range(7)])
        np.testing.assert_allclose(full @ B, 1.0, rtol=1e-13)


def test_funk_hecke_eigenfunction_monte_carlo():
    """E_x'[h(x.x'/d) Q_l(x'.b/sqrt d)] = lambda_l Q_l(x.b/sqrt d) for a zonal harmonic (d = 6)."""
    d, n, h = 6, 200000, (lambda t: np.exp(2 * t))
    lam = en.funk_hecke(h, d, 3)
    gen = torch.Generator().manual_seed(3)
    b = en.random_direction(d, gen)
    Xp = en.sample_sphere(n, d, gen).numpy()
    x = en.sample_sphere(4, d, gen).numpy()
    for l in (1, 2, 3):
        zonal = en.gegenbauer(d, l, Xp @ b.numpy() / math.sqrt(d))
        v = h(x @ Xp.T / d) * zonal  # (4, n)
        se = v.std(1) / math.sqrt(n)
        expect = lam[l] * en.gegenbauer(d, l, x @ b.numpy() / math.sqrt(d))
        assert (np.abs(v.mean(1) - expect) < 5 * se).all(), l


# ------------------------------------------------------------------------------ NTK spectrum


def test_ntk_eigenvalues_against_direct_gauss_hermite():
    d, f = 10, en.activation("softplus_shift").dsigma
    h = lambda t: d * t * bivariate_expectation(f, t)
    direct = en.funk_hecke(h, d, 4, nodes=60)
    np.testing.assert_allclose(en.ntk_eigenvalues("softplus_shift", d, 4), direct, rtol=1e-11)


def test_relu_eigenvalues_against_arccos_kernel():
    """For sigma' = step, E[step(g) step(g')] = (pi - arccos t) / (2 pi) in closed form."""
    d = 20
    h = lambda t: d * t * (np.pi - np.arccos(t)) / (2 * np.pi)
    direct = en.funk_hecke(h, d, 4, nodes=400)
    lam = en.ntk_eigenvalues("relu", d, 4)
    np.testing.assert_allclose(lam[[0, 1, 2, 4]], direct[[0, 1, 2, 4]], rtol=1e-11)
    assert lam[1] == pytest.approx(0.25, rel=1e-12)  # only the t^1 term: d mu_0^2 E[t^2] = 1/4
    assert abs(lam[3]) < 1e-25  # odd degrees >= 3 vanish for ReLU (sigma' = step: mu_j = 0 for even j >= 2)


def test_ntk_eigenvalue_symmetry_and_sum_rule():
    lam = en.ntk_eigenvalues("tanh", 20, 5)  # sigma' even => h odd => even degrees vanish
    assert np.abs(lam[[0, 2, 4]]).max() < 1e-25 and lam[[1, 3, 5]].min() > 0
    d = 5
    trace = en.ntk_trace("softplus_shift", d)
    f = en.activation("softplus_shift").dsigma
    assert trace == pytest.approx(d * en.normal_expectation(lambda z: f(z) ** 2), rel=1e-14)
    # 0 <= h(1) - sum_{l <= L} B(d,l) lambda_l <= d * (E sigma'^2 - sum_{j < L} c_j^2)
    L = 40
    deficit = trace - en.ntk_degree_mass("softplus_shift", d, L).sum()
    tail = trace / d - en.ntk_series_coefficients("softplus_shift", L).sum()
    assert -1e-12 < deficit <= d * tail + 1e-12
    gammas = [en.self_induced_ridge("softplus_shift", d, L) for L in range(5)]
    assert all(a > b > 0 for a, b in zip(gammas, gammas[1:], strict=False))
    assert gammas[3] == pytest.approx(en.ntk_degree_mass("softplus_shift", d, range(4, 80)).sum(),
                                      rel=1e-6)


def test_ntk_eigenvalues_converged_in_terms():
    lam = en.ntk_eigenvalues("sigmoid_shift", 20, 4)
    fewer = en.ntk_eigenvalues("sigmoid_shift", 20, 4, terms=120)
    np.testing.assert_allclose(lam, fewer, rtol=1e-13)
    few = en.ntk_eigenvalues("sigmoid_shift", 20, 4, terms=3)  # only t, t^2, t^3
    assert few[4] == 0 and few[3] > 0


def test_leading_order_staircase_improves_with_d():
    errs = []
    for d in (20, 40, 80, 160):
        exact = en.ntk_eigenvalues("softplus_shift", d, 3)
        lead = en.ntk_eigenvalues_leading("softplus_shift", d, 3)
        errs.append(np.abs(lead / exact - 1))
    errs = np.array(errs)
    assert (errs[1:] < 0.6 * errs[:-1]).all()  # O(1/d): halves when d doubles
    assert errs[-1].max() < 0.05
    mu = en.hermite_coefficients(en.activation("softplus_shift").dsigma, 2)
    lead = en.ntk_eigenvalues_leading("softplus_shift", 20, [0, 2])
    np.testing.assert_allclose(lead, [mu[1] ** 2, 2 * mu[1] ** 2 / 20], rtol=1e-14)


def test_ntk_spectrum_errors_and_warning():
    with pytest.raises(ValueError, match="d must be an integer >= 2"):
        en.ntk_eigenvalues("relu", 1, 2)
    with pytest.raises(ValueError, match="non-negative integer"):
        en.ntk_eigenvalues("relu", 10, [1, -2])
    with pytest.raises(TypeError, match="act must be an Activation"):
        en.ntk_eigenvalues(3.0, 10, 2)
    with pytest.raises(TypeError, match="raw callable"):
        en.ntk_eigenvalues(en.activation("relu").dsigma, 10, 2)   # positional callables: ambiguous
    np.testing.assert_array_equal(en.ntk_eigenvalues(dsigma=en.activation("relu").dsigma, d=20,
                                                     degrees=2), en.ntk_eigenvalues("relu", 20, 2))
    with pytest.raises(ValueError, match="unknown activation"):
        en.ntk_trace("swish", 10)
    with pytest.warns(RuntimeWarning, match="not converged"):
        en.ntk_eigenvalues("relu", 5, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        en.ntk_eigenvalues(en.activation("relu"), 20, 2)  # Activation objects work too
