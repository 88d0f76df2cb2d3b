"""Schematic pictures of the book's story, for the overview page.

Each function draws one picture and returns its ``matplotlib.figure.Figure``. Where a picture shows
quantities (the Taylor terms along a ray, the staircase) the caller computes them with the library
and passes them in, so the picture is of real numbers; the two diagrams (good and bad directions,
the two mechanisms) are cartoons and say so in their titles. Cost: drawing only, O(len(inputs)).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .plotting import DEGREE_COLORS, MODEL_COLORS, degree_color


def _vector(v, name: str, n: int | None = None) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).ravel()
    if v.size < 2 or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must hold at least 2 finite numbers; got {v.size} entries "
                         f"({int((~np.isfinite(v)).sum())} non-finite). Pass the computed values.")
    if n is not None and v.size != n:
        raise ValueError(f"{name} has {v.size} entries but the first argument has {n}; pass one "
                         f"value per point.")
    return v


def taylor_split(eps, f, f_L, f_Q, ax=None):
    """The Taylor split f = f_L + f_Q + ... along a ray U = eps U_1, at one input x.

    eps (k,) movement sizes (sorted, through 0); f, f_L, f_Q (k,) the network f(x; W0 + eps U_1) and
    its linear and quadratic terms at those eps (e.g. from ``en.Taylor``). Draws f, f_L and f_L + f_Q
    against eps and shades the small-eps band where f ~ f_L (the NTK regime). Returns the Figure.
    """
    eps = _vector(eps, "eps")
    f, f_L, f_Q = (_vector(v, nm, eps.size) for v, nm in ((f, "f"), (f_L, "f_L"), (f_Q, "f_Q")))
    fig, ax = _axes(ax, (5.2, 3.4))
    # the NTK band: where the quadratic term is below 20 % of the linear one
    small = np.abs(f_Q) <= 0.2 * np.maximum(np.abs(f_L), 1e-300)
    if small.any():
        lo, hi = eps[small].min(), eps[small].max()
        ax.axvspan(lo, hi, color=MODEL_COLORS["L"], alpha=0.08, lw=0)
        ax.text((lo + hi) / 2, 0.97, "NTK regime:\n$f\\approx f_L$", transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=8, color=MODEL_COLORS["L"])
    ax.plot(eps, f, color="k", lw=2.4, label="network $f$")
    ax.plot(eps, f_L, color=MODEL_COLORS["L"], ls="--", label="$f_L$ (linear, NTK)")
    ax.plot(eps, f_L + f_Q, color=MODEL_COLORS["Q"], ls="-.", label="$f_L+f_Q$ (+ quadratic)")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set(xlabel=r"size $\varepsilon$ of the movement $U=\varepsilon U_1$", ylabel="$f(x)$ at one input")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8)  # never on the data
    return fig


def staircase(degrees, kappa, B, d: int, axes=None):
    """The NTK staircase in two panels: eigenvalue kappa_l against degree l, and multiplicity B(d, l).

    degrees (L,) integers; kappa (L,) the Funk–Hecke eigenvalues (``en.ntk_eigenvalues``); B (L,) the
    multiplicities (``en.harmonic_dimension``); d the input dimension, for the guides d^{1-l} and
    d^l / l!. ``axes``: two Axes or None. Returns the Figure.
    """
    degrees = np.asarray(degrees, dtype=int).ravel()
    kappa = _vector(kappa, "kappa", degrees.size)
    B = _vector(B, "B", degrees.size)
    if np.any(kappa <= 0) or np.any(B <= 0):
        raise ValueError("kappa and B must be positive to be drawn on a log scale; drop the degrees "
                         "whose eigenvalue vanishes (e.g. by parity).")
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.2))
    else:
        fig = axes[0].figure
    ax1, ax2 = axes
    cols = [degree_color(l) for l in degrees]
    ax1.bar(degrees, kappa, color=cols, width=0.6)
    ref = degrees >= 1
    if ref.any():
        l1 = degrees[ref][0]
        guide = kappa[ref][0] * float(d) ** (l1 - degrees[ref])
        ax1.plot(degrees[ref], guide, "k:", lw=1, label=r"$\propto d^{1-l}$")
        ax1.legend(loc="upper right")
    ax1.set(yscale="log", xlabel="degree $l$", ylabel=r"eigenvalue $\kappa_l$",
            title="each degree: one step down by $\\approx d$")
    ax2.bar(degrees, B, color=cols, width=0.6)
    fact = np.array([float(np.prod(np.arange(1, l + 1))) for l in degrees])
    ax2.plot(degrees, float(d) ** degrees / fact, "k:", lw=1, label=r"$d^l/l!$")
    ax2.legend(loc="upper left")
    ax2.set(yscale="log", xlabel="degree $l$", ylabel="multiplicity $B(d,l)$",
            title="samples to learn degree $l$: $n \\geq B(d,l)$")
    ax2.set_ylim(bottom=0.5)
    for ax in axes:
        ax.set_xticks(degrees)
    return fig


def good_bad_directions(ax=None):
    """Cartoon of parameter space seen by the linear term f_L, and what the penalty R_1(U) does.

    Horizontal: a direction visible on the training data (f_L(X; U) != 0) outside the top n_k
    eigendirections, i.e. nearly invisible in the population: moving there memorizes (bad). Vertical:
    a direction invisible on the training data (f_L(X; U) = 0), free for f_Q (good). The shading is
    R_1(U), which grows only horizontally. Two paths of the movement U: without the penalty it drifts
    into the bad direction; with lambda R_1(U) it stays in the good one. A cartoon, not data.
    """
    fig, ax = _axes(ax, (5.2, 4.0))
    g = np.linspace(-0.3, 1.6, 200)
    Xg, Yg = np.meshgrid(g, g)
    ax.contourf(Xg, Yg, Xg**2, levels=8, cmap="Reds", alpha=0.45)
    t = np.linspace(0, 1, 60)
    free = (1.05 * t, 1.35 * t**0.8)                   # unpenalized: memorizes in the bad direction
    pen = (0.12 * np.sin(np.pi * t), 1.45 * t)         # with lambda R_1: stays in the good direction
    ax.plot(*free, color=MODEL_COLORS["LQ"], lw=2.2, label="$f_L+f_Q$: drifts into memorization")
    ax.plot(*pen, color=MODEL_COLORS["LQ+R1"], lw=2.2, label=r"$f_L+f_Q+\lambda R_1(U)$")
    for (px, py), c in ((free, MODEL_COLORS["LQ"]), (pen, MODEL_COLORS["LQ+R1"])):
        ax.add_patch(FancyArrowPatch((px[-2], py[-2]), (px[-1], py[-1]), color=c,
                                     arrowstyle="-|>", mutation_scale=14))
    ax.plot([0], [0], "ko")
    ax.annotate("$U=0$ (the start $W_0$)", (0, 0), (0.08, -0.18), fontsize=8)
    ax.set(xlim=(-0.3, 1.6), ylim=(-0.3, 1.6), xticks=[], yticks=[],
           xlabel="bad: visible on the training data, not in the population\n"
                  "(outside the top $n_k$): $f_L$ memorizes; $R_1(U)$ grows",
           ylabel="good: invisible on the training data\n$f_L(X;U)=0$; free for $f_Q$",
           title="Parameter space (cartoon); shading: $R_1(U)$")
    ax.grid(False)
    ax.legend(loc="lower right", fontsize=7.5, framealpha=0.9, frameon=True)
    return fig


def two_mechanisms(ax=None):
    """Diagram: one network f = f_L + f_Q learns a dense low-degree part with its linear term and a
    sparse high-degree part with its quadratic term. Boxes and arrows only; returns the Figure."""
    fig, ax = _axes(ax, (7.2, 3.3))
    ax.set(xlim=(0, 10.15), ylim=(0, 6))
    ax.axis("off")
    dense, sparse = DEGREE_COLORS[1], DEGREE_COLORS[3]
    boxes = [
        (0.2, 2.2, 2.4, 1.6, "target\n$f^\\star=f_k+f_{sp}$", "0.85"),
        (3.6, 3.9, 3.0, 1.7, "dense, degree $\\leq k$\nmany directions\n$f_k$", dense),
        (3.6, 0.4, 3.0, 1.7, "sparse, degree $p>k$\nfew directions\n$f_{sp}(x)=g(\\beta\\cdot x)$", sparse),
        (7.4, 3.9, 2.4, 1.7, "$f_L$ (NTK term)\ntop $n_k$ directions\n$n \\geq n_k$ samples",
         MODEL_COLORS["L"]),
        (7.4, 0.4, 2.4, 1.7, "$f_Q$ (quadratic)\ngood directions,\nkept there by $R_1(U)$",
         MODEL_COLORS["Q"]),
    ]
    for x, y, w, h, text, col in boxes:
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.08", fc=col, ec="k",
                                    alpha=0.25, lw=1))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.5)
    arrows = [((2.6, 3.3), (3.6, 4.7)), ((2.6, 2.7), (3.6, 1.25)), ((6.6, 4.75), (7.4, 4.75)),
              ((6.6, 1.25), (7.4, 1.25))]
    for a, b in arrows:
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, color="k", lw=1))
    ax.add_patch(FancyBboxPatch((7.2, 0.15), 2.8, 5.7, boxstyle="round,pad=0.05", fc="none",
                                ec="k", ls="--", lw=1))
    ax.text(8.6, 3.0, "one network\n$f=f_L+f_Q+\\dots$", ha="center", va="center", fontsize=8.5,
            fontweight="bold")
    return fig


def _axes(ax, size):
    if ax is None:
        return plt.subplots(figsize=size)
    return ax.figure, ax
