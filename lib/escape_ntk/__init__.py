"""escape_ntk: the library behind the book *Escaping the NTK Regime* (Nichani, Bai & Lee, NeurIPS 2022).

Import it as ``import escape_ntk as en``. Conventions: inputs x on S^{d-1}(sqrt d) (Gaussian optional),
first layer W0 with rows N(0, I_d/d), second layer a_r = +-1/sqrt(m) with paired symmetric initialization,
only the first layer is trained. All randomness comes from an explicit ``torch.Generator``.

Public surface (``__all__``): the primitives are flat (``en.ntk_gram``, ``en.Taylor``, ``en.train``, ...);
namespaces hold the larger toolkits: ``en.symbolic`` (sympy identities), ``en.schematics`` (the overview
page's pictures), both imported on first use, ``en.experiments`` (the combined-model driver),
``en.learning`` (kernel learning curves), ``en.taylor_nn`` (Taylor models of any torch module, the
two-layer net and a small CNN as modules, their SGD loop), ``en.mlp`` (the authors' ReLU MLP),
``en.networks`` (networks against their Taylor models, sign flips) and ``en.rates`` (learning
thresholds and fitted exponents). Result tables: ``en.table``.
Activations: a positional ``act`` is an :class:`Activation` or a name ('relu', 'tanh', ...); a raw callable
is accepted only by keyword, ``sigma=`` or ``dsigma=``, so its meaning never depends on a parameter's name.
Argument order: dimension before degree (``harmonic_dimension(d, l)``, ``gegenbauer(d, l, t)``, ``n_k(d, k)``);
``lam`` is always the penalty weight (eigenvalues are ``evals``).

Module map (layers; a module imports only from layers above it, never from its own layer or below):

    0  _checks, _version             validation and typed errors; the version string (import nothing)
    1  activations, data, plotting, tables, records, seeds
                                     sigma and its derivatives; inputs; figure style; result tables;
                                     sweep records (atomic JSON, content hash); per-section seeds
    2  harmonics, executors          Hermite, Gegenbauer, Funk-Hecke, B(d, l), n_k; sweep executors
    3  infinite, targets, symbolic, pipeline, rates
                                     infinite-width NTK (series, eigenvalues, Gram); targets; sympy;
                                     running sweeps (resume, staleness, provenance); learning
                                     thresholds n*(d) and fitted exponents (seed bootstrap)
    4  kernels, blocked              empirical NTK Gram, kernel ridge; the row-blocked fused step
                                     of f_L + f_Q with the empirical and population R_1
    5  models, mlp, taylor_nn        network, init, the Taylor model (one home of f, f_L, f_Q); the
                                     authors' ReLU MLP with biases (fused GD step, closed-form NTK);
                                     Taylor models of any torch module (jvp, jvp of jvp)
    6  spectra, directions, regularizers, learning
                                     float64 spectra and staircase helpers; Rayleigh quotients; R_1
    7  train                         the fused GD trainer, stability checks, History
    8  experiments, networks, bench, schematics
                                     the combined-model driver, network vs Taylor models and sign
                                     flips, benchmarks, overview pictures
    9  sweeps, rate_sweeps           the sweep declarations (the registry imports rate_sweeps,
                                     the rate chapter's sweeps, by name)
    10 results                       stored sweeps for chapters
    11 __main__                      the CLI

Heavy third-party modules are imported on first use, so ``import escape_ntk`` costs little beyond
``import torch``: sympy (``en.symbolic``), matplotlib (the plotting helpers), scipy.special (the
quadrature rules) and scipy.sparse.linalg (Lanczos).
"""

import importlib

from . import experiments, learning, mlp, networks

# Result tables (every chapter)
from .tables import Table, table

# Per-section generators from one base seed ($ESCAPE_NTK_SEED, default 0), every chapter
from .seeds import SEED_ENV, base_seed, derive_seed, generator

# Validation errors (chapter 7 catches LearningRateError)
from ._checks import LearningRateError

# Inputs, activations, figures (chapter 1)
from .activations import ACTIVATIONS, Activation, activation
from .data import digits_pair, sample_gaussian, sample_inputs, sample_sphere

# Harmonic analysis (chapter 2)
from .harmonics import (
    MAX_DEGREE,
    funk_hecke,
    gegenbauer,
    gegenbauer_moments,
    harmonic_dimension,
    hermite_coefficients,
    hermite_normalized,
    hermite_polynomial,
    n_k,
    normal_expectation,
    sphere_expectation,
)

