"""Regenerate the README's headline figure, docs/headline.png, with the library.

It is the experiment of the combined-model chapter (chapters/07-combined.md, "The headline: setting A"):
setting A, (k, p) = (1, 2), d = 40, n = 250; the NTK f_L, the QuadNTK f_Q, f_L + f_Q and f_L + f_Q + lam R_1
trained from one initialization per seed, three seeds, mean and standard deviation. The chapter's figure is
the reference; this script only makes a small PNG for readers who arrive at the repository page.

    .venv/bin/python tools/make_readme_figure.py [--out docs/headline.png]

About 10-20 s on 2 cores. It checks the headline before writing, so a broken library cannot refresh the
picture with a wrong result.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

import escape_ntk as en  # noqa: E402
from escape_ntk import experiments as ex  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def headline_rows(seed: int = 0, n_seeds: int = 3) -> list[dict]:
    """Setting A, the four headline models, `n_seeds` seeds from one generator seeded with `seed`."""
    gen = torch.Generator().manual_seed(seed)
    return ex.compare(ex.SETTING_A, ex.HEADLINE, n_seeds=n_seeds, generator=gen)


def check(rows: list[dict]) -> None:
    """The chapter's headline check: the penalized model's test error is at most half the best baseline's,
    and it captures both components (>= 0.8 each, every seed)."""
    test = ex.summarize(rows, "test")
    best_base = min(test[k][0] for k in ("L", "Q", "LQ"))
    if not test["LQ+R1"][0] <= 0.5 * best_base:
        raise RuntimeError(f"headline not reproduced: {test}")
    for v in ("dense", "sparse"):
        if ex.values(rows, "LQ+R1", v).min() < 0.8:
            raise RuntimeError(f"penalized model misses the {v} part: {ex.values(rows, 'LQ+R1', v)}")


def plot(rows: list[dict], out: Path) -> None:
    en.set_style()
    fig, (ax1, ax2) = en.subplots(1, 2, width=8.4, height=3.0)
    en.plotting.seed_bars(ax1, rows, ("test",))
    ax1.set(ylabel="test MSE / Var $f^\\star$", title="relative test error (lower is better)")
    names = {"dense": r"linear $\beta\cdot x$", "sparse": r"quadratic $g_2(\beta\cdot x)$"}
    en.plotting.seed_bars(ax2, rows, ("dense", "sparse"), names=names)
    ax2.axhline(1, color="k", lw=0.8, ls=":")
    ax2.set(ylabel="captured fraction", title="which component is learned", ylim=(0, 1.45))
    ax2.legend(loc="upper left", ncol=2)
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "headline.png")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    rows = headline_rows()
    check(rows)
    plot(rows, args.out)
    test = ex.summarize(rows, "test")
    print(", ".join(f"{k}: {m:.3f} ± {s:.3f}" for k, (m, s) in test.items()))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB) in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
