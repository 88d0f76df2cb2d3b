"""Learning thresholds and fitted exponents (escape_ntk.rates) and the rate sweeps' task."""

import math

import numpy as np
import pytest
import torch

import escape_ntk as en
from escape_ntk import rate_sweeps as rs
from escape_ntk import rates

NS = [2 ** (j / 4) * 16 for j in range(64)]


def _curve(nstar, seeds=4, jitter=0.0, rng=None):
    """Synthetic learning curves err(n) = 1 / (1 + (n / nstar)^2), crossing 0.5 at n = nstar."""
    ns = np.array(NS)
    E = np.empty((ns.size, seeds))
    for s in range(seeds):
        shift = 1.0 if rng is None else math.exp(jitter * rng.standard_normal())
        E[:, s] = 1 / (1 + (ns / (nstar * shift)) ** 2)
    return ns, E


def test_n_star_grid_and_interpolated():
    ns = np.array([10.0, 20.0, 40.0, 80.0])
    E = np.array([[0.9, 0.8], [0.6, 0.5], [0.2, 0.1], [0.01, 0.02]])
    s = rates.n_star(ns, E, 0.25)
    assert s.reached and s.value == 40.0 and s.grid_n == 40
    si = rates.n_star(ns, E, 0.25, interpolate=True)
    # mean errors 0.55 at 20 and 0.15 at 40: log-linear crossing
    t = (math.log(0.25) - math.log(0.55)) / (math.log(0.15) - math.log(0.55))
    assert si.value == pytest.approx(20 * 2 ** t, rel=1e-12)
    assert 20 < si.value < 40


def test_n_star_edges_are_not_silent():
    ns = [10, 20, 40]
    miss = rates.n_star(ns, [[0.9], [0.8], [0.7]], 0.25)
    assert not miss.reached and miss.value is None and miss.status == rates.NOT_REACHED
    assert "not reached" in str(miss)
    early = rates.n_star(ns, [[0.1], [0.05], [0.01]], 0.25)
    assert not early.reached and early.value is None and early.status == rates.BELOW_AT_START
    assert early.grid_n == 10


def test_n_star_uses_the_mean_over_seeds():
    ns = [10, 20, 40]
    E = [[0.9, 0.9], [0.1, 0.6], [0.1, 0.1]]      # mean 0.35 at n = 20: not yet below 0.25
    assert rates.n_star(ns, E, 0.25).value == 40


@pytest.mark.parametrize("degree,exponent", [(None, 2.0), (None, 3.0), (2, 1.0)])
def test_rate_fit_recovers_a_synthetic_exponent(degree, exponent):
    rng = np.random.default_rng(0)
    ds = [10, 14, 20, 28, 40]
    if degree is None:
        curves = {d: _curve(0.7 * d**exponent, jitter=0.05, rng=rng) for d in ds}
    else:
        curves = {d: _curve(3.0 * en.harmonic_dimension(d, degree), jitter=0.05, rng=rng)
                  for d in ds}
    f = rates.rate_fit(curves, 0.5, degree=degree, n_boot=200)
    assert abs(f.slope - exponent) < 0.05, f
    assert 0 < f.std < 0.1 and f.ci[0] < f.slope < f.ci[1]
    assert f.dropped == 0 and f.n_boot == 200
    assert len(f.nstar) == len(ds) and f.degree == degree
    c = 0.7 if degree is None else 3.0
    assert f.c == pytest.approx(c, rel=0.2)
    assert str(f).startswith("n* ~ ")


def test_rate_fit_bootstrap_width_tracks_seed_noise():
    ds = [10, 14, 20, 28, 40]
    quiet = rates.rate_fit({d: _curve(d**2.0, jitter=0.02, rng=np.random.default_rng(1))
                            for d in ds}, 0.5, n_boot=300)
    noisy = rates.rate_fit({d: _curve(d**2.0, jitter=0.3, rng=np.random.default_rng(1))
                            for d in ds}, 0.5, n_boot=300)
    assert noisy.std > 3 * quiet.std


