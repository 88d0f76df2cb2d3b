"""Real networks against their Taylor models, and Bai & Lee's sign-flip randomization trained for real.

:func:`taylor_gaps` trains the network f(W0 + U) (model "net"), f_L + f_Q and f_L from one
paired initialization W0 + U0 with one learning rate, with or without R_1 (on the network's own
linear term f_L(X; U) = Phi vec(U)), and measures at checkpoints how far each Taylor model's test
predictions are from the network's, and the Taylor remainders at the network's own movement.

:func:`sign_flip_paths` runs three gradient descents from one start: on the exact sign-averaged
loss of f_L(SU) + f_Q(U) (:func:`escape_ntk.sign_flip_expected_loss`, its gradient
:func:`sign_flip_expected_grad`), on that Taylor model with fresh random signs S each step
(:func:`escape_ntk.train` with ``sign_flips=True``), and on the randomized network itself,
f(W0 + SU) with fresh signs (:func:`sign_flip_net_step`). Chapter: real networks.
"""

from __future__ import annotations

import math

import torch

from ._checks import check_generator, check_labels, check_taylor
from .models import Taylor, norm_24, random_signs
from .regularizers import sign_flip_expected_loss
from .targets import captured
from .train import FusedStep, top_eigenvalue, train

#: The models compared with the network, and the network itself.
GAP_MODELS = ("net", "LQ", "L")


def _rms(v: torch.Tensor) -> float:
    return float(v.double().square().mean().sqrt())


def taylor_gaps(problem, lam: float, checkpoints, lr: float | None = None) -> dict:
    """Train "net", "LQ", "L" from W0 + U0 and compare them; ``problem``: an
    :class:`escape_ntk.experiments.Problem` (its U0 starts all three models).

    ``checkpoints``: increasing step counts starting at 0 (e.g. [0, 50, ..., 800]); GD runs in
    segments between them (bitwise the same as one run, :func:`escape_ntk.train` with
    ``resume``). lr: the problem's common lr, lowered by the penalized bound when lam > 0 (as
    :func:`escape_ntk.experiments.run`). Returns plain lists over checkpoints:

    - ``gap_LQ``, ``gap_L``: RMS over the test inputs of f_model(U_model(t)) - f(U_net(t))
      (relative to ||f*|| = 1 for the book's unit-norm targets): the trajectory gaps;
    - ``rem_LQ``, ``rem_L``: RMS of f(U) - (f_L + f_Q)(U) and f(U) - f_L(U) at U = U_net(t),
      the Taylor remainders at the network's own movement;
    - ``move``: ||U_net||_F / sqrt(m), the RMS per-neuron movement; ``norm_24``: ||U_net||_{2,4};
    - ``test``, ``dense``, ``sparse`` (dicts over models): final relative test error and captured
      fractions of the two target components; ``lr``.

    Cost: 3 x steps GD steps of O(nmd) plus O(n_test m d) per checkpoint.
    """
    checkpoints = [int(c) for c in checkpoints]
    if checkpoints[0] != 0 or any(b <= a for a, b in zip(checkpoints, checkpoints[1:],
                                                          strict=False)):
        raise ValueError(f"checkpoints must start at 0 and increase; got {checkpoints}.")
    s, pen = problem.setting, problem.penalty
    if lr is None:
        lr = problem.lr
        if lam > 0:
            lr = min(lr, s.lr_factor / top_eigenvalue(problem.taylor, lam, pen))
    test = problem.test
    preds: dict[str, list] = {k: [] for k in GAP_MODELS}
    U_net: list[torch.Tensor] = []
    finals = {}
    for model in GAP_MODELS:
        h, U = None, problem.U0
        for a, b in zip([0] + checkpoints[:-1], checkpoints, strict=True):
            if b > a:
                h = train(problem.taylor, problem.y, model=model, lr=lr, steps=b - a, lam=lam,
                          penalty=pen, U0=U if h is None else None, resume=h, log_points=2,
                          progress=False)
                if h.interrupted:            # Ctrl-C: stop, never measure a half-trained run
                    raise KeyboardInterrupt
                U = h.U
            preds[model].append(test.predict(U, model))
            if model == "net":
                U_net.append(U)
        finals[model] = preds[model][-1]
    out = {"lr": float(lr),
           "gap_LQ": [_rms(q - f) for q, f in zip(preds["LQ"], preds["net"], strict=True)],
           "gap_L": [_rms(q - f) for q, f in zip(preds["L"], preds["net"], strict=True)]}
    rem_LQ, rem_L, move, n24 = [], [], [], []
    for U, f in zip(U_net, preds["net"], strict=True):
        fL, fLQ = test.predict(U, "L"), test.predict(U, "LQ")
        rem_LQ.append(_rms(f - fLQ))
        rem_L.append(_rms(f - fL))
        move.append(float(U.double().norm()) / math.sqrt(problem.setting.m))
        n24.append(float(norm_24(U.double())))
    out.update(rem_LQ=rem_LQ, rem_L=rem_L, move=move, norm_24=n24)
    y_test = problem.target(test.X)
    var = problem.target.norm ** 2
    out["test"] = {k: float((finals[k] - y_test).double().square().mean()) / var
                   for k in GAP_MODELS}
    caps = {k: captured(finals[k], test.X, problem.target) for k in GAP_MODELS}
    names = [c.name for _, c in problem.target.components]
    out["dense"] = {k: float(caps[k][names[0]]) for k in GAP_MODELS}
    out["sparse"] = {k: float(caps[k][names[1]]) for k in GAP_MODELS}
    return out


