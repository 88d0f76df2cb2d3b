"""models.py: symmetric init, the network, Taylor terms against torch.func oracles, Phi products."""

import itertools
import math

import numpy as np
import pytest
import torch
from oracles import DTYPES, TOL, make_problem, network_jacobian, randn
from torch.func import jvp

import escape_ntk as en

# torch.func.jvp's forward-AD decompositions call torch.jit.script internally (torch 2.13)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script`:DeprecationWarning")

N, M, D = 40, 8, 5


def setup(dtype=torch.float64, act="sigmoid_shift", seed=0, m=M):
    p = make_problem(N, m, D, dtype, act, seed)
    U = randn(p.g, m, D, dtype=dtype) / math.sqrt(D)
    return p.X, p.W0, p.a, U, p.taylor


def oracle(X, a, act):
    """The network as a plain function of W, for torch.func."""
    sigma = en.activation(act).sigma
    return lambda W: sigma(X @ W.T) @ a


def directional(g, W0, U, order):
    """d^k/de^k g(W0 + e U) at e = 0 by nested forward-mode jvp."""
    h = g
    for _ in range(order):
        h = (lambda f: lambda W: jvp(f, (W,), (U,))[1])(h)
    return h(W0)


def close(x, y, dtype, scale=1.0):
    err = (x - y).abs().max().item()
    assert err <= TOL[dtype] * max(scale, 1.0), err


# --- init and network ---------------------------------------------------------------------------

@pytest.mark.parametrize("dist", ["gaussian", "unit"])
def test_symmetric_init_is_zero_and_reproducible(dist):
    g = torch.Generator().manual_seed(1)
    W0, a = en.init_symmetric(10, D, g, dist=dist)
    assert torch.equal(W0[:5], W0[5:])
    signs = torch.tensor([1.0] * 5 + [-1.0] * 5, dtype=torch.float64)
    assert torch.allclose(a, signs / math.sqrt(10))
    X = en.sample_sphere(N, D, g)
    assert en.network(X, W0, a, "tanh").abs().max() < 1e-15
    W1, _ = en.init_symmetric(10, D, torch.Generator().manual_seed(1), dist=dist)
    W2, _ = en.init_symmetric(10, D, torch.Generator().manual_seed(1), torch.float32, dist=dist)
    assert torch.equal(W0, W1) and torch.equal(W2, W0.float())
    if dist == "unit":
        assert torch.allclose(W0.norm(dim=1), torch.ones(10, dtype=torch.float64))


def test_gaussian_init_row_norms():
    W0, _ = en.init_symmetric(40000, 20, torch.Generator().manual_seed(2))
    sq = W0.square().sum(1)                          # ||w||^2 ~ chi^2_d / d: mean 1, variance 2/d
    assert abs(sq.mean().item() - 1.0) < 0.01 and abs(sq.var().item() - 0.1) < 0.01


def test_network_accepts_names_activations_and_callables():
    X, W0, a, U, _ = setup()
    W = W0 + U
    ref = torch.tanh(X @ W.T) @ a
    for s in ("tanh", en.activation("tanh")):
        assert torch.allclose(en.network(X, W, a, s), ref, atol=0, rtol=0)
    assert torch.allclose(en.network(X, W, a, sigma=torch.tanh), ref, atol=0, rtol=0)
    act = en.activation("tanh")
    with pytest.raises(TypeError, match="ambiguous"):        # a raw callable only by keyword
        en.network(X, W, a, torch.tanh)
    with pytest.raises(ValueError, match="not sigma"):       # sigma' passed as sigma
        en.network(X, W, a, sigma=act.dsigma)
    with pytest.raises(TypeError, match="unexpected keyword argument 'dsigma'"):
        en.network(X, W, a, dsigma=act.dsigma)
    assert torch.allclose(en.network(X.numpy(), W.numpy(), a.numpy(), "tanh"), ref)


# --- Taylor terms against autodiff ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ["sigmoid_shift", "tanh", "erf"])
def test_taylor_terms_match_nested_jvp(dtype, act):
    X, W0, a, U, T = setup(dtype, act)
    g = oracle(X, a, act)
    close(T.f0(), g(W0), dtype)
    close(T.f(U), g(W0 + U), dtype)
    close(T.f_L(U), directional(g, W0, U, 1), dtype)
    close(T.f_Q(U), directional(g, W0, U, 2) / 2, dtype)
    close(T.f_3(U), directional(g, W0, U, 3) / 6, dtype)


def test_taylor_remainder_is_cubic():
    X, W0, a, U, T = setup(act="sigmoid_shift")
    U = U * 3.0
    eps = np.geomspace(0.3, 0.01, 8)
    rem = [(T.f(e * U) - e * T.f_L(U) - e**2 * T.f_Q(U)).abs().max().item() for e in eps]
    slope = np.polyfit(np.log(eps), np.log(rem), 1)[0]
    assert abs(slope - 3) < 0.1, slope
    # and the leading remainder is the third-order term
    e = 1e-2
    rem3 = T.f(e * U) - e * T.f_L(U) - e**2 * T.f_Q(U)
    f3 = T.f_3(U)
    assert (rem3 / e**3 - f3).abs().max() < 0.05 * f3.abs().max()


