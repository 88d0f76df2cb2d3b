"""R_1 (good-direction penalty), Bai-Lee's ||U||_{2,4}^8 and the sign-flip expected loss."""

import itertools

import pytest
import torch
from oracles import DTYPE_TOL, make_problem, network_jacobian, randn

import escape_ntk as en


def make_taylor(n=24, m=16, d=5, dtype=torch.float64, act="softplus_shift", seed=0):
    p = make_problem(n, m, d, dtype, act, seed)
    return p.taylor, randn(p.g, m, d, dtype=dtype, scale=0.3), p.g


def test_n_k():
    assert en.n_k(20, 0) == 1
    assert en.n_k(40, 1) == 41
    assert en.n_k(20, 2) == 230
    with pytest.raises(ValueError, match="k must be a non-negative integer"):
        en.n_k(20, -1)
    with pytest.raises(ValueError, match="d must be an integer >= 2"):
        en.n_k(1, 1)


def test_r1_equals_jacobian_projection_identity():
    """(1/n) ||J (I - V_k V_k^T) vec U||^2 = R_1(U), V_k the top-n_k right singular vectors of J."""
    taylor, U, _ = make_taylor()
    n = taylor.n
    J = network_jacobian(taylor.X, taylor.W0, taylor.a, taylor.act)   # explicit: tests only
    n_k = 6
    V_k = torch.linalg.svd(J, full_matrices=False).Vh[:n_k].T
    u = U.reshape(-1)
    lhs = (J @ (u - V_k @ (V_k.T @ u))).square().sum() / n
    pen = en.R1Penalty.spectral(taylor.gram(), n_k)
    rhs = pen.value(taylor.f_L(U))
    assert abs(float(lhs - rhs)) <= 1e-12 * max(1.0, float(lhs))
    assert float(rhs) > 1e-3                                   # the identity is not 0 = 0
    # the spectral basis spans the top left singular vectors of J
    U_svd = torch.linalg.svd(J, full_matrices=False).U[:, :n_k]
    assert torch.allclose(pen.U_k @ pen.U_k.T, U_svd @ U_svd.T, atol=1e-10)
    assert torch.allclose(pen.evals, torch.linalg.eigvalsh(J @ J.T).flip(0), atol=1e-10)


@pytest.mark.parametrize("dtype,tol", DTYPE_TOL)
def test_r1_grad_matches_autograd(dtype, tol):
    taylor, U, g = make_taylor(dtype=dtype)
    for pen in (en.R1Penalty.spectral(taylor.gram().double(), 5),
                en.R1Penalty.random(taylor.n, 5, g)):
        fL = taylor.f_L(U).detach().requires_grad_(True)
        pen.value(fL).backward()
        got = pen.grad_fL(fL.detach())
        assert got.dtype == dtype
        assert (got - fL.grad).abs().max() <= tol * fL.grad.abs().max()


def test_r1_constructors_and_errors():
    taylor, U, g = make_taylor()
    K = taylor.gram()
    pen = en.R1Penalty.spectral(K, 4)
    assert (pen.n, pen.n_k) == (taylor.n, 4)
    assert torch.all(pen.evals[:-1] >= pen.evals[1:])
    assert torch.allclose(K @ pen.U_k, pen.U_k * pen.evals[:4], atol=1e-10)
    # the projection removes exactly span(U_k); the penalty is zero there
    v = pen.U_k @ torch.randn(4, generator=g, dtype=torch.float64)
    assert float(pen.value(v)) < 1e-25
    rnd = en.R1Penalty.random(taylor.n, 4, torch.Generator().manual_seed(1))
    rnd2 = en.R1Penalty.random(taylor.n, 4, torch.Generator().manual_seed(1))
    assert torch.equal(rnd.U_k, rnd2.U_k) and rnd.evals is None
    assert torch.allclose(rnd.U_k.T @ rnd.U_k, torch.eye(4, dtype=torch.float64), atol=1e-12)
    same = en.R1Penalty.from_basis(pen.U_k)
    fL = taylor.f_L(U)
    assert torch.allclose(same.value(fL), pen.value(fL), rtol=1e-14)
    assert float(en.R1Penalty.spectral(K, 0).value(fL)) == pytest.approx(float(fL @ fL) / taylor.n)
    with pytest.raises(ValueError, match="not orthonormal"):
        en.R1Penalty.from_basis(2 * pen.U_k)
    with pytest.raises(ValueError, match="exceeds the number of training inputs"):
        en.R1Penalty.spectral(K, taylor.n + 1)
    with pytest.raises(ValueError, match="square"):
        en.R1Penalty.spectral(K[:, :5], 2)
    with pytest.raises(ValueError, match="not symmetric"):
        en.R1Penalty.spectral(K + torch.triu(torch.ones_like(K), 1), 2)
    with pytest.raises(ValueError, match="training inputs"):
        pen.value(fL[:-1])
    with pytest.raises(ValueError, match="non-finite"):
        pen.value(fL * float("nan"))


@pytest.mark.parametrize("dtype,tol", DTYPE_TOL)
def test_bl_penalty_grad_matches_autograd(dtype, tol):
    _, U, _ = make_taylor(dtype=dtype)
    U = U.clone().requires_grad_(True)
    en.bl_penalty(U).backward()
    got = en.bl_penalty_grad(U.detach())
    assert (got - U.grad).abs().max() <= tol * U.grad.abs().max()
    assert float(en.bl_penalty(U.detach())) == pytest.approx(float(en.norm_24(U.detach())) ** 8,
                                                             rel=1e-5)


def test_sign_flip_expected_loss_is_exact_average_over_all_signs():
    taylor, U, g = make_taylor(n=10, m=8, d=4)
    y = torch.randn(taylor.n, generator=g, dtype=torch.float64)
    fQ = taylor.f_Q(U)
    losses = []
    for signs in itertools.product((-1.0, 1.0), repeat=taylor.m):   # all 2^8 sign vectors
        s = torch.tensor(signs, dtype=torch.float64)
        f = taylor.f_L(s[:, None] * U) + fQ
        losses.append((f - y).square().mean())
    brute = torch.stack(losses).mean()
    exact = en.sign_flip_expected_loss(taylor, U, y)
    assert abs(float(exact - brute)) <= 1e-12 * float(brute)
    assert float(exact) > float((fQ - y).square().mean())           # the linear energy is > 0


def test_sign_flip_expected_loss_errors():
    taylor, U, _ = make_taylor()
    y = torch.zeros(taylor.n, dtype=torch.float64)
    with pytest.raises(ValueError, match="one label per input"):
        en.sign_flip_expected_loss(taylor, U, y[:-1])
    with pytest.raises(ValueError, match=r"shape \(m, d\)"):
        en.sign_flip_expected_loss(taylor, U[:-1], y)
    with pytest.raises(TypeError, match="Taylor"):
        en.sign_flip_expected_loss("taylor", U, y)