def sign_flip_expected_grad(taylor: Taylor, U, y) -> torch.Tensor:
    """Gradient in U (m, d) of :func:`escape_ntk.sign_flip_expected_loss`:

        (1/n) sum_i [(f_Q(x_i; U) - y_i)^2 + sum_r S1_ir^2 (u_r . x_i)^2]
        -> grad u_r = (2/n) sum_i [(f_Q - y)_i S2_ir + S1_ir^2] (u_r . x_i) x_i,

    S1 = a * sigma'(Z0), S2 = a * sigma''(Z0). Two O(nmd) GEMMs, O(nm) memory.
    """
    check_taylor(taylor)
    y = check_labels(y, taylor.n, "y", taylor.X.dtype, what="the Taylor model has")
    U = taylor.check_movement(U, cast=True)
    Z = taylor.X @ U.T
    r = (taylor._f_Q(Z) - y) * (2.0 / taylor.n)
    G = (r[:, None] * taylor.S2 + (2.0 / taylor.n) * taylor.S1.square()) * Z
    return G.T @ taylor.X


def sign_flip_net_step(taylor: Taylor, step: FusedStep, Ut: torch.Tensor, y: torch.Tensor,
                       s: torch.Tensor, lr: float) -> float:
    """One GD step on the randomized network's loss (1/n)||f(X; W0 + diag(s) U) - y||^2, in place.

    Ut = U^T (d, m); ``step`` a FusedStep(taylor, "net"); the gradient in U is diag(s) times the
    network's gradient at the movement diag(s) U. Returns the loss before the step. O(nmd).
    """
    Us = Ut * s
    f, _ = step.forward(step.data, Us, None)
    res = f - y
    loss = float(res @ res) / y.shape[0]
    g = step.backward(step.data, res.mul_(2.0 / y.shape[0]), None)
    Ut.sub_(g.mul_(s), alpha=lr)
    return loss


