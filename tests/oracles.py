"""Independent numerical oracles shared by the unit tests."""

import numpy as np
from numpy.polynomial import hermite_e


def bivariate_expectation(f, t, nodes=80):
    """E[f(g) f(g')] for a standard bivariate normal (g, g') with correlation t, by 2-D Gauss–Hermite."""
    z, w = hermite_e.hermegauss(nodes)
    w = w / w.sum()
    g, xi = np.meshgrid(z, z, indexing="ij")
    W = np.outer(w, w)
    return np.array([np.sum(W * f(g) * f(ti * g + np.sqrt(1 - ti**2) * xi)) for ti in t])
