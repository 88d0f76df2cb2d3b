"""How visible a movement is to the linear term: Rayleigh quotients and the sign-averaged energy.

The population linear term of a movement U (m, d) is ||f_L(.; U)||^2_{L^2} = U^T Sigma U, with the
NTK covariance Sigma = E_x[phi(x) phi(x)^T] (md x md, never formed). Both functions estimate it on
the inputs of a Taylor object (pass fresh inputs for population values). Chapters: good directions
(Rayleigh quotients, quadratic-scale movements), QuadNTK (Bai-Lee sign flips).
"""

from __future__ import annotations

import torch

from ._checks import check_taylor
from .models import Taylor


def _check(taylor, U, batch: bool) -> torch.Tensor:
    check_taylor(taylor)
    return taylor.check_movement(U, batch=batch, cast=True)


def rayleigh_quotients(taylor: Taylor, V) -> torch.Tensor:
    """q(V_j) = (1/n) ||f_L(X; V_j)||^2 / ||V_j||_F^2, float64; V (m, d) -> (), (k, m, d) -> (k,).

    Monte Carlo estimate of V^T Sigma V / ||V||_F^2 over the Taylor object's n inputs: about
    lambda_l along a degree-l spike of the NTK, E sigma'^2 / m along a random direction, 0 along
    pair-symmetric ones. One batched phi_matvec: O(nmdk) flops, O(ndk) memory.
    """
    V = _check(taylor, V, batch=True)
    norms2 = V.double().flatten(-2).square().sum(-1)
    if bool((norms2 == 0).any()):
        raise ValueError("a direction V_j is zero and has no Rayleigh quotient; "
                         "pass nonzero directions.")
    F = taylor.phi_matvec(V).double()                      # (n,) or (n, k)
    return F.square().mean(0) / norms2


def linear_energy(taylor: Taylor, U) -> torch.Tensor:
    """E_S f_L(x_i; SU)^2 = sum_r a_r^2 sigma'(w_{0,r}.x_i)^2 (u_r.x_i)^2 per input, shape (n,).

    S = diag(s) with s uniform in {+-1}^m (Bai & Lee): the cross terms vanish because
    E s_r s_r' = delta_rr'. It is the penalty in en.sign_flip_expected_loss, and its mean over the
    inputs is the sign-averaged numerator of the Rayleigh quotient. O(nmd) flops, O(nm) memory.
    """
    U = _check(taylor, U, batch=False)
    return taylor._linear_energy(taylor.X @ U.T)