def sign_flip_paths(taylor: Taylor, y, U0, lr: float, checkpoints, generator: torch.Generator,
                    paths=("expected", "taylor", "net")) -> dict:
    """Exact sign-averaged loss E_S (1/n)||f_L(SU) + f_Q(U) - y||^2 along three GD paths from U0.

    'expected': GD on that exact loss (deterministic); 'taylor': GD on f_L(S_t U) + f_Q(U) with
    fresh signs S_t each step (:func:`escape_ntk.train`, ``sign_flips=True``), an unbiased
    stochastic gradient of the same loss; 'net': GD on the randomized network f(W0 + S_t U) with
    fresh signs. Signs come from ``generator`` (the 'taylor' path first, then 'net').
    Returns {path: [loss at each checkpoint]} (float64 values). Cost: len(paths) x steps x O(nmd).
    """
    check_taylor(taylor)
    generator = check_generator(generator)
    y = check_labels(y, taylor.n, "y", taylor.X.dtype, what="the Taylor model has")
    checkpoints = [int(c) for c in checkpoints]
    out: dict[str, list] = {}
    for path in paths:
        U = taylor.check_movement(U0, "U0", cast=True).clone()
        losses, t, h = [], 0, None
        Ut = U.T.contiguous()
        step = FusedStep(taylor, "net") if path == "net" else None
        for c in checkpoints:
            if path == "expected":
                for _ in range(c - t):
                    U.sub_(sign_flip_expected_grad(taylor, U, y), alpha=lr)
            elif path == "taylor" and c > t:
                h = train(taylor, y, model="LQ", lr=lr, steps=c - t, sign_flips=True,
                          generator=generator, U0=U if h is None else None, resume=h,
                          log_points=2, progress=False)
                if h.interrupted:
                    raise KeyboardInterrupt
                U = h.U
            elif path == "net":
                for _ in range(c - t):
                    sign_flip_net_step(taylor, step, Ut, y, random_signs(taylor.m, generator,
                                                                         Ut.dtype), lr)
                U = Ut.T
            elif path not in ("expected", "taylor"):
                raise ValueError(f"unknown path {path!r}; use 'expected', 'taylor' or 'net'.")
            t = c
            losses.append(float(sign_flip_expected_loss(taylor, U, y)))
        out[path] = losses
    return out


def power_fit(x, Y, generator: torch.Generator | None = None, n_boot: int = 2000) -> dict:
    """Fit log y = c + b log x to the seed means and bootstrap the exponent b over seeds.

    x (k,) positive; Y (seeds, k) positive, row s = one seed's values at every x (a NaN marks a
    missing value; a column needs one finite entry). Each bootstrap draw resamples the seeds
    (rows) with replacement, independently per column, refits b on the log of the column means.
    Returns {'slope', 'intercept', 'std' (bootstrap std of b), 'lo', 'hi' (2.5 and 97.5
    percentiles)}. Cost O(n_boot seeds k).
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    Y = torch.as_tensor(Y, dtype=torch.float64)
    if Y.ndim != 2 or Y.shape[1] != x.shape[0] or x.shape[0] < 2:
        raise ValueError(f"Y must be (seeds, k) with k = len(x) >= 2 points; got Y "
                         f"{tuple(Y.shape)}, x {tuple(x.shape)}.")
    if bool((x <= 0).any()) or bool((Y[~Y.isnan()] <= 0).any()):
        raise ValueError("power_fit needs positive x and Y (it fits on log-log axes).")
    generator = check_generator(generator)
    lx = x.log()

    def fit(means: torch.Tensor) -> tuple[float, float]:
        A = torch.stack([torch.ones_like(lx), lx], dim=1)
        sol = torch.linalg.lstsq(A, means.log()[:, None]).solution[:, 0]
        return float(sol[1]), float(sol[0])

    b, c = fit(Y.nanmean(dim=0))
    s = Y.shape[0]
    idx = torch.randint(0, s, (n_boot, s, Y.shape[1]), generator=generator)
    boots = torch.gather(Y.expand(n_boot, -1, -1), 1, idx).nanmean(dim=1)     # (n_boot, k)
    slopes = torch.tensor([fit(row)[0] for row in boots if not bool(row.isnan().any())],
                          dtype=torch.float64)
    return {"slope": b, "intercept": c, "std": float(slopes.std()),
            "lo": float(slopes.quantile(0.025)), "hi": float(slopes.quantile(0.975))}
