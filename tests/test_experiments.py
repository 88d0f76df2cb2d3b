"""experiments.py: the multi-seed comparison of the combined-model chapter, at tiny sizes."""

import math

import matplotlib
import numpy as np
import pytest
import torch

import escape_ntk as en
from escape_ntk import experiments as ex

matplotlib.use("Agg")

TINY = ex.Setting("tiny", d=6, n=40, m=20, act="softplus_shift", k=1, p=2, steps=30, lam=1.0,
                  n_test=200)
TINY_B = TINY.replace(name="tinyB", d=5, n=60, act="relu3", k=2, p=3)


def rows(setting=TINY, runs=ex.HEADLINE, n_seeds=2, seed=0, **kw):
    return ex.compare(setting, runs, n_seeds, torch.Generator().manual_seed(seed), **kw)


def test_setting_constants():
    assert (ex.SETTING_A.n_k, ex.SETTING_B.n_k) == (41, 230)
    assert TINY.replace(steps=5).steps == 5 and TINY.steps == 30


@pytest.mark.parametrize("setting", [TINY, TINY_B])
def test_prepare_shares_one_problem(setting):
    p = ex.prepare(setting, torch.Generator().manual_seed(1))
    assert p.taylor.X.dtype == torch.float32 and p.K.dtype == torch.float64
    assert p.taylor.X.shape == (setting.n, setting.d) and p.test.n == setting.n_test
    assert torch.equal(p.taylor.W0, p.test.W0)
    # the float64 Gram is the Taylor model's Gram, and the penalty's basis its top-n_k eigenvectors
    assert torch.allclose(p.taylor.gram().double(), p.K, rtol=1e-4, atol=1e-5)
    evals, evecs = torch.linalg.eigh(p.K)
    top = evecs[:, -setting.n_k:]
    P1, P2 = top @ top.T, p.penalty.U_k @ p.penalty.U_k.T
    assert (P1 - P2).abs().max() < 1e-8
    assert math.isclose(p.lr, setting.lr_factor * setting.n / float(evals[-1]), rel_tol=1e-12)
    # target: unit-norm orthogonal components with the setting's weights
    assert math.isclose(p.target.norm, 1.0) and len(p.target.components) == 2
    assert [g.degree for _, g in p.target.components] == [setting.k, setting.p]


def test_compare_rows_and_determinism():
    r1, r2 = rows(), rows()
    assert len(r1) == 2 * 4 and [r["label"] for r in r1[:4]] == ["L", "Q", "LQ", "LQ+R1"]
    keys = {"setting", "seed", "label", "model", "lam", "lr", "test", "train", "R1", "dense",
            "sparse", "components", "history"}
    assert set(r1[0]) == keys
    for a, b in zip(r1, r2, strict=True):
        assert a["test"] == b["test"] and a["dense"] == b["dense"] and np.isfinite(a["test"])
    assert [r["lam"] for r in r1[:4]] == [0.0, 0.0, 0.0, TINY.lam]
    # the NTK starts at U = 0 (train loss = mean y^2 at step 0); Q and LQ start at the same U0
    h = {r["label"]: r["history"] for r in r1[:4]}
    assert h["L"].norm_F[0] == 0 and h["Q"].norm_F[0] == h["LQ"].norm_F[0] > 0
    assert h["L"].steps[-1] == TINY.steps
    # a new seed is a new problem
    assert r1[0]["test"] != r1[4]["test"]


def test_penalty_choices_and_stable_lr():
    p = ex.prepare(TINY, torch.Generator().manual_seed(2))
    spec_rand = ex.Run("random", "LQ", lam=None, subspace="random")
    pen_r = ex.penalty_for(p, spec_rand)
    assert pen_r.n_k == TINY.n_k and pen_r is ex.penalty_for(p, spec_rand)   # drawn once
    assert ex.penalty_for(p, ex.Run("x", "LQ", n_k=1)).n_k == 1
    assert ex.penalty_for(p, ex.Run("x", "LQ")) is p.penalty
    with pytest.raises(ValueError, match="unknown subspace"):
        ex.penalty_for(p, ex.Run("x", "LQ", subspace="bogus"))
    # a large penalty on a random subspace lowers the learning rate to a stable one
    h = ex.run(p, ex.Run("random", "LQ", lam=30.0, subspace="random"))
    assert h.lr < p.lr
    assert h.lr * en.top_eigenvalue(p.taylor, 30.0, pen_r) < 1
    assert np.isfinite(h.train).all()


