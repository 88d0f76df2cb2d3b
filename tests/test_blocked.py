"""The row-blocked fused step (escape_ntk.blocked) against explicit-Jacobian autograd oracles."""

import math

import numpy as np
import pytest
import torch

import escape_ntk as en
from escape_ntk import sweeps
from escape_ntk.train import FusedStep

ACT = "sigmoid_shift"


def _problem(dtype, paired=True, n=37, m=24, d=5, s=9, n_k=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    W0, a = en.init_symmetric(m, d, g, dist="unit")
    if not paired:
        W0 = torch.randn(m, d, generator=g, dtype=torch.float64) / 3
    T64 = en.Taylor(X, W0, a, ACT)
    evals, evecs = torch.linalg.eigh(T64.gram())
    U_k, ev_k = evecs.flip(1)[:, :n_k], evals.flip(0)[:n_k]
    y = torch.randn(n, generator=g, dtype=torch.float64)
    U0 = 0.3 * torch.randn(m, d, generator=g, dtype=torch.float64)
    Xs = torch.randn(s, d, generator=g, dtype=torch.float64)
    T = en.Taylor(X.to(dtype), W0.to(dtype), a.to(dtype), ACT)
    return T, T64, U_k, ev_k, y, U0, Xs


def _oracle_grad(T64, U_k, y, U0, Xs, lam_emp, lam_pop, n_k):
    """Autograd of the objective written with the explicit Jacobian J (n, md) and its SVD."""
    X, W0, a = T64.X, T64.W0, T64.a
    n = X.shape[0]
    J = torch.func.jacrev(lambda W: en.network(X, W, a, ACT))(W0).reshape(n, -1)
    V_k = torch.linalg.svd(J, full_matrices=False)[2][:n_k].T        # top right singular vectors
    Js = torch.func.jacrev(lambda W: en.network(Xs, W, a, ACT))(W0).reshape(Xs.shape[0], -1)
    P = torch.eye(n, dtype=torch.float64) - U_k @ U_k.T

    def objective(U):
        Z = X @ U.T
        fL, fQ = (T64.S1 * Z).sum(1), 0.5 * (T64.S2 * Z * Z).sum(1)
        u = U.reshape(-1)
        pop = (Js @ (u - V_k @ (V_k.T @ u))).square().mean()
        return ((fL + fQ - y) ** 2).mean() + lam_emp * (P @ fL).square().sum() / n + lam_pop * pop

    U = U0.clone().requires_grad_(True)
    return torch.autograd.grad(objective(U), U)[0]


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("block", [1, 8, 37, 64, None])
def test_step_matches_explicit_jacobian_autograd(dtype, tol, block):
    T, T64, U_k, ev_k, y, U0, Xs = _problem(dtype)
    lam_emp, lam_pop = 0.07, 0.5
    want = _oracle_grad(T64, U_k, y, U0, Xs, lam_emp, lam_pop, 6)
    step = en.blocked.BlockedStep(T, U_k, ev_k, block_rows=block)
    assert step.paired
    Ut = U0.T.contiguous().to(dtype)
    out = step.step(Ut, y.to(dtype), 1.0, lam_emp, lam_pop, Xs.to(dtype))
    got = (U0.T.to(dtype) - Ut).T.double()
    assert float((got - want).abs().max() / want.abs().max()) < tol
    # the returned values are those at the old movement
    f = T64.predict(U0, "LQ")
    assert math.isclose(out["mse"], float((f - y).square().mean()), rel_tol=10 * tol)
    fL = T64.f_L(U0)
    p = fL - U_k @ (U_k.T @ fL)
    assert math.isclose(out["R1"], float(p @ p) / len(y), rel_tol=10 * tol)


@pytest.mark.parametrize("block", [5, None])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_unpaired_without_penalty_equals_fused_step(dtype, tol, block):
    T, _, _, _, y, U0, _ = _problem(dtype, paired=False)
    step = en.blocked.BlockedStep(T, block_rows=block)
    assert not step.paired
    Ut, Ut2 = U0.T.contiguous().to(dtype), U0.T.contiguous().to(dtype)
    step.step(Ut, y.to(dtype), 1.0)
    FusedStep(T, "LQ").update(Ut2, y.to(dtype), 1.0)
    assert float((Ut - Ut2).abs().max() / (Ut2 - U0.T.to(dtype)).abs().max()) < tol


@pytest.mark.parametrize("block", [4, None])
def test_population_term_changes_the_step_and_unpaired_population_matches_oracle(block):
    T, T64, U_k, ev_k, y, U0, Xs = _problem(torch.float64, paired=False)
    want = _oracle_grad(T64, U_k, y, U0, Xs, 0.0, 2.0, 6)
    step = en.blocked.BlockedStep(T, U_k, ev_k, block_rows=block)
    Ut = U0.T.contiguous()
    step.step(Ut, y, 1.0, 0.0, 2.0, Xs)
    assert float(((U0 - Ut.T) - want).abs().max() / want.abs().max()) < 1e-12
    plain = _oracle_grad(T64, U_k, y, U0, Xs, 0.0, 0.0, 6)
    assert float((want - plain).abs().max()) > 1e-3 * float(plain.abs().max())


@pytest.mark.parametrize("paired", [True, False])
def test_predict_blocked_equals_taylor_predict(paired):
    T, T64, _, _, _, U0, _ = _problem(torch.float64, paired=paired)
    got = en.blocked.predict_blocked(T64.X, T64.W0, T64.a, ACT, U0, block_rows=10)
    assert torch.allclose(got, T64.predict(U0, "LQ"), rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="shape"):
        en.blocked.predict_blocked(T64.X, T64.W0, T64.a, ACT, U0[:3])


def test_bad_input_names_the_fix():
    T, _, U_k, ev_k, y, U0, Xs = _problem(torch.float64)
    Ut = U0.T.contiguous()
    with pytest.raises(ValueError, match="eigenpairs"):
        en.blocked.BlockedStep(T).step(Ut, y, 1.0, lam_emp=0.1)
    with pytest.raises(ValueError, match="fresh samples"):
        en.blocked.BlockedStep(T, U_k, ev_k).step(Ut, y, 1.0, lam_pop=0.1)
    with pytest.raises(ValueError, match="eigenvalues"):
        en.blocked.BlockedStep(T, U_k).step(Ut, y, 1.0, 0.1, 0.1, Xs)
    with pytest.raises(ValueError, match="rows"):
        en.blocked.BlockedStep(T, U_k[:5], ev_k)
    with pytest.raises(ValueError, match="positive"):
        en.blocked.BlockedStep(T, U_k, -ev_k)


SMALL = dict(sweeps._AUTHORS_FIXED, d=8, n=40, m=60, n_test=50, n_k=8, horizon=120,
             log_points=15, block_rows=16)


@pytest.mark.parametrize("variant", ["pop", "emp"])
def test_authors_scale_prefix_and_determinism(variant):
    cpu = torch.device("cpu")
    full = sweeps.authors_scale(seed=3, lam=1e-2, variant=variant, steps=120, device=cpu,
                                dtype=torch.float64, **SMALL)
    short = sweeps.authors_scale(seed=3, lam=1e-2, variant=variant, steps=30, device=cpu,
                                 dtype=torch.float64, **SMALL)
    k = len(short["steps"])
    assert 0 < k < len(full["steps"]) and full["steps"][:k] == short["steps"]
    for key in ("train", "test", "R1", "linear"):
        assert full[key][:k] == short[key]
    assert full["train"][-1] < 0.5 * full["train"][0]          # it trains
    assert ("R1_pop" in full) == (variant == "pop")
    with pytest.raises(ValueError, match="variant"):
        sweeps.authors_scale(seed=3, lam=0.0, variant="x", steps=5, device=cpu,
                             dtype=torch.float64, **SMALL)


def test_authors_scale_checkpoint_resume_is_exact(tmp_path, monkeypatch):
    cpu = torch.device("cpu")
    args = dict(seed=5, lam=1e-3, variant="pop", device=cpu, dtype=torch.float64, **SMALL)
    args.update(horizon=1200, log_points=12)
    ref = sweeps.authors_scale(steps=1100, **args)
    monkeypatch.setenv(sweeps.CHECKPOINT_ENV, str(tmp_path))
    # a run killed after its first checkpoint (500 steps): simulate by running to 600 steps
    # with the same key is not possible (steps is in the key), so stop it by an exception
    calls = {"n": 0}
    real = en.blocked.BlockedStep.step

    def dying(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 700:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(en.blocked.BlockedStep, "step", dying)
    with pytest.raises(KeyboardInterrupt):
        sweeps.authors_scale(steps=1100, **args)
    assert len(list(tmp_path.iterdir())) == 1
    monkeypatch.setattr(en.blocked.BlockedStep, "step", real)
    resumed = sweeps.authors_scale(steps=1100, **args)
    assert resumed == ref


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_train_with_block_rows_follows_the_fused_trainer(dtype, tol):
    T, T64, U_k, ev_k, y, U0, _ = _problem(dtype)
    pen = en.R1Penalty.spectral(T64.gram(), 6)
    kw = dict(model="LQ", lr=0.5 * en.stable_lr(T), steps=15, lam=0.3, penalty=pen,
              U0=U0 * 0.1, log_points=8, progress=False)
    ref = en.train(T, y.to(dtype), **kw)
    got = en.train(T, y.to(dtype), block_rows=7, **kw)
    assert list(got.steps) == list(ref.steps)
    for key in ("train", "objective", "R1", "norm_F"):
        assert np.allclose(getattr(got, key), getattr(ref, key), rtol=tol, atol=1e-12), key
    assert float((got.U - ref.U).abs().max() / ref.U.abs().max()) < tol
    with pytest.raises(ValueError, match="block_rows"):
        en.train(T, y.to(dtype), block_rows=7, **dict(kw, model="L", U0=None))


def test_two_pass_and_blocked_steps_agree_over_many_steps():
    """block_rows=None (n x m buffers) follows the blocked step's path to rounding."""
    T, _, U_k, ev_k, y, U0, Xs = _problem(torch.float64)
    Ut1, Ut2 = U0.T.contiguous(), U0.T.contiguous()
    a, b = (en.blocked.BlockedStep(T, U_k, ev_k, block_rows=k) for k in (8, None))
    for _ in range(20):
        o1, o2 = a.step(Ut1, y, 0.5, 0.1, 0.3, Xs), b.step(Ut2, y, 0.5, 0.1, 0.3, Xs)
    assert torch.allclose(Ut1, Ut2, rtol=1e-12, atol=1e-14)
    for key in ("mse", "R1", "R1_pop"):
        assert math.isclose(o1[key], o2[key], rel_tol=1e-12), key
    assert torch.allclose(o1["fL"], o2["fL"], rtol=1e-12, atol=1e-14)
