"""Taylor models of torch modules (escape_ntk.taylor_nn) against the closed form of the two-layer
net (en.Taylor), finite differences on a small CNN, an exactly quadratic network, and training."""

import copy

import pytest
import torch
from oracles import DTYPE_TOL, make_problem, randn

import escape_ntk as en
from escape_ntk import taylor_nn as tn


def _with_delta(model, deltas):
    with torch.no_grad():
        for p, v in zip(model.delta, deltas, strict=True):
            p.copy_(v)
    return model


@pytest.mark.parametrize("dtype,tol", DTYPE_TOL)
@pytest.mark.parametrize("act", ["softplus_shift", "tanh"])
def test_two_layer_terms_equal_the_closed_form(dtype, tol, act):
    p = make_problem(n=30, m=16, d=5, dtype=dtype, act=act)
    U = randn(p.g, p.m, p.d, dtype=dtype, scale=0.5)
    M = _with_delta(en.taylor_expand(tn.TwoLayer(p.W0, p.a, act), 2), [U])
    f0, fL, fQ = M.terms(p.X)
    scale = float(p.taylor.f_L(U).abs().max())
    assert f0.abs().max() <= tol * scale                         # paired init: f(W0) = 0
    assert (fL - p.taylor.f_L(U)).abs().max() <= tol * scale
    assert (fQ - p.taylor.f_Q(U)).abs().max() <= tol * p.taylor.f_Q(U).abs().max()
    assert (M(p.X) - p.taylor.predict(U, "LQ")).abs().max() <= tol * scale
    M1 = _with_delta(en.taylor_expand(tn.TwoLayer(p.W0, p.a, act), 1), [U])
    assert M1.terms(p.X)[2] is None
    assert (M1(p.X) - p.taylor.predict(U, "L")).abs().max() <= tol * scale
    # the gradient in delta that SGD uses equals autograd through the closed form
    y = randn(p.g, p.n, dtype=dtype)
    for model, order in (("LQ", 2), ("L", 1)):
        Mo = _with_delta(en.taylor_expand(tn.TwoLayer(p.W0, p.a, act), order), [U])
        (Mo(p.X) - y).square().mean().backward()
        Ur = U.clone().requires_grad_(True)
        (p.taylor.predict(Ur, model) - y).square().mean().backward()
        assert (Mo.delta[0].grad - Ur.grad).abs().max() <= 10 * tol * Ur.grad.abs().max()


def test_two_layer_module_is_the_network():
    p = make_problem(n=20, m=8, d=4, act="tanh")
    net = tn.TwoLayer(p.W0, p.a, "tanh")
    assert torch.allclose(net(p.X), en.network(p.X, p.W0, p.a, "tanh"), rtol=0, atol=1e-15)
    assert [n for n, _ in net.named_parameters()] == ["W"]       # only the first layer trains


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_cnn_terms_match_finite_differences(act):
    """f(theta0 + t delta) = f0 + t f_L + t^2 f_Q + O(t^3): central differences in float64."""
    g = torch.Generator().manual_seed(1)
    net = tn.small_cnn(4, 2, 8, act, g)
    x = torch.randn(5, 1, 8, 8, generator=g, dtype=torch.float64)
    deltas = [0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64)
              for p in net.parameters()]
    M = _with_delta(en.taylor_expand(net, 2), deltas)
    f0, fL, fQ = M.terms(x)

    def f(t):
        moved = copy.deepcopy(net)
        with torch.no_grad():
            for p, v in zip(moved.parameters(), deltas, strict=True):
                p.add_(t * v)
            return moved(x)

    t = 1e-3
    fp, fm = f(t), f(-t)
    assert torch.allclose(f0, net(x), rtol=0, atol=1e-14)
    assert (fL - (fp - fm) / (2 * t)).abs().max() <= 1e-5 * fL.abs().max()
    assert (fQ - (fp - 2 * f0 + fm) / (2 * t * t)).abs().max() <= 1e-4 * fQ.abs().max()
    assert fQ.abs().max() > 1e-3 * fL.abs().max()      # a real second-order term, not zero


