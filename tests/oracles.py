"""Independent numerical oracles and the shared test scaffolding.

- ``TOL`` / ``DTYPE_TOL``: the one dtype-tolerance table (relative to the oracle's scale).
- ``make_problem``: the one factory of a small random problem (also the ``problem`` fixture).
- ``network_jacobian``: the explicit n x md Jacobian of f(x; W) = sigma(X W^T) a in W by
  torch.func.jacrev of the plain network (independent of escape_ntk's Taylor and Gram code).
- ``bivariate_expectation``: E[f(g) f(g')] for correlated standard normals by Gauss–Hermite.
"""

from types import SimpleNamespace

import numpy as np
import torch
from numpy.polynomial import hermite_e
from torch.func import jacrev

import escape_ntk as en

TOL = {torch.float64: 1e-12, torch.float32: 1e-5}
DTYPE_TOL = list(TOL.items())
DTYPES = list(TOL)


def make_problem(n=40, m=16, d=5, dtype=torch.float64, act="softplus_shift", seed=0, n_test=None):
    """A small problem drawn in a fixed order from one generator: X (n, d) on the sphere, then
    X_test (n_test, d) if asked, then (W0, a) (paired symmetric). Returns a namespace with X, X_test,
    W0, a, taylor, test (Taylor at X_test or None), act, dtype and g (the generator, for more draws)."""
    g = torch.Generator().manual_seed(seed)
    X = en.sample_sphere(n, d, g, dtype)
    X_test = None if n_test is None else en.sample_sphere(n_test, d, g, dtype)
    W0, a = en.init_symmetric(m, d, g, dtype)
    taylor = en.Taylor(X, W0, a, act)
    test = None if X_test is None else en.Taylor(X_test, W0, a, act)
    return SimpleNamespace(X=X, X_test=X_test, W0=W0, a=a, taylor=taylor, test=test, act=act,
                           dtype=dtype, g=g, n=n, m=m, d=d)


def randn(g, *shape, dtype=torch.float64, scale=1.0):
    """Gaussian draws made in float64 and cast, so both dtypes see the same numbers."""
    return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).to(dtype)


def network_jacobian(X, W, a, act):
    """J (n, m d): row i is d f(x_i; W) / d W for f(x; W) = sigma(x . w_r) a summed over r."""
    sigma = en.activation(act).sigma
    return jacrev(lambda V: sigma(X @ V.T) @ a)(W).reshape(X.shape[0], -1)


def bivariate_expectation(f, t, nodes=80):
    """E[f(g) f(g')] for a standard bivariate normal (g, g') with correlation t, by 2-D Gauss–Hermite."""
    z, w = hermite_e.hermegauss(nodes)
    w = w / w.sum()
    g, xi = np.meshgrid(z, z, indexing="ij")
    W = np.outer(w, w)
    return np.array([np.sum(W * f(g) * f(ti * g + np.sqrt(1 - ti**2) * xi)) for ti in t])

