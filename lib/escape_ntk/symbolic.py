"""Exact (sympy) identities of the harmonic analysis, for the harmonics chapter to show and assert.

Hermite calculus under z ~ N(0, 1) (orthogonality, Stein's shift, Mehler's formula), the dimension
B(d, l) of spherical harmonics, harmonicity via the Laplacian, and moments of the uniform
distribution on S^{d-1} (standard facts; the book's Sources appendix gives references). Functions
that state an identity return both sides as a pair (lhs, rhs) of sympy expressions. Module symbols:
z, t (correlation), d (dimension), l.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from ._checks import check_degree, check_positive_int

z = sp.Symbol("z", real=True)
t = sp.Symbol("t", real=True)
d = sp.Symbol("d", positive=True, integer=True)
l = sp.Symbol("l", nonnegative=True, integer=True)


def hermite_he(j: int, var: sp.Symbol = z) -> sp.Expr:
    """He_j(var), the probabilists' Hermite polynomial: He_{k+1} = var He_k - k He_{k-1}."""
    j = check_degree(j, "Hermite degree j")
    prev, cur = sp.Integer(1), var
    if j == 0:
        return prev
    for k in range(1, j):
        prev, cur = cur, sp.expand(var * cur - k * prev)
    return cur


def normal_moment(k: int) -> sp.Integer:
    """E[z^k] for z ~ N(0, 1): (k-1)!! for even k, 0 for odd k."""
    k = check_degree(k, "moment order k")
    return sp.Integer(0) if k % 2 else sp.factorial2(k - 1)


def _polynomial_expectation(expr, var: sp.Symbol) -> sp.Expr:
    poly = sp.Poly(sp.expand(expr), var)
    return sum((c * normal_moment(k) for (k,), c in poly.terms()), sp.Integer(0))


def _exp_polynomial_expectation(term, var: sp.Symbol):
    """E[p(var) exp(a var + b)] = exp(b + a^2/2) E[p(var + a)] (complete the square), else None."""
    exponent, rest = sp.Integer(0), []
    for factor in sp.Mul.make_args(term):
        arg = factor.args[0] if isinstance(factor, sp.exp) else None
        if arg is not None and arg.is_polynomial(var) and sp.degree(arg, var) <= 1:
            exponent += arg
        else:
            rest.append(factor)
    poly = sp.Mul(*rest)
    if not poly.is_polynomial(var):
        return None
    a, b = sp.expand(exponent).coeff(var, 1), sp.expand(exponent).coeff(var, 0)
    return sp.exp(b + a**2 / 2) * _polynomial_expectation(poly.subs(var, var + a), var)


def gaussian_expectation(expr, var: sp.Symbol = z) -> sp.Expr:
    """E[expr] over var ~ N(0, 1), exactly.

    Terms polynomial(var) * exp(a var + b) use the moments (k-1)!! after completing the square; any
    other term is integrated against exp(-var^2/2)/sqrt(2 pi) (slow).
    """
    expr = sp.expand(sp.powsimp(sp.sympify(expr)))
    total = sp.Integer(0)
    for term in sp.Add.make_args(expr):
        value = _exp_polynomial_expectation(term, var)
        if value is None:
            density = sp.exp(-var**2 / 2) / sp.sqrt(2 * sp.pi)
            value = sp.integrate(term * density, (var, -sp.oo, sp.oo))
        total += value
    return sp.simplify(total)


def hermite_coefficient(g, j: int, var: sp.Symbol = z) -> sp.Expr:
    """mu_j(g) = E[g(z) He_j(z)], exactly."""
    return gaussian_expectation(sp.sympify(g) * hermite_he(j, var), var)


def hermite_orthogonality(i: int, j: int) -> tuple[sp.Expr, sp.Expr]:
    """(E[He_i He_j], j! delta_ij)."""
    i, j = check_degree(i, "i"), check_degree(j, "j")
    return gaussian_expectation(hermite_he(i) * hermite_he(j)), sp.factorial(j) * int(i == j)


