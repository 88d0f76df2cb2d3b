"""Bad input to every public function and class: a clear error, never a raw torch/NumPy error,
a silent NaN or a wrong shape.

A case passes when the call raises ValueError/TypeError/KeyError/FloatingPointError (LearningRateError
and TrainingDiverged included) whose raising frame is inside escape_ntk (or Python's own argument
check of the call), with a message that names the problem. "Accepted" inputs (NumPy arrays, integer
tensors that convert exactly) are in ACCEPTED and must give the float64 result.
"""

import os
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch

import escape_ntk as en
from escape_ntk import experiments as ex
from escape_ntk import learning

PKG = str(Path(en.__file__).parent)
CLEAR = (ValueError, TypeError, KeyError, FloatingPointError)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


g = _gen()
n, m, d = 12, 6, 4
X = en.sample_sphere(n, d, g)
W, a = en.init_symmetric(m, d, g)
T = en.Taylor(X, W, a, "tanh")
T32 = en.Taylor(X.float(), W.float(), a.float(), "tanh")
y = torch.randn(n, generator=g, dtype=torch.float64)
U = 0.1 * torch.randn(m, d, generator=g, dtype=torch.float64)
K = T.gram()
PEN = en.R1Penalty.spectral(K, 3)
MLP_P = en.mlp.mlp_init(d, 5, _gen(1))
PEN_OTHER = en.R1Penalty.spectral(en.Taylor(X[:8], W, a, "tanh").gram(), 3)
ASYM = K + torch.triu(torch.ones(n, n, dtype=torch.float64), 1)
NAN = X.clone()
NAN[0, 0] = float("nan")
INF = X.clone()
INF[1, 1] = float("inf")
EV = en.eigvalsh(K)
META = torch.empty(n, d, device="meta")
TINY = ex.Setting("tiny", d=4, n=12, m=6, act="tanh", k=1, p=2, steps=2, lam=0.5, n_test=20)


def _tr(**kw):
    base = dict(model="L", lr=0.1, steps=2, progress=False)
    base.update(kw)
    taylor = base.pop("taylor", T)
    labels = base.pop("y", y)
    return lambda: en.train(taylor, labels, **base)



def _with_env(key, value, fn):
    """Call fn() with os.environ[key] = value, restoring the environment afterwards."""
    old = os.environ.get(key)
    os.environ[key] = value
    try:
        return fn()
    finally:
        if old is None:
            del os.environ[key]
        else:
            os.environ[key] = old

