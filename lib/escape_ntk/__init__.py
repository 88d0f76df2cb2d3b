"""escape_ntk: the library behind the book *Escaping the NTK Regime* (Nichani, Bai & Lee, NeurIPS 2022).

Import it as ``import escape_ntk as en``. Conventions: inputs x on S^{d-1}(sqrt d) (Gaussian optional),
first layer W0 with rows N(0, I_d/d), second layer a_r = +-1/sqrt(m) with paired symmetric initialization,
only the first layer is trained. All randomness comes from an explicit ``torch.Generator``.
"""

# --- harmonics / symbolic / targets (function side) ---
from . import symbolic
from .activations import ACTIVATIONS, Activation, activation
from .data import sample_gaussian, sample_inputs, sample_sphere
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

# --- models / kernels / spectra (network side) ---
from .kernels import gram_from_features, kernel_ridge, ntk_gram
from .models import Taylor, init_symmetric, network, norm_24, random_signs, scale_movement, sign_flip
from .plotting import DEGREE_COLORS, MODEL_COLORS, MODEL_LABELS, degree_color, mean_band, set_style, subplots

# --- train / regularizers ---
from .regularizers import R1Penalty, bl_penalty, bl_penalty_grad, n_k, sign_flip_expected_loss
from .spectra import block_means, eigvalsh, param_eigendirections, top_eigh
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
from .train import MODELS, History, TrainingDiverged, predict, small_init, stable_lr, top_eigenvalue, train

__version__ = "0.1.0"
# --- learning (chapters 3-4) ---
from . import learning  # noqa: E402

# --- directions (chapters 5-6) ---
from .directions import linear_energy, rayleigh_quotients  # noqa: E402

# --- experiments (chapter 7) ---
from .experiments import HEADLINE, SETTING_A, SETTING_B, Run, Setting, compare  # noqa: E402
