"""Full-batch gradient descent on the first layer, for the NTK, QuadNTK, combined and full models.

Models (all from the same W0 and the same :class:`~escape_ntk.Taylor` object at the training
inputs): "L" = f_L (NTK), "Q" = f_Q (QuadNTK), "LQ" = f_L + f_Q, "net" = the network f(W0 + U).
The objective is

    (1/n) ||f(X; U) - y||^2 + lam R_1(U) + bl_lam ||U||_{2,4}^8.

Gradients are hand-written and fused (:class:`FusedStep`): with Z = X U^T, r = (2/n)(f - y) and
g = lam dR_1/df_L, grad = ((r + g) * S1 + r * S2 * Z)^T X: two O(nmd) GEMMs and a few elementwise
passes over two preallocated n x m buffers per step; the n x md Jacobian is never formed. The
fused step is the one performance path that does not call the Taylor methods; the unit tests check
it against them. Chapters: QuadNTK, the combined experiment.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from ._checks import (
    LearningRateError,
    as_tensor,
    check_degree,
    check_generator,
    check_labels,
    check_nonneg,
    check_positive_int,
    check_real,
    check_taylor,
)
from .blocked import BlockedStep
from .models import MODELS, Taylor, norm_24, random_signs, small_init
from .regularizers import R1Penalty
from .spectra import top_eigh
from .targets import captured, relative_mse

__all__ = ["MODELS", "FusedStep", "History", "LearningRateError", "TrainingDiverged", "predict",
           "small_init", "stable_lr", "top_eigenvalue", "train"]

_LINEAR = ("L", "LQ", "net")          # models with a linear term (their lr is bounded by K/n)
_BLOWUP = 1e6                         # divergence: loss above this factor times its initial value


class TrainingDiverged(FloatingPointError):
    """The loss became non-finite or exploded.

    ``step``, ``loss``, ``lr``, ``suggested_lr`` say where and what to try; ``U`` is the last finite
    movement (m, d) and ``U_step`` its step; ``history`` the :class:`History` logged so far (with
    ``U`` set to that last finite movement), so a long run's progress is not lost.
    """

    def __init__(self, step: int, loss: float, lr: float, suggested_lr: float,
                 U: torch.Tensor | None = None, U_step: int | None = None,
                 history: History | None = None):
        self.step, self.loss, self.lr, self.suggested_lr = step, loss, lr, suggested_lr
        self.U, self.U_step, self.history = U, U_step, history
        super().__init__(f"training diverged at step {step}: loss = {loss:.3g} with lr = {lr:.3g}; "
                         f"try a smaller learning rate, e.g. lr = {suggested_lr:.3g}.")


@dataclass
class History:
    """What :func:`train` logged at ``steps`` (log-spaced, 0 and the last step included).

    ``train``: training MSE; ``test``: test error (relative to Var f* when a target was given) or
    None; ``R1``: R_1(U) (when a penalty was given) or None; ``objective``: MSE + lam R_1 +
    bl_lam ||U||_{2,4}^8; ``norm_F``, ``norm_24``: ||U||_F, ||U||_{2,4}; ``captured``: per target
    component, the captured fraction on the test set; ``U``: the final movement (m, d);
    ``interrupted``: True when the run was stopped early (Ctrl-C), with ``U`` at the last step.
    Steps count from the start of the first run when training was resumed (``train(resume=h)``).
    """

    model: str
    lr: float
    lam: float
    steps: np.ndarray
    train: np.ndarray
    objective: np.ndarray
    norm_F: np.ndarray
    norm_24: np.ndarray
    test: np.ndarray | None = None
    R1: np.ndarray | None = None
    captured: dict[str, np.ndarray] = field(default_factory=dict)
    U: torch.Tensor | None = None
    interrupted: bool = False

    _SERIES = ("train", "objective", "norm_F", "norm_24", "test", "R1")

    @property
    def last_step(self) -> int:
        """The step of ``U`` (the last logged step)."""
        return int(self.steps[-1]) if len(self.steps) else 0

    def final(self, name: str) -> float:
        """The last logged value of a series ('train', 'test', 'R1', ...) or captured component."""
        series = getattr(self, name, None) if name in self._SERIES else self.captured.get(name)
        if series is None:
            have = [s for s in self._SERIES if getattr(self, s) is not None] + list(self.captured)
            raise KeyError(f"{name!r} was not logged; logged: {have}.")
        return float(series[-1])

    def as_dict(self) -> dict:
        """Plain dict: steps, every logged series (NumPy), captured as a dict, model, lr, lam."""
        out = {"model": self.model, "lr": self.lr, "lam": self.lam, "steps": self.steps}
        out.update({s: getattr(self, s) for s in self._SERIES if getattr(self, s) is not None})
        out["captured"] = dict(self.captured)
        return out


def predict(taylor: Taylor, U, model: str = "LQ") -> torch.Tensor:
    """Predictions (n,) of `model` at the Taylor object's inputs with movement U (m, d).

    The same as ``taylor.predict(U, model)``: "L" f_L, "Q" f_Q, "LQ" f_L + f_Q, "net" the network.
    O(nmd) flops, O(nm) memory ("L": O(nd)).
    """
    check_taylor(taylor)
    return taylor.predict(U, model)


def _check_model(model) -> str:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {MODELS} "
                         f"(f_L, f_Q, f_L + f_Q, the full network).")
    return model


def _check_penalty(taylor: Taylor, lam, penalty) -> float:
    """lam >= 0, and a penalty (if any) an R1Penalty built for the taylor's n inputs."""
    lam = check_nonneg(lam, "lam")
    if penalty is not None:
        if not isinstance(penalty, R1Penalty):
            raise TypeError(f"penalty must be an en.R1Penalty; got {type(penalty).__name__}.")
        if penalty.n != taylor.n:
            raise ValueError(f"the penalty was built for n = {penalty.n} inputs but the training "
                             f"set has n = {taylor.n}; build it from this training Gram.")
    return lam


