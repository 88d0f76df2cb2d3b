"""The authors' MLP (fused GD step, closed-form NTK Gram) and the network-vs-Taylor / sign-flip
drivers, against torch.func / autograd oracles in float64 and float32."""

import math

import pytest
import torch
from oracles import DTYPE_TOL, make_problem
from torch.func import jacrev

import escape_ntk as en
from escape_ntk import experiments as ex
from escape_ntk import mlp, networks
from escape_ntk.train import FusedStep


def _mlp_problem(dtype, init="torch", n=23, d=5, width=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = mlp.mlp_init(d, width, g, dtype, init)
    X = torch.randn(n, d, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randn(n, generator=g, dtype=torch.float64).to(dtype)
    return p, X, y


def _loss(ts, X, y):
    W1, b1, w2, b2 = ts
    f = torch.relu(X @ W1.T + b1) @ w2 + b2
    return ((f - y) ** 2).mean()


@pytest.mark.parametrize("dtype, tol", DTYPE_TOL)
@pytest.mark.parametrize("init", mlp.INITS)
def test_mlp_step_matches_autograd(dtype, tol, init):
    p, X, y = _mlp_problem(dtype, init)
    ts = [t.clone().requires_grad_() for t in p.tensors()]
    loss = _loss(ts, X, y)
    want = torch.autograd.grad(loss, ts)
    mse, got = mlp.MLPStep(X, y, p).grads(p)
    assert math.isclose(float(mse), float(loss.detach()), rel_tol=tol)
    for a, b in zip(got.tensors(), want, strict=True):
        assert torch.allclose(a, b, rtol=tol, atol=tol * float(b.abs().max())), (a, b)


def test_mlp_update_is_a_gd_step_and_train_decreases_the_loss():
    p, X, y = _mlp_problem(torch.float64)
    q = p.clone()
    _, g = mlp.MLPStep(X, y, p).grads(p)
    mlp.MLPStep(X, y, q).update(q, 0.05)
    for a, b, c in zip(q.tensors(), p.tensors(), g.tensors(), strict=True):
        assert torch.allclose(a, b - 0.05 * c, rtol=1e-14, atol=1e-15)
    out = mlp.mlp_train(p, X, y, lr=0.05, steps=200, X_test=X, y_test=y, log_points=5)
    assert out["steps"][0] == 0 and out["steps"][-1] == 200
    assert out["train"][-1] < 0.5 * out["train"][0]
    assert out["test"] == pytest.approx(out["train"], rel=1e-12)
    assert torch.equal(p.W1, _mlp_problem(torch.float64)[0].W1)       # params were copied
    again = mlp.mlp_train(p, X, y, lr=0.05, steps=200, log_points=5)
    assert again["train"] == out["train"] and again["test"] is None


@pytest.mark.parametrize("dtype, tol", DTYPE_TOL)
def test_mlp_ntk_gram_matches_the_jacobian(dtype, tol):
    p, X, _ = _mlp_problem(dtype)
    Y = X[:9] * 0.7
    def f(W1, b1, w2, b2, A):
        return torch.relu(A @ W1.T + b1) @ w2 + b2
    def jac(A):
        J = jacrev(f, argnums=(0, 1, 2, 3))(*p.tensors(), A)
        return torch.cat([j.reshape(A.shape[0], -1) for j in J], dim=1)
    JX, JY = jac(X), jac(Y)
    assert JX.shape[1] == p.count == 7 * (5 + 2) + 1
    K = mlp.mlp_ntk_gram(p, X, Y)
    want = JX @ JY.T
    assert torch.allclose(K, want, rtol=tol, atol=tol * float(want.abs().max()))
    assert torch.allclose(mlp.mlp_ntk_gram(p, X), JX @ JX.T, rtol=tol,
                          atol=tol * float(want.abs().max()))


def test_mlp_ntk_regression_is_the_linearized_network_at_convergence():
    p, X, y = _mlp_problem(torch.float64, n=20, d=5, width=7)     # P = 50 > n: interpolates
    pred = mlp.mlp_ntk_regression(p, X, y, X, [1e-10, 1e3])
    assert torch.allclose(pred[0], y, atol=1e-5)
    f0 = mlp.mlp_forward(p, X)                                   # huge ridge: the init function
    assert float((pred[1] - f0).abs().max()) < 1e-2 * float((y - f0).abs().max())


def test_mlp_init_scales_and_target_moments():
    g = torch.Generator().manual_seed(1)
    p = mlp.mlp_init(400, 500, g, init="authors")
    assert p.W1.var().item() == pytest.approx(1 / (2 * 400), rel=0.02)
    assert p.b1.abs().max() == 0 and p.b2 == 0
    q = mlp.mlp_init(400, 500, g, init="torch")
    assert q.W1.abs().max() <= 1 / 20 and q.W1.var().item() == pytest.approx(1 / 1200, rel=0.02)
    d = 10
    t = mlp.authors_target(d, g)
    k = sum(i > d / 2 for i in range(d))
    X = torch.randn(400_000, d, generator=g, dtype=torch.float64)
    fx = t(X)
    assert k == 4 and t.dist == "gaussian" and t.degree == 3
    assert float(fx.mean()) == pytest.approx(k / math.sqrt(675), abs=0.01)
    assert float(fx.square().mean()) == pytest.approx(t.norm ** 2, rel=0.01)


@pytest.mark.parametrize("dtype, tol", DTYPE_TOL)
def test_sign_flip_expected_grad_matches_autograd(dtype, tol):
    P = make_problem(dtype=dtype)
    y = torch.randn(P.n, generator=P.g, dtype=torch.float64).to(dtype)
    U = (0.3 * torch.randn(P.m, P.d, generator=P.g, dtype=torch.float64)).to(dtype)
    V = U.clone().requires_grad_()
    want = torch.autograd.grad(en.sign_flip_expected_loss(P.taylor, V, y), V)[0]
    got = networks.sign_flip_expected_grad(P.taylor, U, y)
    assert torch.allclose(got, want, rtol=tol, atol=tol * float(want.abs().max()))


@pytest.mark.parametrize("dtype, tol", DTYPE_TOL)
def test_sign_flip_net_step_is_gd_on_the_randomized_network(dtype, tol):
    P = make_problem(dtype=dtype)
    y = torch.randn(P.n, generator=P.g, dtype=torch.float64).to(dtype)
    U = (0.3 * torch.randn(P.m, P.d, generator=P.g, dtype=torch.float64)).to(dtype)
    s = en.random_signs(P.m, P.g, dtype)
    V = U.clone().requires_grad_()
    f = en.network(P.X, P.W0 + s[:, None] * V, P.a, P.act)
    loss = ((f - y) ** 2).mean()
    grad = torch.autograd.grad(loss, V)[0]
    Ut = U.T.contiguous()
    got = networks.sign_flip_net_step(P.taylor, FusedStep(P.taylor, "net"),
                                      Ut, y, s, 0.1)
    assert got == pytest.approx(float(loss.detach()), rel=tol)
    want = U - 0.1 * grad
    assert torch.allclose(Ut.T, want, rtol=tol, atol=tol * float(want.abs().max()))


def test_sign_flip_paths_agree_in_expectation():
    P = make_problem(n=30, m=200, d=5)
    y = torch.randn(P.n, generator=P.g, dtype=torch.float64) * 0.5
    U0 = en.small_init(P.m, P.d, P.g)
    out = networks.sign_flip_paths(P.taylor, y, U0, 0.5, [0, 5, 20],
                                   torch.Generator().manual_seed(3))
    assert set(out) == {"expected", "taylor", "net"}
    assert out["expected"][0] == out["taylor"][0] == out["net"][0]
    assert out["expected"][-1] < out["expected"][0]
    assert out["taylor"][-1] == pytest.approx(out["expected"][-1], rel=0.2)
    with pytest.raises(ValueError, match="unknown path"):
        networks.sign_flip_paths(P.taylor, y, U0, 0.5, [0, 1], P.g, paths=("nope",))


def test_taylor_gaps_start_equal_and_the_network_tracks_its_quadratic_model():
    s = ex.SETTING_A.replace(d=8, n=40, m=200, n_test=50, steps=20)
    problem = ex.prepare(s, torch.Generator().manual_seed(0), torch.float64)
    out = networks.taylor_gaps(problem, 0.0, [0, 10, 20])
    assert out["gap_LQ"][0] == pytest.approx(out["rem_LQ"][0], rel=1e-12)
    assert out["gap_L"][0] == pytest.approx(out["rem_L"][0], rel=1e-12)
    assert all(a < b for a, b in zip(out["gap_LQ"][1:], out["gap_L"][1:], strict=True))
    assert set(out["test"]) == set(networks.GAP_MODELS)
    seg = networks.taylor_gaps(problem, 0.0, [0, 20])                # one segment, same end
    assert seg["gap_LQ"][-1] == pytest.approx(out["gap_LQ"][-1], rel=1e-12)
    with pytest.raises(ValueError, match="start at 0"):
        networks.taylor_gaps(problem, 0.0, [5, 10])


def test_power_fit_recovers_an_exponent_and_its_spread():
    x = torch.tensor([1.0, 2.0, 4.0, 8.0])
    g = torch.Generator().manual_seed(0)
    Y = 3 * x ** -0.25 * torch.exp(0.01 * torch.randn(3, 4, generator=g, dtype=torch.float64))
    out = networks.power_fit(x, Y, torch.Generator().manual_seed(1), n_boot=300)
    assert out["slope"] == pytest.approx(-0.25, abs=0.02) and out["std"] < 0.02
    assert out["lo"] <= out["slope"] <= out["hi"]
    exact = networks.power_fit(x, (x ** 2)[None].repeat(2, 1), n_boot=10)
    assert exact["slope"] == pytest.approx(2.0, abs=1e-12) and exact["std"] < 1e-12
    Y[0, 1] = float("nan")                                          # a missing value is skipped
    assert math.isfinite(networks.power_fit(x, Y, g, n_boot=50)["slope"])
    with pytest.raises(ValueError, match="positive"):
        networks.power_fit(x, -Y)
