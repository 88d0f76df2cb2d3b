"""Tests for escape_ntk.directions: Rayleigh quotients and the sign-averaged linear energy."""

import itertools

import pytest
import torch
from oracles import DTYPE_TOL, make_problem, network_jacobian

import escape_ntk as en


def _taylor(dtype, n=30, m=8, d=5, seed=0):
    p = make_problem(n, m, d, dtype, "softplus_shift", seed)
    return p.taylor, p.g


@pytest.mark.parametrize("dtype,tol", DTYPE_TOL)
def test_rayleigh_matches_jacobian_oracle(dtype, tol):
    tay, gen = _taylor(dtype)
    V = torch.randn(3, tay.m, tay.d, generator=gen, dtype=dtype)
    J = network_jacobian(tay.X, tay.W0, tay.a, tay.act).double()
    Sigma = J.T @ J / tay.n                      # sample covariance (md x md, small here)
    Vf = V.double().flatten(1)
    expected = torch.einsum("ki,ij,kj->k", Vf, Sigma, Vf) / Vf.square().sum(1)
    q = en.directions.rayleigh_quotients(tay, V)
    assert q.dtype == torch.float64 and q.shape == (3,)
    assert torch.allclose(q, expected, rtol=tol, atol=0)
    assert torch.allclose(en.directions.rayleigh_quotients(tay, V[0]), expected[0], rtol=tol)


def test_rayleigh_pair_symmetric_is_null_and_scale_free():
    tay, gen = _taylor(torch.float64)
    G = torch.randn(tay.m // 2, tay.d, generator=gen, dtype=torch.float64)
    sym = torch.cat([G, G])
    assert float(en.directions.rayleigh_quotients(tay, sym)) < 1e-28
    V = torch.randn(tay.m, tay.d, generator=gen, dtype=torch.float64)
    q1, q2 = (en.directions.rayleigh_quotients(tay, c * V) for c in (1.0, 7.0))
    assert abs(float(q1 - q2)) < 1e-14 * float(q1)


def test_linear_energy_is_the_exact_sign_average():
    tay, gen = _taylor(torch.float64)
    U = torch.randn(tay.m, tay.d, generator=gen, dtype=torch.float64)
    S = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=tay.m)), dtype=torch.float64)
    mc = (tay.phi_matvec(S[:, :, None] * U) ** 2).mean(1)    # all 2^m sign vectors: exact
    assert torch.allclose(en.directions.linear_energy(tay, U), mc, rtol=1e-12, atol=1e-14)
    y = torch.randn(tay.n, generator=gen, dtype=torch.float64)
    total = ((tay.f_Q(U) - y) ** 2 + en.directions.linear_energy(tay, U)).mean()
    assert abs(float(total - en.sign_flip_expected_loss(tay, U, y))) < 1e-12 * float(total)


def test_errors():
    tay, _ = _taylor(torch.float64)
    with pytest.raises(TypeError, match="Taylor"):
        en.directions.linear_energy("not a model", torch.zeros(tay.m, tay.d))
    with pytest.raises(ValueError, match="shape"):
        en.directions.linear_energy(tay, torch.zeros(tay.m + 2, tay.d, dtype=torch.float64))
    with pytest.raises(ValueError, match="zero"):
        en.directions.rayleigh_quotients(tay, torch.zeros(2, tay.m, tay.d, dtype=torch.float64))
    with pytest.raises(ValueError, match="non-finite"):
        bad = torch.full((tay.m, tay.d), float("nan"), dtype=torch.float64)
        en.directions.rayleigh_quotients(tay, bad)
