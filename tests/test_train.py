"""The trainer: fused gradients vs autograd, convergence, determinism, stability, bad inputs."""

import numpy as np
import pytest
import torch
from oracles import make_problem, randn

import escape_ntk as en


def setup(n=40, m=16, d=5, dtype=torch.float64, act="softplus_shift", seed=0, n_test=30):
    p = make_problem(n, m, d, dtype, act, seed, n_test)
    y, U0 = randn(p.g, n, dtype=dtype), randn(p.g, m, d, dtype=dtype, scale=0.5)
    return p.taylor, p.test, y, U0, p.g


def oracle_loss(taylor, U, y, model, lam=0.0, penalty=None, bl_lam=0.0, s=None):
    """The objective written with the Taylor model's methods, for torch autograd."""
    Us = U if s is None else s[:, None] * U
    if model == "L":
        f = taylor.f_L(U)
    elif model == "Q":
        f = taylor.f_Q(U)
    elif model == "LQ":
        f = taylor.f_L(Us) + taylor.f_Q(U)
    else:
        f = taylor.f(U)
    loss = (f - y).square().mean()
    if lam:
        loss = loss + lam * penalty.value(taylor.f_L(U))
    if bl_lam:
        loss = loss + bl_lam * en.bl_penalty(U)
    return loss


def autograd_grad(*args, U, **kwargs):
    U = U.clone().requires_grad_(True)
    oracle_loss(args[0], U, *args[1:], **kwargs).backward()
    return U.grad


def one_step_grad(taylor, y, U0, lr=1.0, **kwargs):
    """The trainer's gradient, read off one GD step: grad = (U0 - U1) / lr."""
    h = en.train(taylor, y, lr=lr, steps=1, U0=U0, progress=False, check_lr=False, **kwargs)
    return (U0 - h.U) / lr


@pytest.mark.parametrize("model", en.MODELS)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_fused_gradient_matches_autograd(model, dtype, tol):
    taylor, _, y, U0, _ = setup(dtype=dtype)
    pen = en.R1Penalty.spectral(taylor.gram().double(), 6)
    lam = 0.0 if model == "Q" else 0.7
    kw = dict(model=model, lam=lam, penalty=pen, bl_lam=0.05)
    got = one_step_grad(taylor, y, U0, **kw)
    want = autograd_grad(taylor, y, U=U0, **kw)
    assert (got - want).abs().max() <= tol * want.abs().max()
    assert want.abs().max() > 1e-3


def test_sign_flip_and_minibatch_gradients_match_autograd():
    taylor, _, y, U0, _ = setup()
    got = one_step_grad(taylor, y, U0, model="LQ", sign_flips=True, bl_lam=0.1,
                        generator=torch.Generator().manual_seed(5))
    s = en.random_signs(taylor.m, torch.Generator().manual_seed(5), torch.float64)
    want = autograd_grad(taylor, y, U=U0, model="LQ", bl_lam=0.1, s=s)
    assert (got - want).abs().max() <= 1e-10 * want.abs().max()

    pen = en.R1Penalty.spectral(taylor.gram(), 6)
    got = one_step_grad(taylor, y, U0, model="LQ", lam=0.5, penalty=pen, batch_size=16,
                        generator=torch.Generator().manual_seed(7))
    idx = torch.randperm(taylor.n, generator=torch.Generator().manual_seed(7))[:16]
    batch = en.Taylor(taylor.X[idx], taylor.W0, taylor.a, taylor.act)
    U = U0.clone().requires_grad_(True)
    loss = oracle_loss(batch, U, y[idx], "LQ") + 0.5 * pen.value(taylor.f_L(U))
    loss.backward()
    assert (got - U.grad).abs().max() <= 1e-10 * U.grad.abs().max()


@pytest.mark.parametrize("model", en.MODELS)
def test_loss_decreases(model):
    taylor, _, y, _, g = setup(dtype=torch.float32)
    U0 = en.small_init(taylor.m, taylor.d, g, scale=1.0, dtype=torch.float32)
    lr = en.stable_lr(taylor) * (1.0 if model == "L" else 0.25)   # f_Q needs a margin
    h = en.train(taylor, y, model=model, lr=lr, steps=200, U0=U0, progress=False)
    assert h.train[-1] < 0.5 * h.train[0]
    assert np.all(np.isfinite(h.train))