def top_eigenvalue(taylor: Taylor, lam: float = 0.0, penalty: R1Penalty | None = None) -> float:
    """lambda_max(A (K/n) A) with A = I + (sqrt(1 + lam) - 1)(I - U_k U_k^T), K the training Gram.

    A = I (no penalty) gives lambda_max(K/n): the linear term's GD is stable iff lr < 1/this value.
    Matrix-free Lanczos (scipy eigsh on K v = Phi Phi^T v, with the Taylor object's products): about
    20-60 products of O(nmd) each; never forms K. Exact shortcut for a spectral penalty:
    max(lambda_1, (1 + lam) lambda_{n_k+1}).
    """
    check_taylor(taylor)
    lam = _check_penalty(taylor, lam, penalty)
    n = taylor.n
    if penalty is not None and penalty.evals is not None:
        ev = penalty.evals / n
        tail = float(ev[penalty.n_k]) if penalty.n_k < n else 0.0
        return max(float(ev[0]), (1.0 + lam) * tail)
    dtype = taylor.X.dtype
    c = math.sqrt(1.0 + lam) - 1.0 if penalty is not None else 0.0
    B = penalty.U_k if c else None

    def A(v: torch.Tensor) -> torch.Tensor:
        return v if not c else v + c * (v - B @ (B.T @ v))

    def matvec(v: np.ndarray) -> np.ndarray:
        w = A(torch.from_numpy(np.ascontiguousarray(v).reshape(-1)))
        Kw = taylor._f_L(taylor._rmatvec(w.to(dtype))).double() / n     # Phi Phi^T w / n
        return A(Kw).numpy()

    import scipy.sparse.linalg as sla  # lazy: ~0.15 s to import

    op = sla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    val = sla.eigsh(op, k=1, which="LA", v0=np.ones(n), tol=1e-6,
                    return_eigenvectors=False)
    return float(val[0])


