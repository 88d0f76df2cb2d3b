"""The book's figure style and the plots that more than one chapter draws.

`set_style()` is called once per chapter (in its import cell); every figure then shares fonts, sizes and colours.
Figures are returned (not shown) so chapters can add to them; Jupyter Book embeds them as 2x PNG.
matplotlib is imported on first use (``set_style`` or ``subplots``), so ``import escape_ntk``
stays fast for code that never plots.
"""

from __future__ import annotations

import numpy as np

#: One colour per degree l = 0, 1, 2, ... and per model, used consistently across chapters.
DEGREE_COLORS = ["#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
MODEL_COLORS = {"L": "#1f77b4", "Q": "#ff7f0e", "LQ": "#7f7f7f", "LQ+R1": "#2ca02c", "net": "#9467bd",
                "NTK": "#1f77b4", "QuadNTK": "#ff7f0e"}
MODEL_LABELS = {"L": "NTK $f_L$", "Q": "QuadNTK $f_Q$", "LQ": "$f_L+f_Q$", "LQ+R1": r"$f_L+f_Q+\lambda R_1$",
                "net": "network $f$"}


def set_style() -> None:
    """Apply the house style: compact sizes, no top/right spines, light grid, and sharp figures.

    In a notebook, figures are embedded as 2x ("retina") PNG: drawn at 220 dpi and shown at the size of 110 dpi, so
    they stay sharp on high-DPI screens and when zoomed. Files saved with savefig get 220 dpi.
    """
    import matplotlib as mpl  # lazy: matplotlib costs ~0.2 s to import

    _inline_retina()
    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.8), "figure.dpi": 110, "savefig.dpi": 220, "figure.autolayout": False,
        "figure.constrained_layout.use": True, "font.size": 10, "axes.titlesize": 10.5,
        "axes.labelsize": 10, "legend.fontsize": 8.5, "legend.frameon": False,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.25,
        "lines.linewidth": 1.6, "lines.markersize": 4.5, "image.cmap": "viridis",
    })


def _inline_retina() -> None:
    """Ask the notebook's inline backend for 2x PNG (with the 1x size as metadata); a no-op outside IPython."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def degree_color(l: int) -> str:
    return DEGREE_COLORS[l % len(DEGREE_COLORS)]


def subplots(nrows: int = 1, ncols: int = 1, width: float = 6.4, height: float = 3.8, **kw):
    """plt.subplots with the house size; `width`/`height` are the whole figure's, in inches."""
    import matplotlib.pyplot as plt  # lazy: pyplot costs ~0.2 s to import

    return plt.subplots(nrows, ncols, figsize=(width, height), **kw)


def mean_band(ax, x, Y, label=None, color=None, marker="o", **kw):
    """Plot the mean over rows of Y (seeds × points) with a ±1 std band."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    mu, sd = Y.mean(0), Y.std(0)
    (line,) = ax.plot(x, mu, marker=marker, label=label, color=color, **kw)
    if Y.shape[0] > 1:
        ax.fill_between(x, mu - sd, mu + sd, color=line.get_color(), alpha=0.2, lw=0)
    return line


def seed_bars(ax, rows, values=("test",), labels=None, colors=None, names=None, width=0.8):
    """Grouped bars of mean ± std over seeds: one group per run label, one bar per value.

    `rows`: the tidy rows of ``escape_ntk.experiments.compare`` (keys 'label' and each value). With
    one value, bars take the model colours (`colors` or MODEL_COLORS); with several, one colour per
    value (DEGREE_COLORS from degree 1 on) and a legend named by `names`. Returns the axes.
    """
    labels = list(dict.fromkeys(r["label"] for r in rows)) if labels is None else list(labels)
    names = names or {}
    x = np.arange(len(labels))
    w = width / len(values)
    for j, v in enumerate(values):
        data = [np.array([r[v] for r in rows if r["label"] == lab], dtype=float) for lab in labels]
        mu, sd = np.array([a.mean() for a in data]), np.array([a.std() for a in data])
        if len(values) == 1:
            col = [(colors or MODEL_COLORS).get(lab, DEGREE_COLORS[0]) for lab in labels]
        else:
            col = DEGREE_COLORS[(j + 1) % len(DEGREE_COLORS)]
        ax.bar(x + (j - (len(values) - 1) / 2) * w, mu, w * 0.92, yerr=sd, color=col, capsize=2,
               label=names.get(v, v) if len(values) > 1 else None)
    ax.set_xticks(x, [names.get(lab, MODEL_LABELS.get(lab, lab)) for lab in labels])
    if len(values) > 1:
        ax.legend()
    return ax


def dynamics_panels(runs, d: int, keys=("R1", "train", "test"), titles=None, colors=None,
                    width: float = 10.5, height: float = 3.3, reference=()):
    """The authors' three-panel figure: one panel per logged quantity, each run's mean ± std over
    seeds against log_d t, from t = 1 (log_d t = 0) on.

    `runs`: a list of (label, steps (T,), {key: values (seeds, T)}), one per run (curve); `d`: the
    base of the logarithm (the input dimension); `keys`: the quantities, one panel each, titled
    by `titles` (default: the keys); `colors`: one per run (default: viridis); `reference`: more
    runs in the same format, drawn in grey after them (a baseline to compare with). Returns
    (fig, axes); the caller sets scales, limits and reference lines. Cost O(runs x seeds x T).
    """
    runs = list(runs)
    if not runs:
        raise ValueError("dynamics_panels needs at least one run (label, steps, {key: values}).")
    if colors is not None and len(colors) != len(runs):
        raise ValueError(f"{len(colors)} colors for {len(runs)} runs; give one color per run.")
    if d < 2:
        raise ValueError(f"d is the base of log_d t and must be >= 2; got {d}.")
    titles = list(keys) if titles is None else list(titles)
    if len(titles) != len(keys):
        raise ValueError(f"{len(titles)} titles for {len(keys)} keys; give one title per key.")
    if colors is None:
        import matplotlib.pyplot as plt

        colors = plt.cm.viridis(np.linspace(0.05, 0.85, len(runs)))
    reference = list(reference)
    fig, axes = subplots(1, len(keys), width=width, height=height)
    axes = np.atleast_1d(axes)
    for (label, steps, series), color in zip(runs + reference,
                                             list(colors) + ["0.6"] * len(reference),
                                             strict=True):
        steps = np.asarray(steps)
        keep = steps >= 1
        for key, ax in zip(keys, axes, strict=True):
            if key not in series:
                raise ValueError(f"run {label!r} has no series {key!r} (it has "
                                 f"{sorted(series)}); drop the key or log it.")
            Y = np.atleast_2d(np.asarray(series[key], dtype=float))
            if Y.shape[1] != steps.size:
                raise ValueError(f"run {label!r}, series {key!r}: {Y.shape[1]} values per seed "
                                 f"for {steps.size} logged steps; they must match.")
            mean_band(ax, np.log(steps[keep]) / np.log(d), Y[:, keep], label=label,
                      color=color, marker=None)
    for ax, title in zip(axes, titles, strict=True):
        ax.set(xlabel=r"$\log_d t$", title=title)
    return fig, axes