BAD = {
    # the row-blocked step (escape_ntk.blocked)
    "BlockedStep block_rows=0": lambda: en.blocked.BlockedStep(T, block_rows=0),
    "BlockedStep U_k wrong rows": lambda: en.blocked.BlockedStep(
        T, torch.eye(T.n + 1, dtype=torch.float64)[:, :2]),
    "BlockedStep lam_emp without U_k": lambda: en.blocked.BlockedStep(T).step(
        torch.zeros(T.d, T.m, dtype=T.X.dtype), torch.zeros(T.n, dtype=T.X.dtype), 1.0, 0.1),
    "predict_blocked U shape": lambda: en.blocked.predict_blocked(X, W, a, "tanh", W[:2]),
    "predict_blocked block_rows=0": lambda: en.blocked.predict_blocked(X, W, a, "tanh", W, 0),
    # per-section seeds
    "generator no keys": lambda: en.generator(),
    "derive_seed float key": lambda: en.derive_seed(0.5),
    "derive_seed negative seed": lambda: en.derive_seed("ch1", seed=-3),
    "base_seed bad environment": lambda: _with_env(en.SEED_ENV, "x", lambda: en.base_seed()),
    # inputs and initialization: sizes, dtypes, generators
    "sample_sphere n=0": lambda: en.sample_sphere(0, 5, g),
    "sample_sphere d=1": lambda: en.sample_sphere(3, 1, g),
    "sample_sphere int64 dtype": lambda: en.sample_sphere(10, 5, g, dtype=torch.int64),
    "sample_sphere float16 dtype": lambda: en.sample_sphere(10, 5, g, dtype=torch.float16),
    "sample_sphere int seed as generator": lambda: en.sample_sphere(10, 5, 0),
    "sample_sphere numpy Generator": lambda: en.sample_sphere(10, 5, np.random.default_rng(0)),
    "sample_gaussian float n": lambda: en.sample_gaussian(2.5, 3, g),
    "sample_inputs unknown dist": lambda: en.sample_inputs(3, 3, g, dist="cube"),
    "init_symmetric odd m": lambda: en.init_symmetric(7, 5, g),
    "init_symmetric m=0": lambda: en.init_symmetric(0, 5, g),
    "init_symmetric d=1": lambda: en.init_symmetric(8, 1, g),
    "init_symmetric int32 dtype": lambda: en.init_symmetric(8, 5, g, dtype=torch.int32),
    "init_symmetric bfloat16 dtype": lambda: en.init_symmetric(8, 5, g, dtype=torch.bfloat16),
    "init_symmetric int generator": lambda: en.init_symmetric(8, 5, 3),
    "init_symmetric unknown dist": lambda: en.init_symmetric(8, 5, g, dist="cube"),
    "random_signs m=0": lambda: en.random_signs(0, g),
    "random_signs int dtype": lambda: en.random_signs(4, g, dtype=torch.int64),
    "small_init d=1": lambda: en.small_init(4, 1, g),
    "small_init numpy generator": lambda: en.small_init(4, 3, np.random.default_rng(1)),
    "small_init nan scale": lambda: en.small_init(4, 3, g, scale=float("nan")),
    # activations
    "activation unknown name": lambda: en.activation("swish"),
    "activation derivative 4": lambda: en.activation("relu").derivative(4),
    # the network and its Gram
    "network list X": lambda: en.network(X.tolist(), W, a, "tanh"),
    "network 1-D X": lambda: en.network(X[0], W, a, "tanh"),
    "network mismatched d": lambda: en.network(X[:, :3], W, a, "tanh"),
    "network mismatched a": lambda: en.network(X, W, a[:-1], "tanh"),
    "network NaN X": lambda: en.network(NAN, W, a, "tanh"),
    "network inf X": lambda: en.network(INF, W, a, "tanh"),
    "network float16 X": lambda: en.network(X.half(), W.half(), a.half(), "tanh"),
    "network bfloat16 W": lambda: en.network(X, W.bfloat16(), a, "tanh"),
    "network mixed f32/f64": lambda: en.network(X.float(), W, a, "tanh"),
    "network unknown activation": lambda: en.network(X, W, a, "gelu"),
    "network raw callable positional": lambda: en.network(X, W, a, torch.tanh),
    "network sigma=act.dsigma": lambda: en.network(X, W, a, sigma=en.activation("tanh").dsigma),
    "network non-CPU tensor": lambda: en.network(META, W, a, "tanh"),
    "ntk_gram n=0": lambda: en.ntk_gram(X[:0], W, a, "tanh"),
    "ntk_gram m=0": lambda: en.ntk_gram(X, W[:0], a[:0], "tanh"),
    "ntk_gram empty d": lambda: en.ntk_gram(X[:, :0], W[:, :0], a, "tanh"),
    "ntk_gram raw callable": lambda: en.ntk_gram(X, W, a, torch.tanh),
    "ntk_gram activation twice": lambda: en.ntk_gram(X, W, a, "tanh", dsigma=torch.tanh),
    "ntk_gram Y mismatched d": lambda: en.ntk_gram(X, W, a, "tanh", Y=X[:, :2]),
    "ntk_gram Y f32": lambda: en.ntk_gram(X, W, a, "tanh", Y=X.float()),
    "ntk_gram int X with float64 W": lambda: en.ntk_gram(X.round().long(), W, a, "tanh"),
    "ntk_gram NaN W": lambda: en.ntk_gram(X, W * float("nan"), a, "tanh"),
    "gram_from_features list": lambda: en.kernel_ridge([[1.0]], [1.0], 0.1),
    # kernel ridge and spectra
    "kernel_ridge asymmetric K": lambda: en.kernel_ridge(ASYM, y, 0.1),
    "kernel_ridge non-square K": lambda: en.kernel_ridge(K[:5], y, 0.1),
    "kernel_ridge y mismatch": lambda: en.kernel_ridge(K, y[:5], 0.1),
    "kernel_ridge ridge < 0": lambda: en.kernel_ridge(K, y, -1.0),
    "kernel_ridge ridge nan": lambda: en.kernel_ridge(K, y, float("nan")),
    "kernel_ridge K_test mismatch": lambda: en.kernel_ridge(K, y, 0.1, K_test=K[:, :5]),
    "kernel_ridge NaN y": lambda: en.kernel_ridge(K, y * float("nan"), 0.1),
    "kernel_ridge empty K": lambda: en.kernel_ridge(K[:0, :0], y[:0], 0.1),
    "eigvalsh asymmetric K": lambda: en.eigvalsh(ASYM),
    "eigvalsh non-square": lambda: en.eigvalsh(K[:5]),
    "eigvalsh NaN": lambda: en.eigvalsh(K * float("nan")),
    "eigvalsh empty": lambda: en.eigvalsh(K[:0, :0]),
    "eigvalsh 1-D": lambda: en.eigvalsh(K[0]),
    "top_eigh k > n": lambda: en.top_eigh(K, n + 1),
    "top_eigh k = 0": lambda: en.top_eigh(K, 0),
    "top_eigh asymmetric": lambda: en.top_eigh(ASYM, 2),
    "block_means NaN": lambda: en.block_means(torch.tensor([1.0, float("nan"), 0.5]), [1, 2]),
    "block_means too many": lambda: en.block_means(EV, [n, 1]),
    "block_means negative size": lambda: en.block_means(EV, [-1]),
    "block_means sizes not a list": lambda: en.block_means(EV, 3),
    "block_means empty": lambda: en.block_means([], [1]),
    "plateau_widths increasing": lambda: en.plateau_widths(EV, [1.0, 10.0]),
    "plateau_widths NaN": lambda: en.plateau_widths(EV * float("nan"), [1.0, 0.1]),
    "largest_gap bad window": lambda: en.largest_gap(EV, 0, 5),
    "param_eigendirections count mismatch": lambda: en.param_eigendirections(T, *_eig(3, 2)),
    "param_eigendirections negative": lambda: en.param_eigendirections(T, _eig(2)[0], -_eig(2)[1]),
    "param_eigendirections not a Taylor": lambda: en.param_eigendirections("T", *_eig(2)),
    # the Taylor model
    "Taylor raw callable act": lambda: en.Taylor(X, W, a, torch.tanh),
    "Taylor unknown act": lambda: en.Taylor(X, W, a, "gelu"),
    "Taylor n=0": lambda: en.Taylor(X[:0], W, a, "tanh"),
    "Taylor mixed dtypes": lambda: en.Taylor(X.float(), W, a, "tanh"),
    "Taylor.f_L wrong shape": lambda: T.f_L(U[:3]),
    "Taylor.f_Q f32 U": lambda: T.f_Q(U.float()),
    "Taylor.f NaN U": lambda: T.f(U * float("nan")),
    "Taylor.phi_rmatvec wrong n": lambda: T.phi_rmatvec(y[:5]),
    "Taylor.predict unknown model": lambda: T.predict(U, "QQ"),
    "predict not a Taylor": lambda: en.predict("T", U),
    "sign_flip mismatched": lambda: en.sign_flip(U, torch.ones(m + 1, dtype=torch.float64)),
    "scale_movement zero": lambda: en.scale_movement(torch.zeros(m, d), "ntk"),
    "scale_movement unknown": lambda: en.scale_movement(U, "huge"),
    "norm_24 1-D": lambda: en.norm_24(U[0]),
    "bl_penalty_grad NaN": lambda: en.bl_penalty_grad(U * float("nan")),
    "linear_energy wrong shape": lambda: en.linear_energy(T, U.T),
    "rayleigh_quotients zero": lambda: en.rayleigh_quotients(T, torch.zeros(m, d, dtype=torch.float64)),
    "sign_flip_expected_loss y mismatch": lambda: en.sign_flip_expected_loss(T, U, y[:3]),
    # the penalty
    "R1Penalty non-orthonormal U_k": lambda: en.R1Penalty(torch.ones(n, 2, dtype=torch.float64)),
    "R1Penalty.from_basis non-orthonormal": lambda: en.R1Penalty.from_basis(2 * torch.eye(n)[:, :3]),
    "R1Penalty.spectral asymmetric": lambda: en.R1Penalty.spectral(ASYM, 3),
    "R1Penalty.spectral n_k > n": lambda: en.R1Penalty.spectral(K, n + 1),
    "R1Penalty.spectral n_k < 0": lambda: en.R1Penalty.spectral(K, -1),
    "R1Penalty.random int generator": lambda: en.R1Penalty.random(n, 3, 5),
    "R1Penalty.value wrong n": lambda: PEN.value(y[:5]),
    # learning rate and spectra of the trainer
    "stable_lr factor < 0": lambda: en.stable_lr(T, factor=-1),
    "stable_lr factor > 1": lambda: en.stable_lr(T, factor=2.0),
    "stable_lr asymmetric K": lambda: en.stable_lr(ASYM),
    "stable_lr zero K": lambda: en.stable_lr(torch.zeros(n, n, dtype=torch.float64)),
    "top_eigenvalue penalty for another n": lambda: en.top_eigenvalue(T, 1.0, PEN_OTHER),
    "top_eigenvalue lam < 0": lambda: en.top_eigenvalue(T, -1.0, PEN),
    "top_eigenvalue penalty not R1Penalty": lambda: en.top_eigenvalue(T, 1.0, "pen"),
    "top_eigenvalue not a Taylor": lambda: en.top_eigenvalue(K),
    # train
    "train n=0 labels": _tr(y=y[:0]),
    "train y mismatch": _tr(y=y[:5]),
    "train y NaN": _tr(y=y * float("nan")),
    "train y list": _tr(y=y.tolist()),
    "train unknown model": _tr(model="QQ"),
    "train lr < 0": _tr(lr=-0.1),
    "train lr nan": _tr(lr=float("nan")),
    "train diverging lr": _tr(lr=1e3),
    "train diverging lr unchecked": _tr(lr=1e3, steps=200, check_lr=False),
    "train lam < 0": _tr(lam=-1.0, penalty=PEN),
    "train lam without penalty": _tr(lam=1.0),
    "train penalty for another n": _tr(lam=1.0, penalty=PEN_OTHER),
    "train steps < 0": _tr(steps=-1),
    "train log_points 1": _tr(log_points=1),
    "train batch_size > n": _tr(batch_size=n + 1, generator=g),
    "train int generator": _tr(batch_size=4, generator=0),
    "train numpy generator": _tr(sign_flips=True, model="LQ", generator=np.random.default_rng(0)),
    "train minibatch without generator": _tr(batch_size=4),
    "train sign flips on L": _tr(sign_flips=True, generator=g),
    "train U0 wrong shape": _tr(U0=U[:2]),
    "train test f32 vs f64": _tr(test=T32, y_test=y),
    "train test other W0": _tr(test=en.Taylor(X, W + 1, a, "tanh"), y_test=y),
    "train y_test without test": _tr(y_test=y),
    "train resume other model": lambda: en.train(T, y, model="Q", lr=0.1, steps=1, progress=False,
                                                 resume=_hist()),
    "train resume not a History": _tr(resume=U),
    # harmonics and the infinite-width NTK
    "hermite_coefficients degree < 0": lambda: en.hermite_coefficients(np.tanh, -1),
    "hermite_coefficients degree too high": lambda: en.hermite_coefficients(np.tanh, 300),
    "hermite_coefficients not callable": lambda: en.hermite_coefficients("tanh", 3),
    "hermite_coefficients grows too fast": lambda: en.hermite_coefficients(lambda z: np.exp(z * z / 3), 3),
    "hermite_polynomial j < 0": lambda: en.hermite_polynomial(-1, 0.5),
    "normal_expectation inf": lambda: en.normal_expectation(lambda z: np.where(z > 3, np.inf, 0)),
    "gegenbauer d=1": lambda: en.gegenbauer(1, 2, 0.5),
    "gegenbauer l < 0": lambda: en.gegenbauer(5, -2, 0.5),
    "harmonic_dimension d=1": lambda: en.harmonic_dimension(1, 2),
    "harmonic_dimension float l": lambda: en.harmonic_dimension(5, 1.5),
    "n_k d=1": lambda: en.n_k(1, 1),
    "funk_hecke empty degrees": lambda: en.funk_hecke(np.cos, 5, []),
    "sphere_expectation nodes=0": lambda: en.sphere_expectation(np.cos, 5, nodes=0),
    "gegenbauer_moments d=1": lambda: en.gegenbauer_moments(1, 2, 2),
    "ntk_eigenvalues unknown act": lambda: en.ntk_eigenvalues("swish", 10, 2),
    "ntk_eigenvalues d < 2": lambda: en.ntk_eigenvalues("relu", 1, 2),
    "ntk_eigenvalues negative degree": lambda: en.ntk_eigenvalues("relu", 10, [1, -2]),
    "ntk_eigenvalues raw callable": lambda: en.ntk_eigenvalues(np.tanh, 10, 2),
    "ntk_eigenvalues degrees string": lambda: en.ntk_eigenvalues("relu", 10, "012"),
    "ntk_series_coefficients terms=0": lambda: en.ntk_series_coefficients("relu", 0),
    "ntk_series_coefficients too many": lambda: en.ntk_series_coefficients("relu", 10**6),
    "ntk_trace no activation": lambda: en.ntk_trace(d=5),
    "self_induced_ridge L < 0": lambda: en.self_induced_ridge("relu", 10, -1),
    "ntk_profile d=1": lambda: en.ntk_profile("relu", 1),
    "NTKProfile NaN t": lambda: en.ntk_profile("relu", 5)(np.array([0.1, np.nan])),
    "NTKProfile |t| > 1": lambda: en.ntk_profile("relu", 5)(np.array([1.5])),
    "NTKProfile complex t": lambda: en.ntk_profile("relu", 5)(np.array([0.1j])),
    "ntk_gram_inf not on sphere": lambda: en.ntk_gram_inf(2 * X, act="relu"),
    "ntk_gram_inf NaN": lambda: en.ntk_gram_inf(NAN, act="relu"),
    "ntk_gram_inf profile for other d": lambda: en.ntk_gram_inf(X, act=en.ntk_profile("relu", 7)),
    "ntk_gram_inf int dtype": lambda: en.ntk_gram_inf(X, act="relu", dtype=torch.int64),
    # targets
    "random_direction d=1": lambda: en.random_direction(1, g),
    "random_direction int generator": lambda: en.random_direction(4, 7),
    "dense_quadratic numpy generator": lambda: en.dense_quadratic(4, np.random.default_rng(0)),
    "sparse_monomial idx out of range": lambda: en.sparse_monomial(4, (0, 5)),
    "gegenbauer_index zero beta": lambda: en.gegenbauer_index(torch.zeros(4), 2),
    "gegenbauer_index negative p": lambda: en.gegenbauer_index(torch.ones(4), -1),
    "linear NaN beta": lambda: en.linear(torch.tensor([1.0, float("nan")])),
    "Target wrong d": lambda: en.linear(torch.ones(5))(X),
    "mix no pairs": lambda: en.mix(),
    "mix non-target": lambda: en.mix((1.0, "x")),
    "relative_mse mismatch": lambda: en.relative_mse(y[:3], y),
    "captured mismatch": lambda: en.captured(y[:3], X, en.linear(torch.ones(d))),
    # result tables
    "table empty header": lambda: en.table([[1]], []),
    "table ragged row": lambda: en.table([[1, 2], [3]], ["a", "b"]),
    "table format count": lambda: en.table([[1, 2]], ["a", "b"], [".3f"]),
    # learning and experiments
    "krr_curve ns > N": lambda: learning.krr_curve(K, y, K, y, [n + 1], 1e-3),
    "krr_curve ridge < 0": lambda: learning.krr_curve(K, y, K, y, [n], -1.0),
    "krr_curve asymmetric K": lambda: learning.krr_curve(ASYM, y, K, y, [n], 1e-3),
    "ridge_path ridge 0": lambda: learning.ridge_path(K, y, K, [0.0]),
    "degree_energy evals mismatch": lambda: learning.degree_energy(y, X, [1.0], [0, 1]),
    "compare n_seeds 0": lambda: ex.compare(TINY, n_seeds=0, generator=g),
    "compare setting not a Setting": lambda: ex.compare("A", generator=g),
    "compare runs not Runs": lambda: ex.compare(TINY, runs=["L"], generator=g),
    "prepare int generator": lambda: ex.prepare(TINY, 3),
    "prepare dense degree 3": lambda: ex.prepare(TINY.replace(k=3, p=4), g),
    "prepare float16": lambda: ex.prepare(TINY, g, dtype=torch.float16),
    # Taylor models of torch modules, digits (chapter 11)
    "taylor_expand not a module": lambda: en.taylor_expand(lambda x: x, 2),
    "taylor_expand order 3": lambda: en.taylor_expand(torch.nn.Linear(2, 1), 3),
    "taylor_expand no parameters": lambda: en.taylor_expand(torch.nn.ReLU(), 2),
    "set_movement other module": lambda: en.taylor_expand(torch.nn.Linear(2, 1)).set_movement(
        torch.nn.Linear(3, 1)),
    "TwoLayer raw callable act": lambda: en.taylor_nn.TwoLayer(W, a, torch.tanh),
    "TwoLayer a wrong length": lambda: en.taylor_nn.TwoLayer(W, a[:-1], "tanh"),
    "small_cnn size not divisible": lambda: en.taylor_nn.small_cnn(4, 3, 12),
    "small_cnn unknown act": lambda: en.taylor_nn.small_cnn(4, 2, 8, "gelu"),
    "small_cnn channels 0": lambda: en.taylor_nn.small_cnn(0),
    "sgd lr negative": lambda: en.taylor_nn.sgd({"f": torch.nn.Linear(4, 1).double()}, X, y, X, y,
                                                epochs=1, batch_size=4, lr=-1.0),
    "sgd labels mismatch": lambda: en.taylor_nn.sgd({"f": torch.nn.Linear(4, 1).double()}, X,
                                                    y[:-1], X, y, epochs=1, batch_size=4, lr=0.1),
    "sgd models not a dict": lambda: en.taylor_nn.sgd([torch.nn.Linear(4, 1)], X, y, X, y,
                                                      epochs=1, batch_size=4, lr=0.1),
    "digits_pair same class twice": lambda: en.digits_pair((3, 3)),
    "digits_pair class 10": lambda: en.digits_pair((3, 10)),
    "digits_pair n_test too large": lambda: en.digits_pair((3, 8), 400),
    "digits_pair numpy generator": lambda: en.digits_pair((3, 8), 50, np.random.default_rng(0)),
    # rates: learning thresholds and exponent fits
    "n_star errors wrong shape": lambda: en.rates.n_star([10, 20], [[0.1, 0.2]], 0.25),
    "n_star nan error": lambda: en.rates.n_star([10, 20], [[float("nan")], [0.1]], 0.25),
    "n_star decreasing grid": lambda: en.rates.n_star([20, 10], [[0.3], [0.1]], 0.25),
    "n_star threshold bool": lambda: en.rates.n_star([10, 20], [[0.3], [0.1]], True),
    "fit_exponent one x": lambda: en.rates.fit_exponent([10, 10], [5, 6]),
    "rate_fit not reached": lambda: en.rates.rate_fit({8: ([1, 2], [[.9], [.8]]),
                                                       9: ([1, 2], [[.9], [.1]])}, 0.25),
    "rate_fit degree 0": lambda: en.rates.rate_fit({8: ([1, 2], [[.9], [.1]]),
                                                    9: ([1, 2], [[.9], [.1]])}, 0.25, degree=0),
    "plot_rates no fits": lambda: en.rates.plot_rates(None, {}),
    "dynamics_panels no runs": lambda: en.dynamics_panels([], 10),
    "dynamics_panels d 1": lambda: en.dynamics_panels([("a", [0, 1], {"R1": [[0, 1]]})], 1,
                                                      keys=("R1",)),
    "dynamics_panels missing key": lambda: en.dynamics_panels([("a", [0, 1], {"R1": [[0, 1]]})], 10),
    "dynamics_panels length": lambda: en.dynamics_panels([("a", [0, 1], {"R1": [[0, 1, 2]]})], 10,
                                                         keys=("R1",)),
    "dynamics_panels titles": lambda: en.dynamics_panels([("a", [0, 1], {"R1": [[0, 1]]})], 10,
                                                         keys=("R1",), titles=("x", "y")),
    "dynamics_panels colors": lambda: en.dynamics_panels([("a", [0, 1], {"R1": [[0, 1]]})], 10,
                                                         keys=("R1",), colors=["r", "g"]),
    # the authors' MLP (en.mlp) and the network-vs-Taylor drivers (en.networks)
    "mlp_init unknown init": lambda: en.mlp.mlp_init(4, 5, g, init="kaiming"),
    "mlp_init d 0": lambda: en.mlp.mlp_init(0, 5, g),
    "mlp_forward wrong columns": lambda: en.mlp.mlp_forward(MLP_P, torch.ones(3, 5, dtype=torch.float64)),
    "mlp_forward not params": lambda: en.mlp.mlp_forward((W, a), X),
    "mlp_forward float32 inputs": lambda: en.mlp.mlp_forward(MLP_P, X.float()),
    "MLPStep label count": lambda: en.mlp.MLPStep(X, y[:5], MLP_P),
    "mlp_train steps 0": lambda: en.mlp.mlp_train(MLP_P, X, y, steps=0),
    "mlp_train diverges": lambda: en.mlp.mlp_train(MLP_P, X, y * 1e3, lr=1e3, steps=30),
    "mlp_ntk_gram Y columns": lambda: en.mlp.mlp_ntk_gram(MLP_P, X, X[:, :2]),
    "mlp_ntk_regression y length": lambda: en.mlp.mlp_ntk_regression(MLP_P, X, y[:3], X, [1e-3]),
    "authors_target d 0": lambda: en.mlp.authors_target(0, g),
    "taylor_gaps checkpoints": lambda: en.networks.taylor_gaps(ex.prepare(TINY, _gen()), 0.0, [2, 1]),
    "sign_flip_expected_grad U shape": lambda: en.networks.sign_flip_expected_grad(T, U[:2], y),
    "sign_flip_expected_grad y length": lambda: en.networks.sign_flip_expected_grad(T, U, y[:3]),
    "sign_flip_paths unknown path": lambda: en.networks.sign_flip_paths(T, y, U, 0.1, [0, 1], _gen(),
                                                                          paths=("exact",)),
    "power_fit shapes": lambda: en.networks.power_fit([1.0, 2.0], [[1.0, 2.0, 3.0]]),
    "power_fit negative": lambda: en.networks.power_fit([1.0, 2.0], [[1.0, -2.0]]),
    "sign_flip_paths int generator": lambda: en.networks.sign_flip_paths(T, y, U, 0.1, [0, 1], 3),
}


