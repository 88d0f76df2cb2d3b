"""schematics.py: each picture is a Figure with the artists it promises, and bad input is refused."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402

import escape_ntk as en  # noqa: E402
from escape_ntk import schematics as sch  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_taylor_split_draws_three_curves_and_the_ntk_band():
    eps = np.linspace(-2, 2, 41)
    fig = sch.taylor_split(eps, np.sin(eps), eps, 0.3 * eps**2)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert sum(lab.startswith(("network", "$f_L")) for lab in labels) == 3
    assert any(p.get_alpha() == 0.08 for p in ax.patches)          # the shaded NTK band
    line = [ln for ln in ax.get_lines() if ln.get_label().startswith("network")][0]
    assert np.allclose(line.get_ydata(), np.sin(eps))               # the data are drawn, not redrawn


def test_taylor_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="f_Q has 3 entries"):
        sch.taylor_split([0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2])


def test_staircase_two_panels_one_bar_per_degree():
    d, deg = 10, np.arange(4)
    kappa = en.ntk_eigenvalues("softplus_shift", d, deg)
    B = [en.harmonic_dimension(d, l) for l in deg]
    fig = sch.staircase(deg, kappa, B, d)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    for ax, vals in zip(fig.axes, (kappa, B), strict=True):
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert len(bars) == 4 and ax.get_yscale() == "log"
        assert np.allclose([b.get_height() for b in bars], vals)
        assert len(ax.get_lines()) == 1                              # the guide d^{1-l} or d^l/l!


def test_staircase_rejects_nonpositive_eigenvalues():
    with pytest.raises(ValueError, match="positive"):
        sch.staircase([0, 1], [1.0, 0.0], [1, 3], 3)


def test_good_bad_directions_two_paths_and_arrows():
    fig = sch.good_bad_directions()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    paths = [ln for ln in ax.get_lines() if "f_L+f_Q" in ln.get_label()]
    assert len(paths) == 2
    # the penalized path ends far up the good axis and near zero on the bad one
    pen = [ln for ln in paths if "R_1" in ln.get_label()][0]
    assert abs(pen.get_xdata()[-1]) < 0.1 and pen.get_ydata()[-1] > 1
    assert sum(isinstance(p, FancyArrowPatch) for p in ax.patches) == 2
    assert "bad" in ax.get_xlabel() and "good" in ax.get_ylabel()


def test_two_mechanisms_boxes_and_arrows():
    fig = sch.two_mechanisms()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert sum(isinstance(p, FancyBboxPatch) for p in ax.patches) == 6
    assert sum(isinstance(p, FancyArrowPatch) for p in ax.patches) == 4
    text = " ".join(t.get_text() for t in ax.texts)
    assert "f_L" in text and "f_Q" in text and "dense" in text and "sparse" in text
