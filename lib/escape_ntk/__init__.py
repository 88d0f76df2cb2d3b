"""escape_ntk: the library behind the book *Escaping the NTK Regime* (Nichani, Bai & Lee, NeurIPS 2022).

Import it as ``import escape_ntk as en``. Conventions: inputs x on S^{d-1}(sqrt d) (Gaussian optional),
first layer W0 with rows N(0, I_d/d), second layer a_r = +-1/sqrt(m) with paired symmetric initialization,
only the first layer is trained. All randomness comes from an explicit ``torch.Generator``.
"""

from . import experiments, learning, schematics, symbolic

# Inputs, activations, figures (chapter 1)
from .activations import ACTIVATIONS, Activation, activation
from .data import sample_gaussian, sample_inputs, sample_sphere

# Harmonic analysis and the infinite-width NTK (chapters 2-4)
from .harmonics import (
    MAX_DEGREE,
    MAX_TERMS,
    funk_hecke,
    gegenbauer,
    gegenbauer_moments,
    harmonic_dimension,
    hermite_coefficients,
    hermite_normalized,
    hermite_polynomial,
    normal_expectation,
    ntk_degree_mass,
    ntk_eigenvalues,
    ntk_eigenvalues_leading,
    ntk_series_coefficients,
    ntk_trace,
    self_induced_ridge,
    sphere_expectation,
)
from .infinite import NTKProfile, ntk_gram_inf, ntk_profile

# The network, its Taylor terms, Grams and spectra (chapters 1, 3, 5)
from .kernels import gram_from_features, kernel_ridge, ntk_gram
from .models import Taylor, init_symmetric, network, norm_24, random_signs, scale_movement, sign_flip
from .directions import linear_energy, rayleigh_quotients
from .spectra import block_means, eigvalsh, param_eigendirections, top_eigh
from .plotting import DEGREE_COLORS, MODEL_COLORS, MODEL_LABELS, degree_color, mean_band, set_style, subplots
from .tables import Table, table

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

# Training, the good-direction penalty and the combined experiments (chapters 4-7)
from .regularizers import R1Penalty, bl_penalty, bl_penalty_grad, n_k, sign_flip_expected_loss
from .train import MODELS, History, TrainingDiverged, predict, small_init, stable_lr, top_eigenvalue, train
from .experiments import HEADLINE, SETTING_A, SETTING_B, Run, Setting, compare

from ._version import __version__