# The infinite-width NTK: series, Funk-Hecke eigenvalues, Gram (chapters 2-4)
from .infinite import (
    MAX_TERMS,
    NTKProfile,
    ntk_degree_mass,
    ntk_eigenvalues,
    ntk_eigenvalues_leading,
    ntk_gram_inf,
    ntk_profile,
    ntk_series_coefficients,
    ntk_trace,
    self_induced_ridge,
)

# The network, its Taylor terms, Grams and spectra (chapters 1, 3, 5)
from .kernels import gram_from_features, kernel_ridge, ntk_gram
from .models import (
    MODELS,
    Taylor,
    init_symmetric,
    network,
    norm_24,
    random_signs,
    scale_movement,
    sign_flip,
    small_init,
)
from .directions import linear_energy, rayleigh_quotients
from .spectra import block_means, eigvalsh, largest_gap, param_eigendirections, plateau_widths, top_eigh
from .plotting import (DEGREE_COLORS, MODEL_COLORS, MODEL_LABELS, degree_color, dynamics_panels, mean_band,
                       seed_bars, set_style, subplots)

# Taylor models of any torch module, real data (chapter 11)
from . import taylor_nn
from .taylor_nn import taylor_expand

# Targets (chapter 1 on)
from .targets import (
    Target,
    captured,
    dense_quadratic,
    gegenbauer_index,
    hermite_index,
    linear,
    mix,
    random_direction,
    relative_mse,
    sparse_monomial,
)

# Training and the good-direction penalty (chapters 4-7)
from .regularizers import R1Penalty, bl_penalty, bl_penalty_grad, sign_flip_expected_loss
from .train import History, TrainingDiverged, predict, stable_lr, top_eigenvalue, train

# Stored sweeps (python -m escape_ntk): declarations, machinery, loading and live checks
from . import blocked, pipeline, results, sweeps

# Sample-complexity rates: n*(d), fitted exponents with a seed bootstrap (the rate chapter)
from . import rates

from ._version import __version__

_NAMESPACES = ("symbolic", "schematics", "experiments", "learning", "pipeline", "results", "sweeps",
               "taylor_nn", "rates", "mlp", "networks", "blocked")

__all__ = [
    # namespaces
    *_NAMESPACES,
    # errors and tables
    "LearningRateError", "TrainingDiverged", "Table", "table",
    # seeds
    "SEED_ENV", "base_seed", "derive_seed", "generator",
    # activations and inputs
    "ACTIVATIONS", "Activation", "activation", "digits_pair", "sample_gaussian", "sample_inputs",
    "sample_sphere",
    # harmonics
    "MAX_DEGREE", "funk_hecke", "gegenbauer", "gegenbauer_moments", "harmonic_dimension",
    "hermite_coefficients", "hermite_normalized", "hermite_polynomial", "n_k", "normal_expectation",
    "sphere_expectation",
    # infinite-width NTK
    "MAX_TERMS", "NTKProfile", "ntk_degree_mass", "ntk_eigenvalues", "ntk_eigenvalues_leading",
    "ntk_gram_inf", "ntk_profile", "ntk_series_coefficients", "ntk_trace", "self_induced_ridge",
    # network, Grams, spectra, directions
    "gram_from_features", "kernel_ridge", "ntk_gram", "MODELS", "Taylor", "init_symmetric", "network",
    "norm_24", "random_signs", "scale_movement", "sign_flip", "small_init", "linear_energy",
    "rayleigh_quotients", "block_means", "eigvalsh", "largest_gap", "param_eigendirections",
    "plateau_widths", "top_eigh", "taylor_expand",
    # figures
    "DEGREE_COLORS", "MODEL_COLORS", "MODEL_LABELS", "degree_color", "dynamics_panels", "mean_band",
    "seed_bars", "set_style", "subplots",
    # targets
    "Target", "captured", "dense_quadratic", "gegenbauer_index", "hermite_index", "linear", "mix",
    "random_direction", "relative_mse", "sparse_monomial",
    # training and penalties
    "R1Penalty", "bl_penalty", "bl_penalty_grad", "sign_flip_expected_loss", "History", "predict",
    "stable_lr", "top_eigenvalue", "train",
]


def __getattr__(name: str):
    """Lazy submodules: ``en.symbolic`` (sympy, ~0.3 s) and ``en.schematics`` (pyplot) load on first use."""
    if name in ("symbolic", "schematics", "bench"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'escape_ntk' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"symbolic", "schematics", "bench"})