def stein_identity(g, j: int, var: sp.Symbol = z) -> tuple[sp.Expr, sp.Expr]:
    """Stein's shift (E[g'(z) He_j(z)], E[g(z) He_{j+1}(z)]): mu_j(sigma'') = mu_{j+1}(sigma')."""
    g = sp.sympify(g)
    return hermite_coefficient(sp.diff(g, var), j, var), hermite_coefficient(g, j + 1, var)


def mehler_expansion(phi, psi, terms: int | None = None,
                     var: sp.Symbol = z) -> tuple[sp.Expr, sp.Expr]:
    """Mehler's formula for polynomials phi, psi in `var`, both sides as polynomials in `t`:

    (E[phi(g) psi(g')], sum_{j<terms} mu_j(phi) mu_j(psi) t^j / j!), with (g, g') standard bivariate
    normal of correlation t (g' = t g + sqrt(1 - t^2) xi, xi independent). `terms` defaults to
    min(deg phi, deg psi) + 1, where the series ends.
    """
    phi, psi = sp.sympify(phi), sp.sympify(psi)
    for name, p in (("phi", phi), ("psi", psi)):
        if not p.is_polynomial(var):
            raise ValueError(f"{name} = {p} must be a polynomial in {var} for the exact check.")
    if terms is None:
        terms = min(sp.degree(phi, var), sp.degree(psi, var)) + 1
    terms = check_positive_int(terms, "terms")
    g, xi, s = sp.symbols("g xi s", real=True)
    joint = sp.Poly(sp.expand(phi.subs(var, g) * psi.subs(var, t * g + s * xi)), g, xi)
    lhs = sum(c * normal_moment(a) * normal_moment(b) for (a, b), c in joint.terms())
    lhs = sp.expand(sp.expand(lhs).subs(s, sp.sqrt(1 - t**2)))
    rhs = sum(hermite_coefficient(phi, j, var) * hermite_coefficient(psi, j, var)
              * t**j / sp.factorial(j) for j in range(terms))
    return lhs, sp.expand(rhs)


def harmonic_dimension_expr(degree: int | None = None, dim: sp.Expr = d) -> sp.Expr:
    """B(d, l) = C(l+d-1, l) - C(l+d-3, l-2) as a sympy expression in `dim` (and `l` if degree is
    None); for a given degree, factored as a polynomial in d, e.g. B(d, 2) = (d-1)(d+2)/2."""
    deg = l if degree is None else check_degree(degree)
    expr = sp.binomial(deg + dim - 1, deg) - sp.binomial(deg + dim - 3, deg - 2)
    return expr if degree is None else sp.factor(sp.expand_func(expr))


def laplacian(expr, xs: Sequence[sp.Symbol]) -> sp.Expr:
    """Delta expr = sum_i d^2 expr / dx_i^2; a polynomial is harmonic iff this is 0."""
    expr = sp.sympify(expr)
    return sp.expand(sum(sp.diff(expr, x, 2) for x in xs))


def sphere_moment(exponents: Sequence[int], dim: sp.Expr = d) -> sp.Expr:
    """E[prod_i u_i^{a_i}] for u uniform on the unit sphere S^{dim-1}, a rational function of dim.

    From x = r u with x ~ N(0, I), r independent of u: prod (a_i - 1)!! = E[prod x_i^{a_i}] =
    E[r^A] E[prod u_i^{a_i}], A = sum a_i, E[r^A] = 2^{A/2} Gamma((dim + A)/2) / Gamma(dim/2).
    E.g. E[u1^2 u2^2 u3^2] = 1/(d (d+2) (d+4)).
    """
    a = [check_degree(k, "exponent") for k in exponents]
    if any(k % 2 for k in a):
        return sp.Integer(0)
    A = sum(a)
    gauss = sp.prod([normal_moment(k) for k in a])
    radial = 2 ** sp.Rational(A, 2) * sp.gamma((dim + A) / 2) / sp.gamma(dim / 2)
    return sp.factor(sp.gammasimp(gauss / radial))