def test_fit_exponent_exact_power_law():
    x = np.array([10.0, 20.0, 40.0])
    slope, c = rates.fit_exponent(x, 0.5 * x**2.5)
    assert slope == pytest.approx(2.5, abs=1e-12) and c == pytest.approx(0.5, rel=1e-12)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="not reached"):
        rates.rate_fit({10: ([10, 20], [[0.9], [0.8]]), 20: ([10, 20], [[0.9], [0.1]])}, 0.25)
    with pytest.raises(ValueError, match="increasing"):
        rates.n_star([20, 10], [[0.1], [0.2]], 0.25)
    with pytest.raises(ValueError, match="shape"):
        rates.n_star([10, 20], [[0.1, 0.2]], 0.25)
    with pytest.raises(ValueError, match="finite"):
        rates.n_star([10, 20], [[np.nan], [0.2]], 0.25)
    with pytest.raises(ValueError, match="threshold"):
        rates.n_star([10, 20], [[0.3], [0.2]], 0.0)
    with pytest.raises(ValueError, match="distinct"):
        rates.fit_exponent([10, 10], [1, 2])
    with pytest.raises(ValueError, match="positive"):
        rates.fit_exponent([10, 20], [0, 2])
    with pytest.raises(ValueError, match="degree"):
        rates.rate_fit({10: _curve(10), 20: _curve(40)}, 0.5, degree=0)
    with pytest.raises(ValueError, match="n_boot"):
        rates.rate_fit({10: _curve(10), 20: _curve(40)}, 0.5, n_boot=3)
    with pytest.raises(ValueError, match="at least two"):
        rates.rate_fit({10: _curve(10)}, 0.5)
    with pytest.raises(ValueError, match="lo"):
        rs.ngrid(10, 5)


def test_ngrid_is_geometric_and_covers():
    g = rs.ngrid(20, 200)
    assert g[0] <= 20 and g[-1] >= 200 and g == sorted(set(g))
    ratios = np.diff(np.log2(g))
    assert np.all(np.abs(ratios - 0.25) < 0.1)


def test_sweeps_are_registered_with_their_constants():
    for name in ("rates-a", "rates-b", "rates-dense"):
        sw = en.sweeps.get(name)
        assert {"threshold", "ridges", "steps", "lam", "m"} <= set(sw.fixed)
        assert len({t["seed"] for t in sw.tasks}) >= 3
        assert len({t["d"] for t in sw.tasks if t["model"] == "ntk"}) >= 4


def test_rate_point_ntk_equals_kernel_ridge_by_hand():
    """The "ntk" record is the float64 kernel ridge fit of en.ntk_gram_inf on the driver's draws."""
    fx = dict(rs.RATES_A.fixed, n_test=50)
    out = rs.rate_point(model="ntk", d=6, n=30, seed=3, device=torch.device("cpu"),
                        dtype=torch.float32, **fx)
    g = torch.Generator().manual_seed(3)
    X = en.sample_sphere(30, 6, g, torch.float64)
    Xt = en.sample_sphere(50, 6, g, torch.float64)
    s = en.experiments.SETTING_A.replace(d=6, n=30, n_test=50)
    f = en.experiments.make_target(s, g)
    K = en.ntk_gram_inf(X, act="softplus_shift")
    Kt = en.ntk_gram_inf(Xt, X, act="softplus_shift")
    for r, err in zip(fx["ridges"], out["test"], strict=True):
        pred = en.kernel_ridge(K, f(X), r, K_test=Kt)
        assert err == pytest.approx(float(((pred - f(Xt)) ** 2).mean()) / f.norm**2, rel=1e-10)
    assert len(out["dense"]) == len(out["sparse"]) == len(fx["ridges"])


def test_rate_point_gd_is_the_driver_run_and_rejects_bad_names():
    fx = dict(rs.RATES_A.fixed, n_test=50, steps=20)
    out = rs.rate_point(model="LQR1", d=6, n=30, seed=1, device=torch.device("cpu"),
                        dtype=torch.float32, **fx)
    s = en.experiments.SETTING_A.replace(d=6, n=30, n_test=50, steps=20)
    prob = en.experiments.prepare(s, torch.Generator().manual_seed(1), torch.float32)
    h = en.experiments.run(prob, en.experiments.HEADLINE[3], log_points=2)
    assert out["test"] == h.final("test") and out["R1"] == h.final("R1")
    fd = dict(rs.RATES_DENSE.fixed, n_test=50, steps=20)
    dense = rs.rate_point(model="Q", d=6, n=40, seed=0, device=torch.device("cpu"),
                          dtype=torch.float32, **fd)
    assert set(dense) == {"test", "train", "dense"} and dense["test"] > 0
    with pytest.raises(ValueError, match="model"):
        rs.rate_point(model="X", d=6, n=30, seed=0, device=torch.device("cpu"),
                      dtype=torch.float32, **fx)
    with pytest.raises(ValueError, match="target"):
        rs.rate_point(model="ntk", d=6, n=30, seed=0, device=torch.device("cpu"),
                      dtype=torch.float32, **dict(fx, target="C"))
    with pytest.raises(ValueError, match="'ntk' and 'Q'"):
        rs.rate_point(model="LQ", d=6, n=30, seed=0, device=torch.device("cpu"),
                      dtype=torch.float32, **fd)