def test_linear_gd_converges_to_kernel_interpolant():
    """GD on f_L from U = 0 stays in the row space of Phi: it ends at the min-norm interpolant."""
    taylor, test, y, _, _ = setup(n=12, m=32, d=6)           # md = 192 > n: interpolation
    K = taylor.gram()
    h = en.train(taylor, y, model="L", lr=en.stable_lr(K), steps=1500, test=test,
                 y_test=torch.zeros(test.n, dtype=torch.float64), progress=False)
    K_test = en.ntk_gram(test.X, taylor.W0, taylor.a, taylor.act, Y=taylor.X)
    want = en.kernel_ridge(K, y, 0.0, K_test=K_test)
    got = en.predict(test, h.U, "L")
    assert (got - want).abs().max() <= 1e-8 * want.abs().max()
    assert h.final("train") < 1e-16
    assert h.final("test") == pytest.approx(float(want.square().mean()), rel=1e-6)


def test_determinism_and_history():
    taylor, test, y, U0, _ = setup(dtype=torch.float32)
    pen = en.R1Penalty.spectral(taylor.gram().double(), 6)
    kw = dict(model="LQ", lr=0.5, steps=50, U0=U0, test=test, y_test=torch.zeros(test.n),
              penalty=pen, batch_size=20, log_points=8, progress=False)
    h1 = en.train(taylor, y, generator=torch.Generator().manual_seed(3), **kw)
    h2 = en.train(taylor, y, generator=torch.Generator().manual_seed(3), **kw)
    h3 = en.train(taylor, y, generator=torch.Generator().manual_seed(4), **kw)
    assert torch.equal(h1.U, h2.U) and not torch.equal(h1.U, h3.U)
    assert h1.U.dtype == torch.float32 and h1.U.shape == (taylor.m, taylor.d)
    assert h1.steps[0] == 0 and h1.steps[-1] == 50 and np.all(np.diff(h1.steps) > 0)
    assert len(h1.steps) <= 8
    for name in ("train", "objective", "norm_F", "norm_24", "test", "R1"):
        assert getattr(h1, name).shape == h1.steps.shape
    assert h1.final("R1") == pytest.approx(float(pen.value(en.predict(taylor, h1.U, "L"))),
                                           rel=1e-5)
    assert h1.norm_F[0] == pytest.approx(float(U0.norm()), rel=1e-6)
    h4 = en.train(taylor, y, model="L", lr=0.5, steps=7, log_points=2, progress=False)
    assert list(h4.steps) == [0, 7]
    d = h1.as_dict()
    assert set(d) >= {"steps", "train", "test", "R1", "captured", "lr"}
    with pytest.raises(KeyError, match="not logged"):
        h1.final("nope")


def test_sign_flip_training_logs_the_sign_averaged_predictor():
    taylor, _, y, U0, _ = setup()
    h = en.train(taylor, y, model="LQ", lr=0.3, steps=5, U0=U0, sign_flips=True, progress=False,
                 generator=torch.Generator().manual_seed(0))
    fQ = en.predict(taylor, h.U, "Q")
    assert h.final("train") == pytest.approx(float((fQ - y).square().mean()), rel=1e-12)


def test_stability_check_is_the_sharp_bound():
    taylor, _, y, _, _ = setup(n=30, m=16, d=5)
    lam_max = float(torch.linalg.eigvalsh(taylor.gram())[-1]) / taylor.n
    assert en.top_eigenvalue(taylor) == pytest.approx(lam_max, rel=1e-6)
    assert en.stable_lr(taylor) == pytest.approx(0.9 / lam_max, rel=1e-6)
    # below 1/lambda_max GD on f_L converges, above it diverges: the bound is lr lambda_max < 1
    ok = en.train(taylor, y, model="L", lr=0.98 / lam_max, steps=400, progress=False)
    assert ok.final("train") < ok.train[0]
    with pytest.raises(ValueError, match=r"lr \* lambda_max\(K/n\) < 1"):
        en.train(taylor, y, model="L", lr=1.02 / lam_max, steps=400, progress=False)
    with pytest.raises(en.TrainingDiverged, match="diverged at step") as err:
        en.train(taylor, y, model="L", lr=1.1 / lam_max, steps=1000, progress=False,
                 check_lr=False)
    assert err.value.suggested_lr < 1.1 / lam_max and isinstance(err.value, FloatingPointError)


def test_stability_check_with_penalty():
    taylor, _, y, _, g = setup(n=30, m=16, d=5)
    K = taylor.gram()
    pen = en.R1Penalty.spectral(K, 6)
    ev = pen.evals / taylor.n
    lam = 0.95 * float(ev[0] / ev[6])                     # (1 + lam) lambda_7 just below lambda_1
    lr = 0.99 / float(ev[0])
    en.train(taylor, y, model="LQ", lr=lr, steps=2, lam=lam / 2, penalty=pen, progress=False)
    with pytest.raises(ValueError, match=r"lambda_\(n_k\+1\)"):
        en.train(taylor, y, model="LQ", lr=lr, steps=2, lam=2 * lam, penalty=pen, progress=False)
    # the matrix-free estimate of lambda_max(A K/n A) agrees with the spectral shortcut and a dense
    # eigvalsh for a random (non-spectral) subspace
    basis = en.R1Penalty.from_basis(pen.U_k)
    assert en.top_eigenvalue(taylor, 3.0, basis) == pytest.approx(
        en.top_eigenvalue(taylor, 3.0, pen), rel=1e-6)
    rnd = en.R1Penalty.random(taylor.n, 6, g)
    A = torch.eye(taylor.n, dtype=torch.float64)
    A += (2.0 - 1.0) * (A - rnd.U_k @ rnd.U_k.T)          # sqrt(1 + 3) - 1 = 1
    dense = float(torch.linalg.eigvalsh(A @ K @ A / taylor.n)[-1])
    assert en.top_eigenvalue(taylor, 3.0, rnd) == pytest.approx(dense, rel=1e-6)


