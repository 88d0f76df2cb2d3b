"""Exact sympy identities: Hermite calculus, Mehler, B(d, l), harmonicity, sphere moments."""

import math

import numpy as np
import pytest
import sympy as sp
import torch
from numpy.polynomial import hermite_e

import escape_ntk as en
from escape_ntk import symbolic as sym

z, t, d = sym.z, sym.t, sym.d


def test_hermite_he_matches_numpy():
    assert sym.hermite_he(4) == z**4 - 6 * z**2 + 3
    for j in range(9):
        coeffs = hermite_e.herme2poly(np.eye(j + 1)[j])
        assert sp.Poly(sym.hermite_he(j), z).all_coeffs()[::-1] == [int(c) for c in coeffs]


def test_gaussian_expectation_exact():
    assert sym.gaussian_expectation(z**6) == 15
    assert sym.gaussian_expectation(z**7 + 3) == 3
    assert sym.gaussian_expectation(sp.exp(z)) == sp.exp(sp.Rational(1, 2))
    assert sp.simplify(sym.gaussian_expectation(z**2 * sp.exp(2 * z + 1)) - 5 * sp.exp(3)) == 0
    assert sym.gaussian_expectation(sp.Abs(z)) == sp.sqrt(2 / sp.pi)  # integration fallback
    assert [sym.normal_moment(k) for k in range(7)] == [1, 0, 1, 0, 3, 0, 15]


def test_hermite_orthogonality():
    for i in range(6):
        for j in range(6):
            lhs, rhs = sym.hermite_orthogonality(i, j)
            assert lhs == rhs == (math.factorial(j) if i == j else 0)


@pytest.mark.parametrize("g", [z**5 + 2 * z**2, sp.exp(z / 2), z * sp.exp(-z)])
def test_stein_identity(g):
    for j in range(5):
        lhs, rhs = sym.stein_identity(g, j)
        assert sp.simplify(lhs - rhs) == 0
    if g == z**5 + 2 * z**2:  # non-trivial values: E[g' He_1] = E[4 z^2] = 4, E[g' He_4] = 5!
        assert sym.stein_identity(g, 1) == (4, 4) and sym.stein_identity(g, 4) == (120, 120)


def test_mehler_expansion():
    lhs, rhs = sym.mehler_expansion(z**3, z**3 + z**2)
    assert lhs == rhs == 6 * t**3 + 9 * t
    lhs, rhs = sym.mehler_expansion(z**4 - 1, z**4 + z)
    assert sp.expand(lhs - rhs) == 0 and sp.degree(lhs, t) == 4
    lhs, rhs = sym.mehler_expansion(sym.hermite_he(2), sym.hermite_he(2))
    assert lhs == rhs == 2 * t**2  # E[He_2(g) He_2(g')] = 2! t^2
    lhs, rhs = sym.mehler_expansion(z**4, z**4, terms=3)  # truncated: the t^4 term is missing
    assert sp.expand(lhs - rhs) == 24 * t**4
    with pytest.raises(ValueError, match="must be a polynomial"):
        sym.mehler_expansion(sp.exp(z), z)


def test_mehler_matches_monte_carlo_for_polynomials():
    lhs, _ = sym.mehler_expansion(z**3 - z, z**2 + z)
    rho, n = 0.6, 400000
    gen = torch.Generator().manual_seed(0)
    g, xi = torch.randn(2, n, generator=gen, dtype=torch.float64)
    gp = rho * g + math.sqrt(1 - rho**2) * xi
    v = (g**3 - g) * (gp**2 + gp)
    assert abs(float(v.mean()) - float(lhs.subs(t, rho))) < 5 * float(v.std()) / math.sqrt(n)


def test_harmonic_dimension_expression():
    assert sym.harmonic_dimension_expr(2) == sp.factor((d - 1) * (d + 2) / 2)
    for l in range(7):
        closed = (2 * l + d - 2) * sp.factorial(l + d - 3) / (sp.factorial(l) * sp.factorial(d - 2))
        assert sp.simplify(sp.combsimp(closed) - sym.harmonic_dimension_expr(l)) == 0
        for dim in (3, 7, 20):
            assert sym.harmonic_dimension_expr(l).subs(d, dim) == en.harmonic_dimension(dim, l)
    general = sym.harmonic_dimension_expr()
    assert [general.subs({sym.l: k, d: 20}) for k in range(5)] == [1, 20, 209, 1520, 8645]


def test_laplacian_harmonicity():
    x1, x2, x3 = xs = sp.symbols("x1 x2 x3")
    assert sym.laplacian(x1 * x2 * x3, xs) == 0
    assert sym.laplacian(x1**2 - x2**2, xs) == 0
    assert sym.laplacian(x1**3, xs) == 6 * x1  # x1^3 is not harmonic: it hides a degree-1 part
    A = sp.Matrix([[1, 2, 0], [2, -3, 1], [0, 1, 2]])  # symmetric, trace 0
    x = sp.Matrix(xs)
    assert sym.laplacian((x.T * A * x)[0], xs) == 2 * A.trace() == 0


def test_sphere_moments():
    assert sym.sphere_moment([2, 2, 2]) == 1 / (d * (d + 2) * (d + 4))
    assert sym.sphere_moment([4]) == sp.factor(3 / (d * (d + 2)))
    assert sym.sphere_moment([2]) == 1 / d and sym.sphere_moment([3, 1]) == 0
    # on S^2: E[u1^2 u2^2 u3^2] = 1/105, by direct integration over the angles
    th, ph = sp.symbols("theta phi")
    u = (sp.sin(th) * sp.cos(ph), sp.sin(th) * sp.sin(ph), sp.cos(th))
    direct = sp.integrate(sp.integrate((u[0] * u[1] * u[2]) ** 2 * sp.sin(th), (ph, 0, 2 * sp.pi)),
                          (th, 0, sp.pi)) / (4 * sp.pi)
    assert direct == sym.sphere_moment([2, 2, 2]).subs(d, 3) == sp.Rational(1, 105)
    # Monte Carlo at d = 6: E[u1^4 u2^2] = 3 / (d (d+2) (d+4))
    U = en.sample_sphere(200000, 6, torch.Generator().manual_seed(1)) / math.sqrt(6)
    v = U[:, 0] ** 4 * U[:, 1] ** 2
    exact = float(sym.sphere_moment([4, 2]).subs(d, 6))
    assert exact == pytest.approx(3 / (6 * 8 * 10))
    assert abs(float(v.mean()) - exact) < 5 * float(v.std()) / math.sqrt(len(v))


def test_symbolic_errors():
    with pytest.raises(ValueError, match="non-negative integer"):
        sym.hermite_he(-1)
    with pytest.raises(ValueError, match="non-negative integer"):
        sym.sphere_moment([2, -2])
    with pytest.raises(ValueError, match="positive integer"):
        sym.mehler_expansion(z, z, terms=0)