def test_exactly_quadratic_network_is_its_own_quadratic_model():
    """f = w2 . (W1 x) is quadratic in (W1, w2): order 2 is exact at any movement, order 1 is not."""
    g = torch.Generator().manual_seed(2)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Linear(5, 1), torch.nn.Flatten(0))
    net = net.double()
    x = torch.randn(7, 6, generator=g, dtype=torch.float64)
    deltas = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in net.parameters()]
    moved = copy.deepcopy(net)
    with torch.no_grad():
        for p, v in zip(moved.parameters(), deltas, strict=True):
            p.add_(v)
    want = moved(x).detach()
    assert torch.allclose(_with_delta(en.taylor_expand(net, 2), deltas)(x), want, rtol=1e-12,
                          atol=1e-12)
    assert not torch.allclose(_with_delta(en.taylor_expand(net, 1), deltas)(x), want, atol=1e-3)
    # set_movement reads delta = theta - theta0 off a moved copy
    M = en.taylor_expand(net, 2).set_movement(moved)
    assert torch.allclose(M(x), want, rtol=1e-12, atol=1e-12)


def test_taylor_model_is_frozen_and_trains_with_torch_optimizers():
    g = torch.Generator().manual_seed(3)
    net = tn.small_cnn(4, 2, 8, "relu", g)
    X, y, Xt, yt = en.digits_pair((3, 8), 50, g)
    M = en.taylor_expand(net, 2)
    assert [p.shape for p in M.parameters()] == [p.shape for p in net.parameters()]
    before = M(Xt).detach()
    with torch.no_grad():
        next(net.parameters()).add_(1.0)                   # theta0 is a frozen copy
    assert torch.equal(M(Xt).detach(), before)
    out = tn.sgd({"LQ": M}, X, y, Xt, yt, epochs=3, batch_size=64, lr=0.05)["LQ"]
    assert out["train_loss"].shape == (4,) and out["train_loss"][-1] < out["train_loss"][0]
    assert all(float(p.detach().abs().sum()) > 0 for p in M.parameters())
    again = tn.sgd({"LQ": en.taylor_expand(tn.small_cnn(4, 2, 8, "relu",
                                                        torch.Generator().manual_seed(3)), 2)},
                   X, y, Xt, yt, epochs=3, batch_size=64, lr=0.05)["LQ"]
    # same init (same generator seed, drawn first), same data: the same numbers
    assert (again["test_loss"] == out["test_loss"]).all()


def test_digits_pair():
    g = torch.Generator().manual_seed(0)
    X, y, Xt, yt = en.digits_pair((3, 8), 100, g)
    assert X.shape == (257, 1, 8, 8) and Xt.shape == (100, 1, 8, 8)
    assert set(y.tolist()) == {1.0, -1.0} and set(yt.tolist()) == {1.0, -1.0}
    assert abs(float(X.mean())) < 1e-12 and abs(float(X.std()) - 1) < 1e-12
    X2, *_ = en.digits_pair((3, 8), 100, torch.Generator().manual_seed(0), torch.float32)
    assert X2.dtype == torch.float32 and torch.allclose(X2.double(), X, atol=1e-6)


def test_small_cnn_shape_and_init():
    g = torch.Generator().manual_seed(0)
    net = tn.small_cnn(8, 3, 8, "relu", g)
    c = 8
    assert sum(p.numel() for p in net.parameters()) == 10 * c + 2 * (9 * c * c + c) + c + 1
    assert net(torch.zeros(2, 1, 8, 8, dtype=torch.float64)).shape == (2,)
    w = net[3].weight                                     # second conv: fan_in 9 c
    assert abs(float(w.detach().var()) - 1 / (2 * 9 * c)) < 0.15 / (2 * 9 * c)
    assert all(float(m.bias.detach().abs().sum()) == 0 for m in net if hasattr(m, "bias"))
