"""Activations: exact derivatives vs torch.func autodiff (f64, f32), NumPy/torch in and out."""

import math

import numpy as np
import pytest
import torch
from oracles import TOL
from torch.func import grad, vmap

import escape_ntk as en

NAMES = sorted(en.ACTIVATIONS)
KINKED = {"relu", "relu3"}  # derivatives jump at 0: compare away from it


def _points(name, dtype):
    z = torch.linspace(-4, 4, 161, dtype=torch.float64)
    if name in KINKED:
        z = z[z.abs() > 0.05]
    return z.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_autodiff(name, k, dtype):
    act = en.activation(name)
    z = _points(name, dtype)
    lower, exact = act.derivative(k - 1), act.derivative(k)
    auto = vmap(grad(lambda s: lower(s)))(z)
    scale = max(1.0, float(exact(z).abs().max()))
    assert torch.allclose(exact(z), auto, rtol=0, atol=TOL[dtype] * scale), (name, k)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_in_numpy_out_and_torch_dtype_kept(name):
    act = en.activation(name)
    z = np.linspace(-3, 3, 13)
    for k in range(4):
        f = act.derivative(k)
        out = f(z)
        assert isinstance(out, np.ndarray) and out.dtype == np.float64
        np.testing.assert_allclose(out, f(torch.from_numpy(z)).numpy(), rtol=0, atol=1e-15)
        assert f(torch.from_numpy(z).float()).dtype == torch.float32
        assert isinstance(f(0.5), np.ndarray)  # floats are promoted to float64 arrays
    assert np.allclose(act(z), act.sigma(z))


def test_known_values():
    assert en.activation("softplus_shift").sigma(1.0) == pytest.approx(math.log(2), abs=1e-15)
    assert en.activation("sigmoid_shift").sigma(1.0) == pytest.approx(0.5, abs=1e-15)
    relu3 = en.activation("relu3")
    assert relu3.sigma(2.0) == pytest.approx(8 / 6) and relu3.sigma(-2.0) == 0
    assert relu3.d2sigma(1.5) == pytest.approx(1.5)  # sigma'' = ReLU
    assert en.activation("erf").dsigma(0.0) == pytest.approx(2 / math.sqrt(math.pi))
    assert not en.activation("relu").smooth and en.activation("tanh").smooth


def test_lookup_and_errors():
    act = en.activation("tanh")
    assert en.activation(act) is act and repr(act) == "Activation('tanh')"
    with pytest.raises(ValueError, match="unknown activation 'swish'.*choose one of"):
        en.activation("swish")
    with pytest.raises(ValueError, match="derivative order must be 0, 1, 2 or 3"):
        act.derivative(4)