def test_quadratic_scale_bookkeeping():
    """NTK ball: f_L = O(1); quadratic ball with a coherent direction: f_L grows like m^(1/4)."""
    g = torch.Generator().manual_seed(3)
    X = en.sample_sphere(N, D, g)
    ratios = []
    for m in (64, 1024):
        W0, a = en.init_symmetric(m, D, g)
        T = en.Taylor(X, W0, a, "sigmoid_shift")
        V = T.phi_rmatvec(torch.ones(N, dtype=torch.float64))   # coherent, gradient-like direction
        ntk = T.f_L(en.scale_movement(V, "ntk")).abs().mean().item()
        quad = T.f_L(en.scale_movement(V, "quadratic")).abs().mean().item()
        ratios.append(quad / ntk)
    assert ratios[1] / ratios[0] == pytest.approx((1024 / 64) ** 0.25, rel=0.15)


# --- sign flips -----------------------------------------------------------------------------------

def test_sign_average_kills_linear_term_and_keeps_quadratic():
    X, W0, a, U, T = setup()
    S = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=M)), dtype=torch.float64)  # 2^M
    flipped = S[:, :, None] * U                                          # all flips, (2^M, m, d)
    assert T.phi_matvec(flipped).mean(dim=1).abs().max() < 1e-15
    s = en.random_signs(M, torch.Generator().manual_seed(4))
    assert set(s.tolist()) <= {-1.0, 1.0}
    assert torch.allclose(T.f_Q(en.sign_flip(U, s)), T.f_Q(U), atol=1e-15)
    assert torch.equal(en.sign_flip(U, s), s[:, None] * U)


def test_random_signs_reproducible_and_fair():
    s1 = en.random_signs(2000, torch.Generator().manual_seed(5))
    s2 = en.random_signs(2000, torch.Generator().manual_seed(5), torch.float32)
    assert torch.equal(s1.float(), s2) and abs(s1.mean().item()) < 0.1


def test_norm_24_and_scales():
    U = torch.randn(400, D, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    assert en.norm_24(U).item() == pytest.approx(U.norm(dim=1).pow(4).sum().pow(0.25).item())
    assert en.scale_movement(U, "ntk").norm().item() == pytest.approx(1.0)
    Q = en.scale_movement(U, "quadratic")
    assert en.norm_24(Q).item() == pytest.approx(1.0)
    rows = en.scale_movement(U / U.norm(dim=1, keepdim=True), "quadratic").norm(dim=1)
    assert torch.allclose(rows, torch.full_like(rows, 400 ** -0.25))   # equal rows: m^(-1/4)


# --- Phi products ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_phi_products_match_explicit_jacobian(dtype):
    X, W0, a, U, T = setup(dtype)
    J = network_jacobian(X, W0, a, "sigmoid_shift")
    g = torch.Generator().manual_seed(7)
    R = torch.randn(N, 3, generator=g, dtype=torch.float64).to(dtype)
    close(T.phi_matvec(U), J @ U.reshape(-1), dtype)
    close(T.phi_rmatvec(R[:, 0]), (J.T @ R[:, 0]).reshape(M, D), dtype)
    close(T.phi_rmatvec(R), (J.T @ R).T.reshape(3, M, D), dtype)
    Us = T.phi_rmatvec(R)
    close(T.phi_matvec(Us), J @ Us.reshape(3, -1).T, dtype, scale=Us.abs().max().item())
    # adjointness <Phi v, r> = <v, Phi^T r>
    lhs = (T.phi_matvec(U) * R[:, 0]).sum()
    rhs = (U * T.phi_rmatvec(R[:, 0])).sum()
    close(lhs, rhs, dtype)
    close(T.gram(), J @ J.T, dtype)


# --- bad inputs -----------------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    X, W0, a, U, T = setup()
    with pytest.raises(ValueError, match="odd"):
        en.init_symmetric(7, D)
    with pytest.raises(ValueError, match="d must be"):
        en.init_symmetric(8, 1)
    with pytest.raises(ValueError, match="unknown weight distribution"):
        en.init_symmetric(8, D, dist="uniform")
    with pytest.raises(ValueError, match=r"U must have shape \(m, d\)"):
        T.f_L(U.T)
    with pytest.raises(ValueError, match="U must have shape"):
        T.phi_matvec(U[None, :, :2])
    with pytest.raises(ValueError, match="columns"):
        en.Taylor(X[:, :3], W0, a, "tanh")
    with pytest.raises(TypeError, match="mixed dtypes"):
        T.f_Q(U.float())
    with pytest.raises(TypeError, match="mixed dtypes"):
        en.network(X.float(), W0, a, "tanh")
    with pytest.raises(ValueError, match="non-finite"):
        T.f(U * float("nan"))
    with pytest.raises(ValueError, match="one output weight per neuron"):
        en.network(X, W0, a[:-1], "tanh")
    with pytest.raises(TypeError, match="Taylor needs"):
        en.Taylor(X, W0, a, torch.tanh)
    with pytest.raises(ValueError, match="unknown activation"):
        en.network(X, W0, a, "gelu")
    with pytest.raises(ValueError, match="one residual per input"):
        T.phi_rmatvec(torch.ones(N + 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="one sign per neuron"):
        en.sign_flip(U, torch.ones(M + 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="unknown scale"):
        en.scale_movement(U, "big")
    with pytest.raises(ValueError, match="zero"):
        en.scale_movement(torch.zeros_like(U), "ntk")