def _eig(k, k2=None):
    ev, V = en.top_eigh(K, k)
    return V, ev[: (k2 or k)]


def _hist():
    return en.train(T, y, model="L", lr=0.1, steps=1, progress=False)


ACCEPTED = {
    # inputs that are converted exactly: the result equals the float64 one
    "network numpy arrays": (lambda: en.network(X.numpy(), W.numpy(), a.numpy(), "tanh"),
                             lambda: en.network(X, W, a, "tanh")),
    "ntk_gram int X, float32 W": (lambda: en.ntk_gram(X.round().long(), W.float(), a.float(), "tanh"),
                                  lambda: en.ntk_gram(X.round().float(), W.float(), a.float(), "tanh")),
    "kernel_ridge numpy": (lambda: en.kernel_ridge(K.numpy(), y.numpy(), 0.1),
                           lambda: en.kernel_ridge(K, y, 0.1)),
    "block_means list": (lambda: en.block_means(EV.tolist(), [1, 2]), lambda: en.block_means(EV, [1, 2])),
}


def _raised_clearly(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1].filename if frames else ""
    signature_error = isinstance(exc, TypeError) and "argument" in str(exc) and PKG not in last
    return isinstance(exc, CLEAR) and (last.startswith(PKG) or signature_error) and len(str(exc)) >= 20


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_raises_a_clear_error(case):
    try:
        out = BAD[case]()
    except Exception as exc:  # noqa: BLE001 - the point is to classify every exception
        assert _raised_clearly(exc), f"{case}: unclear {type(exc).__name__}: {exc}"
        return
    pytest.fail(f"{case}: no error; returned {type(out).__name__} {getattr(out, 'shape', '')}")


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_accepted_input_gives_the_float64_result(case):
    got, want = (f() for f in ACCEPTED[case])
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and np.allclose(got, want, rtol=1e-12, atol=0), case


def test_fuzz_counts():
    """The fuzz covers every public function and class (and the namespaces' drivers)."""
    src = Path(__file__).read_text()
    callables = [k for k in en.__all__ if callable(getattr(en, k)) and not isinstance(getattr(en, k), type)
                 or isinstance(getattr(en, k), type)]
    untested = [k for k in callables if f"en.{k}(" not in src and f"en.{k}." not in src]
    exempt = {"Activation", "History", "Target", "NTKProfile", "LearningRateError", "TrainingDiverged", "Table",
              "gram_from_features", "degree_color", "mean_band", "seed_bars", "set_style", "subplots",
              "hermite_normalized", "hermite_index", "ntk_degree_mass", "ntk_eigenvalues_leading",
              "sample_inputs", "bl_penalty", "MODELS"}
    assert not [k for k in untested if k not in exempt], untested
    assert len(BAD) >= 150
