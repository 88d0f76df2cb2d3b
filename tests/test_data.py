"""Input sampling: sphere radius, isotropy E[x x^T] = I, determinism, dtypes, errors."""

import math

import pytest
import torch
from oracles import DTYPE_TOL

import escape_ntk as en


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype,tol", DTYPE_TOL)
def test_sphere_rows_have_norm_sqrt_d(dtype, tol):
    for d in (2, 7, 50):
        X = en.sample_sphere(300, d, _gen(), dtype=dtype)
        assert X.shape == (300, d) and X.dtype == dtype
        assert torch.allclose(X.double().norm(dim=1), torch.full((300,), math.sqrt(d),
                              dtype=torch.float64), rtol=tol, atol=0)


@pytest.mark.parametrize("dist", ["sphere", "gaussian"])
def test_second_moment_is_identity(dist):
    n, d = 40000, 5
    X = en.sample_inputs(n, d, _gen(1), dist=dist)
    C = X.T @ X / n
    # entries of x x^T have standard deviation <= sqrt(2) here; 5 standard errors
    assert (C - torch.eye(d, dtype=X.dtype)).abs().max() < 5 * math.sqrt(2 / n)
    assert X.mean(0).abs().max() < 5 / math.sqrt(n)


def test_gaussian_is_standard_normal():
    X = en.sample_gaussian(40000, 3, _gen(2))
    assert abs(float(X.std()) - 1) < 0.01
    assert abs(float((X**4).mean()) - 3) < 0.1  # kurtosis of N(0, 1)


def test_determinism_and_dtypes():
    a, b = en.sample_sphere(50, 4, _gen(3)), en.sample_sphere(50, 4, _gen(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, en.sample_sphere(50, 4, _gen(4)))
    f32 = en.sample_sphere(50, 4, _gen(3), dtype=torch.float32)
    assert torch.equal(f32, a.float())  # same points in both dtypes
    assert torch.equal(en.sample_inputs(50, 4, _gen(5), dist="gaussian"),
                       en.sample_gaussian(50, 4, _gen(5)))
    assert torch.equal(en.sample_inputs(50, 4, _gen(3)), a)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="d must be an integer >= 2"):
        en.sample_sphere(10, 1, _gen())
    with pytest.raises(ValueError, match="d must be an integer >= 2"):
        en.sample_gaussian(10, 2.5, _gen())
    with pytest.raises(ValueError, match="n must be a positive integer"):
        en.sample_sphere(0, 3, _gen())
    with pytest.raises(ValueError, match="unknown input distribution 'cube'"):
        en.sample_inputs(10, 3, _gen(), dist="cube")