def stable_lr(taylor_or_K, factor: float = 0.9) -> float:
    """The calibrated learning rate factor / lambda_max(K/n), 0 < factor < 1.

    GD on the linear term's square loss (Hessian 2K/n) converges iff lr lambda_max(K/n) < 1, the
    condition :func:`train` checks. Accepts a :class:`Taylor` (matrix-free Lanczos, see
    :func:`top_eigenvalue`) or the Gram K (n, n) (float64 Lanczos via ``spectra.top_eigh``).
    """
    factor = check_real(factor, "factor")
    if not 0 < factor < 1:
        raise LearningRateError(f"factor must lie in (0, 1): lr = factor / lambda_max(K/n) makes GD "
                                f"on the linear term converge only then; got factor = {factor!r}.",
                                bound="0 < factor < 1")
    if isinstance(taylor_or_K, Taylor):
        lam_max = top_eigenvalue(taylor_or_K)
    else:
        K = as_tensor(taylor_or_K, "K", ndim=2)
        lam_max = float(top_eigh(K, 1)[0][0]) / K.shape[0]
    if not lam_max > 0:
        raise ValueError(f"lambda_max(K/n) = {lam_max:.3g} is not positive, so no learning rate is "
                         f"calibrated by it; check that K is an NTK Gram (PSD, nonzero).")
    return factor / lam_max


def _log_steps(steps: int, points: int) -> np.ndarray:
    """0 plus `points - 1` log-spaced steps in [1, steps] (deduplicated; the last step included)."""
    if steps == 0:
        return np.zeros(1, dtype=np.int64)
    grid = np.geomspace(1, steps, points - 1) if points > 2 else np.array([steps])
    return np.concatenate([[0], np.unique(np.round(grid).astype(np.int64))])