def test_quadratic_model_from_zero_warns():
    taylor, _, y, _, _ = setup()
    with pytest.warns(UserWarning, match="saddle"):
        h = en.train(taylor, y, model="Q", lr=0.1, steps=3, progress=False)
    assert float(h.U.abs().max()) == 0.0


def test_small_init_scale_and_determinism():
    U = en.small_init(400, 20, torch.Generator().manual_seed(0), scale=0.1)
    assert U.shape == (400, 20) and U.dtype == torch.float64
    assert float(U.norm(dim=1).square().mean()) == pytest.approx((0.1 * 400 ** -0.25) ** 2,
                                                                 rel=0.05)
    assert torch.equal(U, en.small_init(400, 20, torch.Generator().manual_seed(0)))


def test_bad_inputs_raise():
    taylor, test, y, U0, _ = setup()
    kw = dict(model="L", lr=0.1, steps=2, progress=False)
    with pytest.raises(ValueError, match="one label per input"):
        en.train(taylor, y[:-1], **kw)
    with pytest.raises(ValueError, match="unknown model"):
        en.train(taylor, y, **{**kw, "model": "NTK"})
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        en.train(taylor, y, lam=-1.0, **kw)
    with pytest.raises(ValueError, match=r"U0 must have shape \(m, d\)"):
        en.train(taylor, y, U0=U0[:, :-1], **kw)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        en.train(taylor, y, **{**kw, "lr": 0.0})
    with pytest.raises(ValueError, match="needs a penalty"):
        en.train(taylor, y, lam=1.0, **kw)
    with pytest.raises(ValueError, match="sign_flips applies"):
        en.train(taylor, y, sign_flips=True, generator=torch.Generator(), **kw)
    with pytest.raises(ValueError, match="pass generator"):
        en.train(taylor, y, batch_size=10, **kw)
    with pytest.raises(ValueError, match="batch_size = 99 exceeds"):
        en.train(taylor, y, batch_size=99, generator=torch.Generator(), **kw)
    with pytest.raises(ValueError, match="log_points must be >= 2"):
        en.train(taylor, y, log_points=1, **kw)
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        en.train(taylor, y, **{**kw, "steps": -1})
    with pytest.raises(TypeError, match="Taylor"):
        en.train(taylor.X, y, **kw)
    with pytest.raises(ValueError, match="non-finite"):
        en.train(taylor, y * float("inf"), **kw)
    with pytest.raises(ValueError, match="y_test"):
        en.train(taylor, y, test=test, **kw)
    with pytest.raises(ValueError, match="also pass test="):
        en.train(taylor, y, y_test=y, **kw)
    other = en.Taylor(test.X, 2 * taylor.W0, taylor.a, taylor.act)
    with pytest.raises(ValueError, match="same W0 and a"):
        en.train(taylor, y, test=other, y_test=torch.zeros(test.n, dtype=y.dtype), **kw)
    pen = en.R1Penalty.random(taylor.n + 1, 3, torch.Generator())
    with pytest.raises(ValueError, match="built for n"):
        en.train(taylor, y, penalty=pen, **kw)
    with pytest.raises(ValueError, match="no linear term"):
        en.train(taylor, y, lam=1.0, penalty=en.R1Penalty.random(taylor.n, 3, torch.Generator()),
                 **{**kw, "model": "Q"}, U0=U0)


