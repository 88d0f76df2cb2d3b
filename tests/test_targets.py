"""Targets: exact unit norms, pure degrees, mixtures, captured fractions, relative MSE, errors."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch.func import jacrev

import escape_ntk as en

D, N = 12, 200000


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def sphere():
    return en.sample_sphere(N, D, _gen(100))


@pytest.fixture(scope="module")
def gauss():
    return en.sample_gaussian(N, D, _gen(101))


def _within(v, value, k=5.0):
    """The Monte Carlo mean of v is within k standard errors of value."""
    return abs(float(v.mean()) - value) < k * float(v.std()) / math.sqrt(v.numel())


def _lower_degree_probes(X):
    """Polynomials of degree <= 2 in x: 1, x_1, x_2, x_1 x_2, x_1^2 - 1 (mean zero on both laws)."""
    x1, x2 = X[:, 0], X[:, 1]
    return {"1": torch.ones_like(x1), "x1": x1, "x2": x2, "x1x2": x1 * x2, "x1^2-1": x1**2 - 1}


def _sphere_targets():
    beta = en.random_direction(D, _gen(1))
    return [en.linear(beta), en.dense_quadratic(D, _gen(2)), en.sparse_monomial(D),
            en.sparse_monomial(D, (3, 5, 7, 9)), en.gegenbauer_index(beta, 2),
            en.gegenbauer_index(beta, 3), en.gegenbauer_index(beta, 4)]


def _gauss_targets():
    beta = en.random_direction(D, _gen(3))
    return [en.linear(beta, dist="gaussian"), en.dense_quadratic(D, _gen(4), dist="gaussian"),
            en.sparse_monomial(D, dist="gaussian"), en.hermite_index(beta, 2),
            en.hermite_index(beta, 3)]


@pytest.mark.parametrize("i", range(7))
def test_sphere_targets_unit_norm_and_pure_degree(sphere, i):
    target = _sphere_targets()[i]
    y = target(sphere)
    assert target.norm == 1.0 and target.dist == "sphere" and y.shape == (N,)
    assert _within(y**2, 1.0)
    for name, q in _lower_degree_probes(sphere).items():
        degree = 0 if name == "1" else (1 if name.startswith("x") and len(name) == 2 else 2)
        if degree < target.degree:
            assert _within(y * q, 0.0), (target.name, name)
    assert target.components == ((1.0, target),)


@pytest.mark.parametrize("i", range(5))
def test_gaussian_targets_unit_norm_and_pure_degree(gauss, i):
    target = _gauss_targets()[i]
    y = target(gauss)
    assert target.dist == "gaussian"
    assert _within(y**2, 1.0)
    for name, q in _lower_degree_probes(gauss).items():
        degree = 0 if name == "1" else (1 if len(name) == 2 else 2)
        if degree < target.degree:
            assert _within(y * q, 0.0), (target.name, name)


def test_gegenbauer_index_exact_norm_and_closed_form():
    beta = en.random_direction(D, _gen(5))
    for p in range(5):
        B = en.harmonic_dimension(D, p)
        assert en.sphere_expectation(lambda t: B * en.gegenbauer(D, p, t) ** 2, D) == \
            pytest.approx(1.0, rel=1e-13)
    X = en.sample_sphere(50, D, _gen(6))
    s = X @ beta
    g2 = (s**2 - 1) / math.sqrt((2 * D - 2) / (D + 2))  # the setting-A target (Nichani, Bai & Lee 2022)
    assert torch.allclose(en.gegenbauer_index(beta, 2)(X), g2, rtol=0, atol=1e-12)
    assert torch.allclose(en.gegenbauer_index(beta, 1)(X), s, rtol=0, atol=1e-12)
    assert torch.allclose(en.hermite_index(beta, 3)(X), (s**3 - 3 * s) / math.sqrt(6), atol=1e-12)


def test_dense_and_sparse_are_harmonic_and_homogeneous():
    """Homogeneous of degree p with zero Laplacian => a pure degree-p spherical harmonic."""
    x = en.sample_sphere(3, D, _gen(7))
    for target in (en.dense_quadratic(D, _gen(8)), en.sparse_monomial(D, (0, 4, 7)),
                   en.sparse_monomial(D, (1, 2, 3, 4, 5))):
        f = lambda v, target=target: target.fn(v[None])[0]
        for xi in x:
            assert abs(float(torch.trace(jacrev(jacrev(f))(xi)))) < 1e-12, target.name
            assert float(f(2.5 * xi)) == pytest.approx(2.5**target.degree * float(f(xi)), rel=1e-12)
    A = en.dense_quadratic(D, _gen(8)).params["A"]
    assert torch.allclose(A, A.T) and abs(float(A.trace())) < 1e-13
    assert float((A**2).sum()) == pytest.approx((D + 2) / (2 * D), rel=1e-12)
    c2 = D**2 / ((D + 2) * (D + 4))  # E[(x1 x2 x3)^2] on S^{d-1}(sqrt d)
    x = torch.ones(1, D, dtype=torch.float64)
    assert float(en.sparse_monomial(D)(x)) == pytest.approx(1 / math.sqrt(c2))


def test_mix_norm_components_and_captured(sphere):
    beta = en.random_direction(D, _gen(9))
    lin, g2 = en.linear(beta), en.gegenbauer_index(beta, 2)
    f = en.mix((2**-0.5, lin), (2**-0.5, g2))  # setting A
    assert f.norm == pytest.approx(1.0) and f.degree == 2 and f.name == "linear + gegenbauer2"
    assert [w for w, _ in f.components] == pytest.approx([2**-0.5, 2**-0.5])
    y = f(sphere)
    assert _within(y**2, 1.0)
    cap = en.captured(y, sphere, f)
    assert cap == pytest.approx({"linear": 1.0, "gegenbauer2": 1.0}, abs=0.03)
    cap = en.captured(2**-0.5 * lin(sphere), sphere, f)  # only the linear part learned
    assert cap["linear"] == pytest.approx(1.0, abs=0.03) and abs(cap["gegenbauer2"]) < 0.03
    g = en.mix((3.0, en.dense_quadratic(D, _gen(10))), (4.0, en.gegenbauer_index(beta, 3)))
    assert g.norm == pytest.approx(5.0)  # setting B shape, weights 3 and 4
    assert _within(g(sphere) ** 2, 25.0)
    nested = en.mix((2.0, f), (1.0, en.sparse_monomial(D)))
    assert [c.name for _, c in nested.components] == ["linear", "gegenbauer2", "x1x2x3"]
    assert nested.norm == pytest.approx(math.sqrt(2 + 2 + 1))
    same_degree = en.mix((1.0, en.sparse_monomial(D)), (1.0, en.sparse_monomial(D, (3, 4, 5))))
    assert same_degree.norm == pytest.approx(math.sqrt(2))  # orthogonal harmonics of one degree


def test_relative_mse():
    X = en.sample_sphere(1000, D, _gen(11))
    f = en.mix((0.6, en.linear(en.random_direction(D, _gen(12)))),
               (0.8, en.sparse_monomial(D)))
    y = f(X)
    assert en.relative_mse(y, y, f) == 0.0
    assert en.relative_mse(torch.zeros_like(y), y) == pytest.approx(1.0)
    assert en.relative_mse(torch.zeros_like(y), y, f) == pytest.approx(float((y**2).mean()))
    assert en.relative_mse(y.float(), y, f) < 1e-12
    with pytest.raises(ValueError, match="one value per row"):
        en.relative_mse(y[:-1], y)


def test_determinism():
    a, b = en.dense_quadratic(D, _gen(13)), en.dense_quadratic(D, _gen(13))
    assert torch.equal(a.params["A"], b.params["A"])
    assert not torch.equal(a.params["A"], en.dense_quadratic(D, _gen(14)).params["A"])
    assert torch.equal(en.random_direction(D, _gen(15)), en.random_direction(D, _gen(15)))
    X = en.sample_sphere(5, D, _gen(16), dtype=torch.float32)
    assert a(X).dtype == torch.float32 and torch.allclose(a(X).double(), a(X.double()), atol=1e-5)


def test_errors():
    beta = en.random_direction(D, _gen(17))
    X = en.sample_sphere(10, D, _gen(18))
    with pytest.raises(ValueError, match="non-negative integer"):
        en.gegenbauer_index(beta, -1)
    with pytest.raises(ValueError, match="d must be an integer >= 2"):
        en.dense_quadratic(1, _gen())
    with pytest.raises(ValueError, match=f"expects input dimension d = {D}"):
        en.linear(beta)(en.sample_sphere(4, D + 1, _gen()))
    bad = X.clone()
    bad[2, 3] = float("inf")
    with pytest.raises(ValueError, match="non-finite"):
        en.linear(beta)(bad)
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        en.linear(beta)(X[0])
    with pytest.raises(ValueError, match="zero vector"):
        en.linear(torch.zeros(D))
    with pytest.raises(ValueError, match=r"shape \(n,\)"):
        en.linear(np.ones((2, D)))
    with pytest.raises(ValueError, match="unknown input distribution"):
        en.linear(beta, dist="cube")
    with pytest.raises(ValueError, match="distinct coordinates"):
        en.sparse_monomial(D, (0, 0, 1))
    with pytest.raises(ValueError, match="distinct coordinates"):
        en.sparse_monomial(D, (0, 1, D))
    with pytest.raises(ValueError, match="same d and input distribution|one d and input"):
        en.mix((1.0, en.linear(beta)), (1.0, en.hermite_index(beta, 2)))
    twin = dataclasses.replace(en.gegenbauer_index(beta, 2), name="twin")
    with pytest.raises(ValueError, match="not orthogonal"):
        en.mix((1.0, en.gegenbauer_index(beta, 2)), (1.0, twin))
    with pytest.raises(ValueError, match="names must be distinct"):
        en.mix((1.0, en.linear(beta)), (1.0, en.linear(-beta)))
    with pytest.raises(TypeError, match="pairs"):
        en.mix(en.linear(beta))
    with pytest.raises(ValueError, match="not finite"):
        en.mix((float("nan"), en.linear(beta)))
    with pytest.raises(ValueError, match="one value per row"):
        en.captured(torch.zeros(3), X, en.linear(beta))