def test_summaries_and_table():
    r = rows(n_seeds=3)
    s = ex.summarize(r, "test")
    v = ex.values(r, "Q", "test")
    assert v.shape == (3,) and s["Q"] == pytest.approx((v.mean(), v.std()))
    table = ex.markdown_table(r, names={"test": "err"})
    lines = table.splitlines()
    assert lines[0].startswith("| model | err |") and len(lines) == 2 + 4 and "±" in lines[2]
    html = ex.html_table(r, names={"test": "err<1>"})
    assert html.count("<tr>") == 1 + 4 and "err&lt;1&gt;" in html
    assert lines[2].split("|")[2].strip() in html
    S = ex.series(r, "LQ+R1", "sparse")
    assert S.shape == (3, len(r[0]["history"].steps))
    assert S[:, -1] == pytest.approx(ex.values(r, "LQ+R1", "sparse"))
    assert ex.series(r, "L", "test").shape == S.shape


def test_bad_settings_raise():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="k = 3"):
        ex.make_target(TINY.replace(k=3, p=4), g)
    with pytest.raises(ValueError, match="must exceed"):
        ex.make_target(TINY.replace(p=1), g)
    with pytest.raises(ValueError, match="n_seeds"):
        rows(n_seeds=0)


def test_seed_bars_draws_one_bar_per_label_and_value():
    import matplotlib.pyplot as plt
    r = rows(n_seeds=2)
    fig, ax = plt.subplots()
    en.plotting.seed_bars(ax, r, ("dense", "sparse"))
    assert len(ax.patches) == 2 * 4
    plt.close(fig)


def test_seed_table_names_models_as_the_figures_do():
    r = rows(n_seeds=2)
    t = ex.seed_table(r, {"test": "error"}, columns=("test",))
    assert t.header == ["model", "error"] and len(t.cells) == 4
    assert t.cells[0][0] == en.MODEL_LABELS["L"] and "±" in t.cells[0][1]
    assert t.cells[0][1] == ex.markdown_table(r, columns=("test",)).splitlines()[2].split("|")[2].strip()


def test_dynamics_panels_plots_the_seed_mean_against_log_d_t_from_t_1():
    import matplotlib.pyplot as plt
    steps = np.array([0, 1, 10, 100])
    Y = np.array([[5.0, 1.0, 2.0, 3.0], [5.0, 3.0, 4.0, 5.0]])
    fig, axes = en.dynamics_panels([("run", steps, {"R1": Y, "test": Y[:1]})], 10,
                                   keys=("R1", "test"), titles=("A", "B"))
    line = axes[0].lines[0]
    assert np.allclose(line.get_xdata(), [0.0, 1.0, 2.0])  # log_10 t, from t = 1
    assert np.allclose(line.get_ydata(), [2.0, 3.0, 4.0])  # the mean over seeds
    assert len(axes[0].collections) == 1 and not axes[1].collections  # a band only with seeds
    assert [ax.get_title() for ax in axes] == ["A", "B"]
    plt.close(fig)


def test_dynamics_panels_draws_reference_runs_in_grey_after_the_coloured_ones():
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt
    steps = np.array([1, 10])
    run = ("run", steps, {"R1": [[1.0, 2.0]]})
    ref = ("ref", steps, {"R1": [[3.0, 4.0]]})
    fig, axes = en.dynamics_panels([run], 10, keys=("R1",), colors=["C1"], reference=[ref])
    lines = axes[0].lines
    assert [ln.get_label() for ln in lines] == ["run", "ref"]
    assert np.allclose(lines[1].get_ydata(), [3.0, 4.0])
    assert mcolors.same_color(lines[1].get_color(), "0.6")
    assert mcolors.same_color(lines[0].get_color(), "C1")
    plt.close(fig)