def test_target_gives_relative_test_error_and_captured_fractions():
    g = torch.Generator().manual_seed(0)
    d, n, m = 8, 60, 40
    X, Xt = en.sample_sphere(n, d, g), en.sample_sphere(400, d, g)
    W0, a = en.init_symmetric(m, d, g)
    taylor, test = en.Taylor(X, W0, a, "softplus_shift"), en.Taylor(Xt, W0, a, "softplus_shift")
    beta = en.targets.random_direction(d, g)
    target = en.targets.mix((1.0, en.targets.linear(beta)),
                            (1.0, en.targets.gegenbauer_index(beta, 2)))
    h = en.train(taylor, target(X), model="L", lr=en.stable_lr(taylor), steps=300, test=test,
                 target=target, log_points=5, progress=False)
    yhat = en.predict(test, h.U, "L")
    assert h.final("test") == pytest.approx(float((yhat - target(Xt)).square().mean()) / 2.0,
                                            rel=1e-9)
    assert h.test[0] == pytest.approx(1.0, rel=0.2)              # predicting 0 at the start
    names = [c.name for _, c in target.components]
    assert sorted(h.captured) == sorted(names)
    lin = h.captured[names[0]]
    assert lin.shape == h.steps.shape and lin[0] == 0.0 and lin[-1] > 0.5   # NTK learns degree 1


def test_train_steps_benchmark_section_quick(capsys):
    from escape_ntk import bench
    sec = bench.run(bench.Config.quick(), ["train_steps"])["sections"][0]
    der = sec["derived"]
    for model in en.MODELS:
        assert der[f"grad_rel_err_{model}_f64"] < 1e-10
        assert der[f"grad_rel_err_{model}_f32"] < 1e-4
        assert der[f"speedup_{model}_f32"] > 0
    assert {r["method"] for r in sec["rows"]} >= {"LQ fused", "LQ autograd"}
    assert "train_steps" in capsys.readouterr().out


@pytest.mark.parametrize("model", en.MODELS)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-13), (torch.float32, 1e-5)])
def test_fused_step_forward_matches_taylor(model, dtype, tol):
    """The trainer's fused forward pass (its own copy of f, for speed) equals the Taylor methods."""
    from escape_ntk.train import FusedStep

    taylor, _, y, U0, _ = setup(dtype=dtype)
    step = FusedStep(taylor, model, need_fL=True)
    f, fL = step.forward(step.data, U0.T.contiguous(), None)
    want = taylor.predict(U0, model)
    assert (f - want).abs().max() <= tol * want.abs().max()
    if fL is not None:
        assert (fL - taylor.f_L(U0)).abs().max() <= tol * fL.abs().max()
    s = en.random_signs(taylor.m, torch.Generator().manual_seed(1), dtype)
    if model == "LQ":
        f, _ = step.forward(step.data, U0.T.contiguous(), s)
        want = taylor.f_L(s[:, None] * U0) + taylor.f_Q(U0)
        assert (f - want).abs().max() <= tol * want.abs().max()
    Ut = U0.T.contiguous()
    step.update(Ut, y, 0.1)
    assert (Ut.T - (U0 - 0.1 * autograd_grad(taylor, y, U=U0, model=model))).abs().max() <= tol


def test_learning_rate_error_is_typed():
    taylor, _, y, U0, _ = setup()
    lr = en.stable_lr(taylor)
    with pytest.raises(en.LearningRateError) as err:
        en.train(taylor, y, model="L", lr=3 * lr, steps=1, progress=False)
    assert err.value.lr == 3 * lr and err.value.suggested_lr == pytest.approx(lr, rel=1e-3)
    assert isinstance(err.value, ValueError)
    with pytest.raises(en.LearningRateError, match="factor"):
        en.stable_lr(taylor, factor=-1)
    with pytest.raises(en.LearningRateError, match="lr must be"):
        en.train(taylor, y, model="L", lr=-1.0, steps=1, progress=False)


@pytest.mark.parametrize("act", sorted(en.ACTIVATIONS))
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-13), (torch.float32, 1e-5)])
def test_fused_net_step_every_activation(act, dtype, tol):
    """The network step (sigma' written over sigma in place where the activation allows) equals
    autograd's GD step for every activation, and dsigma_from_sigma_ equals dsigma."""
    from escape_ntk.train import FusedStep

    p = make_problem(n=30, m=12, d=4, dtype=dtype, act=act)
    g = torch.Generator().manual_seed(3)
    y = torch.randn(p.n, generator=g, dtype=torch.float64).to(dtype)
    U0 = (0.3 * torch.randn(p.m, p.d, generator=g, dtype=torch.float64)).to(dtype)
    Ut = U0.T.contiguous()
    f = FusedStep(p.taylor, "net").update(Ut, y, 0.1)
    assert (f - p.taylor.f(U0)).abs().max() <= tol * f.abs().max()
    want = U0 - 0.1 * autograd_grad(p.taylor, y, U=U0, model="net")
    assert (Ut.T - want).abs().max() <= tol * U0.abs().max()
    z = torch.linspace(-3, 3, 61, dtype=dtype)
    act_ = en.activation(act)
    d1 = act_.dsigma_from_sigma_(act_.sigma(z))
    if act in ("tanh", "sigmoid_shift", "relu"):
        assert (d1 - act_.dsigma(z)).abs().max() <= 10 * tol
    else:
        assert d1 is None