class FusedStep:
    """f and the fused gradient of one GD step, with the n x m work buffers allocated once.

    The trainer's hot path, public so that benchmarks and tests can drive single steps
    (:meth:`update`). Works on the transposed movement Ut = U^T (d, m) and the data
    D = (X, S1, S2, Z0) of a Taylor object (or a row subset of it). Per step two O(nmd) GEMMs,
    Z = X Ut and grad^T = (r X)^T G, plus a few elementwise passes over preallocated n x m buffers
    (the thin rowsum(X * (S U)) GEMM is slower than an elementwise pass here, so row sums are
    elementwise). "LQ" uses V = S1 + S2 Z / 2: f = rowsum(Z * V) and G = S1 + S2 Z = 2 V - S1, so
    the whole step is Z, V, Z * V, V - S1/2 and the two GEMMs. "net" adds sigma over n x m and sigma'
    written over it in place (``Activation.dsigma_from_sigma_``: tanh, sigmoid_shift, relu), so one
    transcendental pass per step, as in autograd; other activations evaluate sigma'(Z) too.
    """

    def __init__(self, taylor: Taylor, model: str, need_fL: bool = False):
        check_taylor(taylor)
        self.model, self.need_fL = _check_model(model), need_fL
        self.a, self.act = taylor.a, taylor.act
        self.m, self.dtype = taylor.m, taylor.X.dtype
        self.data = (taylor.X, taylor.S1, taylor.S2, taylor.Z0)
        self._buf: dict[str, torch.Tensor] = {}

    def buffer(self, name: str, rows: int) -> torch.Tensor:
        B = self._buf.get(name)
        if B is None or B.shape[0] != rows:
            B = self._buf[name] = torch.empty(rows, self.m, dtype=self.dtype)
        return B

    def forward(self, D, Ut: torch.Tensor, s: torch.Tensor | None):
        """(f, f_L) at the data D = (X, S1, S2, Z0); f_L is None unless model or penalty need it.

        s (m,): Bai-Lee signs on the movement in the linear term, f_L(SU) + f_Q(U) (model "LQ").
        """
        X, S1, S2, Z0 = D
        model, rows = self.model, X.shape[0]
        Z = self.buffer("Z", rows)
        if model == "net":
            torch.addmm(Z0, X, Ut, out=Z)
            fL = (X * (S1 @ Ut.T)).sum(dim=1) if self.need_fL else None
            sig = self.act.sigma(Z)                           # one transcendental pass
            f = sig @ self.a
            D1 = self.act.dsigma_from_sigma_(sig)             # sigma' over sigma, in place
            self.D1 = self.act.dsigma(Z) if D1 is None else D1
            return f, fL
        torch.mm(X, Ut, out=Z)
        if model == "L":
            f = Z.mul_(S1).sum(dim=1)
            return f, f
        V = self.buffer("V", rows)
        if model == "Q":
            torch.mul(S2, Z, out=V)                              # S2 Z, kept for backward
            return Z.mul_(V).sum(dim=1).mul_(0.5), None
        fL = torch.mul(S1, Z, out=self.buffer("B", rows)).sum(dim=1) if self.need_fL else None
        S1s = S1 if s is None else torch.mul(S1, s, out=self.buffer("B", rows))
        torch.addcmul(S1s, S2, Z, value=0.5, out=V)           # V = S1 + S2 Z / 2
        f = Z.mul_(V).sum(dim=1)                              # f_L + f_Q
        V.add_(S1s, alpha=-0.5)                               # V = (S1 + S2 Z) / 2 = df/dZ / 2
        return f, fL

    def backward(self, D, r: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """grad^T (d, m) of <r, f> + <g, f_L> (g: the penalty's gradient in f_L), after forward."""
        X, S1 = D[0], D[1]
        model = self.model
        if model == "L":
            return torch.mm(((r if g is None else r + g)[:, None] * X).T, S1)
        if model == "net":
            grad = torch.mm((r[:, None] * X).T, self.D1).mul_(self.a)
            return grad if g is None else grad.addmm_((g[:, None] * X).T, S1)
        V = self._buf["V"]
        if model == "Q":
            return torch.mm((r[:, None] * X).T, V)
        if g is None:
            return torch.mm((2.0 * r[:, None] * X).T, V)
        V.mul_(2.0 * r[:, None]).addcmul_(S1, g[:, None])
        return torch.mm(X.T, V)

    def update(self, Ut: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        """One plain GD step on (1/n)||f - y||^2 in place: Ut <- Ut - lr grad^T; returns f (n,)."""
        f, _ = self.forward(self.data, Ut, None)
        out = f.clone()
        r = (f - y).mul_(2.0 / y.shape[0])
        Ut.sub_(self.backward(self.data, r, None), alpha=lr)
        return out


@dataclass
class _TrainArgs:
    """train()'s arguments after validation (see :func:`_validate_train`)."""

    y: torch.Tensor
    model: str
    lr: float
    steps: int
    lam: float
    bl_lam: float
    log_points: int
    batch_size: int | None
    U: torch.Tensor
    start: int
    test: Taylor | None
    y_test: torch.Tensor | None


def _validate_train(taylor, y, model, lr, steps, lam, penalty, U0, test, y_test, target,
                    log_points, sign_flips, bl_lam, batch_size, generator, resume) -> _TrainArgs:
    """Every argument check of :func:`train`, with an error that names the problem and the fix."""
    check_taylor(taylor)
    model = _check_model(model)
    n, m, d, dtype = taylor.n, taylor.m, taylor.d, taylor.X.dtype
    y = check_labels(y, n, "y", dtype, what="the Taylor model has",
                     per="input (the training set)")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise LearningRateError(f"lr must be a finite number > 0; got lr = {lr!r} "
                                f"(see en.stable_lr).", lr=lr)
    steps = check_degree(steps, "steps")
    lam = _check_penalty(taylor, lam, penalty)
    bl_lam = check_nonneg(bl_lam, "bl_lam")
    log_points = check_positive_int(log_points, "log_points")
    if log_points < 2:
        raise ValueError(f"log_points must be >= 2 (the first and the last step); "
                         f"got {log_points}.")
    if lam > 0 and penalty is None:
        raise ValueError(f"lam = {lam} > 0 needs a penalty, e.g. "
                         f"penalty=en.R1Penalty.spectral(taylor.gram(), n_k).")
    if lam > 0 and model == "Q":
        raise ValueError("model 'Q' has no linear term, so R_1 does not act on it; use lam = 0 "
                         "(the penalty is still logged when given).")
    if sign_flips:
        if model != "LQ":
            raise ValueError(f"sign_flips applies to the Taylor model 'LQ' (f_L(SU) + f_Q(U)); "
                             f"got model = {model!r}.")
        if lam > 0:
            raise ValueError("sign_flips=True randomizes the linear term, which R_1 would "
                             "penalize; use lam = 0 (Bai-Lee pair sign flips with bl_lam instead).")
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
        if batch_size > n:
            raise ValueError(f"batch_size = {batch_size} exceeds n = {n}; use batch_size <= n or "
                             f"None for full-batch GD.")
        batch_size = None if batch_size == n else batch_size
    generator = check_generator(generator)
    if (sign_flips or batch_size) and generator is None:
        raise ValueError("sign flips and mini-batches draw random numbers: pass "
                         "generator=torch.Generator().manual_seed(seed).")
    start = 0
    if resume is not None:
        if not isinstance(resume, History) or resume.U is None:
            raise TypeError(f"resume must be the History of an earlier train() call; got "
                            f"{type(resume).__name__}.")
        if U0 is not None:
            raise ValueError("pass either U0 or resume (which starts from resume.U), not both.")
        if resume.model != model:
            raise ValueError(f"resume is a History of model {resume.model!r}, not {model!r}; "
                             f"resume with model={resume.model!r}.")
        U0, start = resume.U, resume.last_step
    if U0 is None:
        U = torch.zeros(m, d, dtype=dtype)
    else:
        U = taylor.check_movement(U0, "U0", cast=True).clone()
    if model == "Q" and not bool(U.any()):
        warnings.warn("grad f_Q = 0 at U = 0 (a saddle), so model 'Q' would not move; start from "
                      "a small random movement, U0 = en.small_init(m, d, generator).", stacklevel=3)
    if test is None and (y_test is not None or target is not None):
        raise ValueError("y_test and target are evaluated on the test set; also pass "
                         "test=en.Taylor(X_test, W0, a, act).")
    if test is not None:
        check_taylor(test, "test")
        if test.X.dtype != dtype:
            raise TypeError(f"test is a {test.X.dtype} Taylor model but the training one is "
                            f"{dtype}; build both in one dtype.")
        if test.m != m or test.d != d or not (torch.equal(test.W0, taylor.W0)
                                              and torch.equal(test.a, taylor.a)):
            raise ValueError("test must be a Taylor model with the same W0 and a as the training "
                             "one, e.g. en.Taylor(X_test, W0, a, act).")
        if y_test is None:
            if target is None:
                raise ValueError("with test, pass y_test (labels at test.X) or target.")
            y_test = target(test.X)
        y_test = check_labels(y_test, test.n, "y_test", dtype, what="test has",
                              per="test input")
    return _TrainArgs(y, model, float(lr), steps, lam, bl_lam, log_points, batch_size, U, start,
                      test, y_test)


def train(taylor: Taylor, y, *, model: str, lr: float, steps: int, lam: float = 0.0,
          penalty: R1Penalty | None = None, U0=None, test: Taylor | None = None, y_test=None,
          target=None, log_points: int = 30, sign_flips: bool = False, bl_lam: float = 0.0,
          batch_size: int | None = None, generator: torch.Generator | None = None,
          progress: bool = True, check_lr: bool = True, resume: History | None = None,
          block_rows: int | None = None) -> History:
    """Gradient descent on the movement U for `model` in {"L", "Q", "LQ", "net"}; returns a History.

    Objective (1/n)||f(X; U) - y||^2 + lam R_1(U) + bl_lam ||U||_{2,4}^8, from U0 (default 0;
    use :func:`small_init` for "Q"/"LQ"), `steps` updates U <- U - lr grad. Full batch, or
    mini-batches of `batch_size` drawn with `generator` (R_1 then still uses all n inputs).
    `sign_flips=True` (model "LQ"): Bai-Lee training of f_L(SU) + f_Q(U) with fresh signs S each
    step; the logged losses are then those of the sign-averaged predictor E_S f = f_Q(U). `test` is
    a Taylor at test inputs (same W0, a, act) with labels `y_test` (or `target`, an escape_ntk
    Target, evaluated there); with a target the test error is relative to Var f* and the captured
    fraction of each component is logged. Runs in the Taylor object's dtype; deterministic given
    `generator` (one draw of signs or of a permutation per update, none for the final evaluation).
    Same seed, same bits on 1 and 2 threads in float64; in float32 too, except when the output of
    the gradient GEMM (d x m) is so small that MKL splits its reduction over the n inputs across
    threads, where runs agree to rounding (1 ulp per step; tests/test_long_runs.py).

    Resuming: ``train(..., resume=h, generator=g)`` continues from ``h.U`` with the step count going
    on from ``h.last_step``; with the same generator object, T1 steps then T2 resumed steps give
    bitwise the same U as one run of T1 + T2 steps. Ctrl-C (KeyboardInterrupt) stops the run and
    returns the History so far, with ``interrupted=True`` and ``U`` at the step reached. The
    progress bar (``progress``) shows the current loss.

    ``block_rows`` (model "LQ", full batch, no sign flips or bl_lam): take each step with the
    row-blocked :class:`escape_ntk.blocked.BlockedStep` (f_L first, then one pass over blocks of
    that many rows; no n x m array written): the same iterates up to rounding, faster at large n m.

    Stability (`check_lr`): for models with a linear term, lr * lambda_max(K/n) < 1, and with the
    penalty lr * (1 + lam) * lambda_{n_k+1}(K/n) < 1, else :class:`LearningRateError` (a
    ValueError) with a suggested lr. A loss that becomes non-finite or exceeds 1e6 x its start
    raises :class:`TrainingDiverged`, carrying the last finite U and the History so far. Cost per
    step: O(nmd) flops (two GEMMs) plus a few O(nm) passes; O(nm) memory.
    """
    args = _validate_train(taylor, y, model, lr, steps, lam, penalty, U0, test, y_test, target,
                           log_points, sign_flips, bl_lam, batch_size, generator, resume)
    model, lr, lam, bl_lam, batch_size = args.model, args.lr, args.lam, args.bl_lam, args.batch_size
    y, steps, start = args.y, args.steps, args.start
    n, m, dtype = taylor.n, taylor.m, taylor.X.dtype
    if check_lr and model in _LINEAR and not sign_flips:
        _check_stability(taylor, lr, lam, penalty)

    log_at = start + _log_steps(steps, args.log_points)
    logger = _Logger(taylor, y, model, lam, bl_lam, penalty, args.test, args.y_test, target,
                     sign_flips)
    step = FusedStep(taylor, model, need_fL=lam > 0 and not batch_size)
    blocked = None
    if block_rows is not None:
        if model != "LQ" or sign_flips or batch_size or bl_lam:
            raise ValueError("block_rows applies to full-batch training of model 'LQ' without "
                             "sign flips or bl_lam; drop block_rows or those options.")
        blocked = BlockedStep(taylor, penalty.U_k if penalty is not None else None,
                              block_rows=block_rows)
    full = step.data
    Ut = args.U.T.contiguous()
    prev = torch.empty_like(Ut)
    stochastic = sign_flips or bool(batch_size)
    threshold = None
    next_log = 0
    cur = start                                   # the step of the movement held in Ut
    bar = tqdm(total=steps, desc=f"train {model}", disable=not progress, leave=False)
    try:
        for t in range(start, start + steps + 1):
            last = t == start + steps
            s, D, yb = None, full, y
            if stochastic and not last:           # no draw for the final evaluation: exact resume
                if sign_flips:
                    s = random_signs(m, generator, dtype)
                if batch_size:
                    idx = torch.randperm(n, generator=generator)[:batch_size]
                    D, yb = tuple(A[idx] for A in full), y[idx]
            U_at = Ut
            if blocked is not None and not last:  # one fused call: values at t, then the update
                prev.copy_(Ut)
                out = blocked.step(Ut, yb, lr, lam)
                f, fL, U_at = out["f"], out.get("fL"), prev
            else:
                f, fL = step.forward(D, Ut, s)
            res = f - yb
            mse = float(res @ res) / yb.shape[0]
            if threshold is None:
                threshold = _BLOWUP * max(mse, float(y @ y) / n, 1e-12)
            if not math.isfinite(mse) or mse > threshold:
                raise _diverged(t, start, mse, lr, U_at, prev, logger)
            if t == log_at[next_log]:
                exact = None if stochastic else (f, fL)
                logger.log(t, U_at, exact)
                next_log += 1
                if progress:
                    bar.set_postfix_str(f"loss {mse:.3e}")
            if last:
                break
            if blocked is not None:
                cur = t + 1
                bar.update(1)
                continue
            r = res.mul_(2.0 / yb.shape[0])
            gpen = lam * penalty.grad_fL(fL) if lam > 0 and not batch_size else None
            g = step.backward(D, r, gpen)
            if lam > 0 and batch_size:
                gp = lam * penalty.grad_fL(taylor._f_L(Ut.T))
                g.addmm_((gp[:, None] * taylor.X).T, taylor.S1)
            if bl_lam > 0:
                sq = Ut.square().sum(dim=0)
                g.add_(Ut * sq, alpha=bl_lam * 8.0 * float(sq @ sq))
            prev.copy_(Ut)
            Ut.sub_(g, alpha=lr)
            cur = t + 1
            if progress:
                bar.set_postfix_str(f"loss {mse:.3e}", refresh=False)
            bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        if not logger.rows["steps"] or logger.rows["steps"][-1] != cur:
            logger.log(cur, Ut, None)
        warnings.warn(f"training interrupted at step {cur} of {start + steps}; returning the "
                      f"History so far (interrupted=True).", RuntimeWarning, stacklevel=2)
        return logger.history(lr, Ut.T.contiguous(), interrupted=True)
    finally:
        bar.close()
    return logger.history(lr, Ut.T.contiguous())


def _diverged(t: int, start: int, mse: float, lr: float, Ut: torch.Tensor, prev: torch.Tensor,
              logger: _Logger) -> TrainingDiverged:
    """The TrainingDiverged of step t, with the last finite movement and the History so far."""
    if bool(torch.isfinite(Ut).all()):
        U, U_step = Ut.T.clone(), t
    elif t > start:
        U, U_step = prev.T.clone(), t - 1
    else:
        U, U_step = None, None
    hist = logger.history(lr, U) if logger.rows["steps"] else None
    return TrainingDiverged(t, mse, lr, lr / 4, U=U, U_step=U_step, history=hist)


def _check_stability(taylor: Taylor, lr: float, lam: float, penalty: R1Penalty | None) -> None:
    """Raise LearningRateError unless GD on the linear term is stable: lr lambda_max(A K/n A) < 1."""
    lam_eff = top_eigenvalue(taylor, lam if penalty is not None else 0.0, penalty)
    if lr * lam_eff < 1.0:
        return
    suggestion = 0.9 / lam_eff
    if penalty is not None and lam > 0 and penalty.evals is not None:
        ev = penalty.evals / taylor.n
        if lr * float(ev[0]) >= 1.0:
            bound = f"lr * lambda_max(K/n) < 1 (lambda_max(K/n) = {float(ev[0]):.4g})"
        else:
            bound = (f"lr * (1 + lam) * lambda_(n_k+1)(K/n) < 1 (lam = {lam:g}, "
                     f"lambda_(n_k+1)(K/n) = {float(ev[penalty.n_k]):.4g})")
    elif penalty is not None and lam > 0:
        bound = f"lr * lambda_max(A K/n A) < 1 with the penalty (= {lam_eff:.4g})"
    else:
        bound = f"lr * lambda_max(K/n) < 1 (lambda_max(K/n) = {lam_eff:.4g})"
    raise LearningRateError(f"lr = {lr:.4g} makes gradient descent on the linear term diverge: it "
                            f"needs {bound}. Use lr <= {suggestion:.4g} (0.9 x the bound; "
                            f"en.stable_lr), or pass check_lr=False to watch it diverge.",
                            lr=lr, suggested_lr=suggestion, bound=bound)


class _Logger:
    """Collects the History series at the log points (O(nmd) per point, train and test)."""

    def __init__(self, taylor, y, model, lam, bl_lam, penalty, test, y_test, target, sign_flips):
        self.taylor, self.y, self.model = taylor, y, model
        self.lam, self.bl_lam, self.penalty = lam, bl_lam, penalty
        self.test, self.y_test, self.target = test, y_test, target
        self.eval_model = "Q" if sign_flips else model          # E_S f_L(SU) = 0
        self.rows: dict[str, list] = {k: [] for k in ("steps", "train", "objective", "norm_F",
                                                      "norm_24", "test", "R1")}
        self.captured: dict[str, list] = {}

    def log(self, t: int, Ut: torch.Tensor, exact) -> None:
        U = Ut.T
        taylor, rows = self.taylor, self.rows
        if exact is not None:
            f, fL = exact
        else:
            f, fL = taylor.predict(U, self.eval_model), None
        train = float((f - self.y).square().mean())
        R1 = None
        if self.penalty is not None:
            if fL is None:
                fL = taylor._f_L(U)
            R1 = float(self.penalty.value(fL))
        n24 = float(norm_24(U))
        obj = train + (self.lam * R1 if self.lam else 0.0) + self.bl_lam * n24 ** 8
        rows["steps"].append(t)
        rows["train"].append(train)
        rows["objective"].append(obj)
        rows["norm_F"].append(float(U.norm()))
        rows["norm_24"].append(n24)
        rows["R1"].append(R1)
        if self.test is not None:
            yhat = self.test.predict(U, self.eval_model)
            rows["test"].append(_test_error(yhat, self.y_test, self.target))
            if self.target is not None:
                for name, c in captured(yhat, self.test.X, self.target).items():
                    self.captured.setdefault(name, []).append(c)

    def history(self, lr: float, U: torch.Tensor | None, interrupted: bool = False) -> History:
        rows = self.rows
        arr = {k: np.asarray(v, dtype=np.float64) for k, v in rows.items()
               if k not in ("test", "R1", "steps")}
        return History(
            model=self.model, lr=float(lr), lam=self.lam,
            steps=np.asarray(rows["steps"], dtype=np.int64),
            test=np.asarray(rows["test"], dtype=np.float64) if self.test is not None else None,
            R1=np.asarray(rows["R1"], dtype=np.float64) if self.penalty is not None else None,
            captured={k: np.asarray(v, dtype=np.float64) for k, v in self.captured.items()},
            U=U, interrupted=interrupted, **arr)


def _test_error(yhat: torch.Tensor, y: torch.Tensor, target) -> float:
    """Test MSE, relative to Var f* (en.relative_mse) when a target is given."""
    if target is None:
        return float((yhat - y).square().mean())
    return float(relative_mse(yhat, y, target))
