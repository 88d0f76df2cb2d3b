"""Stored sweeps for chapters: a tidy table, a provenance note, and a live recompute of a sample.

A chapter that shows a stored sweep does three things::

    df = en.results.load("ntk-regression")          # one row per task: params, metrics, wall_s
    en.results.check("ntk-regression", k=3)         # recompute 3 seeded-random records, assert
    print(en.results.provenance("ntk-regression"))  # commit, date, device, compute, command

``load`` verifies every record's content hash and refuses stale records (code version or
parameters changed since they were computed) and, unless ``complete=False``, missing ones; its
errors name the file or the count and the command that regenerates them. ``check`` reruns a few
records in this process and raises :class:`CheckError` if any metric differs from the stored
value by more than the sweep's declared tolerance, so a stale or hand-edited record fails the
build. Sweeps are declared in :mod:`escape_ntk.sweeps`; the machinery is
:mod:`escape_ntk.pipeline`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import pipeline as pl
from .sweeps import get


class CheckError(AssertionError):
    """A live recompute disagrees with a stored record."""


def _sweep(name) -> pl.Sweep:
    if isinstance(name, pl.Sweep):
        return name
    return get(name)


def records(name, *, root=None, stale: str = "raise", complete: bool = True) -> list[dict]:
    """The verified records of sweep ``name`` (a name or a :class:`~escape_ntk.pipeline.Sweep`),
    in declaration order.

    stale: 'raise' (default) or 'drop' records whose code version or parameters changed;
    complete: raise if a declared task has no record (pass False for a partly computed sweep).
    Invalid records always raise :class:`~escape_ntk.pipeline.RecordError`.
    """
    sweep = _sweep(name)
    if stale not in ("raise", "drop"):
        raise ValueError(f"stale must be 'raise' or 'drop'; got {stale!r}.")
    s = pl.scan(sweep, root)
    if s.invalid:
        raise s.invalid[0][1]
    if s.stale and stale == "raise":
        t = s.stale[0]
        raise pl.SweepError(
            f"sweep {sweep.name!r}: {len(s.stale)} of {len(sweep.tasks)} records are stale (e.g. "
            f"{pl.task_id(t)}: {s.stale_reason(t)}). Recompute them with "
            f"`{sweep.command()} --rerun-stale`, or load with stale='drop'.")
    if s.missing and complete:
        raise pl.SweepError(
            f"sweep {sweep.name!r}: {len(s.missing)} of {len(sweep.tasks)} tasks have no record "
            f"in {pl.sweep_dir(sweep.name, root)} (e.g. {pl.task_id(s.missing[0])}). Compute "
            f"them with `{sweep.command()}`, or load with complete=False.")
    done = {pl.task_id(t) for t in s.done}
    return [s.records[i] for i in sweep.ids if i in done]


def load(name, *, root=None, stale: str = "raise", complete: bool = True):
    """Sweep ``name`` as a pandas DataFrame: one row per task, in declaration order.

    Columns: the task's own parameters, then its metrics (scalars; short series as lists), then
    ``wall_s``, ``device``, ``commit``, ``date``. The sweep's fixed parameters are in
    ``df.attrs["fixed"]``, its provenance summary in ``df.attrs["provenance"]``.
    See :func:`records` for ``stale`` and ``complete``.
    """
    import pandas as pd

    sweep = _sweep(name)
    recs = records(sweep, root=root, stale=stale, complete=complete)
    fixed = set(sweep.fixed)
    rows = []
    for r in recs:
        p = r["provenance"]
        row = {k: v for k, v in r["params"].items() if k not in fixed}
        row.update(r["metrics"])
        row.update(wall_s=p["wall_s"], device=p["device"], commit=p["commit"], date=p["date"])
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["sweep"] = sweep.name
    df.attrs["fixed"] = dict(sweep.fixed)
    df.attrs["provenance"] = str(Provenance.of(sweep, recs))
    return df


def _compare(stored, live, rtol: float, atol: float, where: str, out: list) -> None:
    """Append (where, stored, live, ok) leaves of two metric trees; shapes must agree."""
    if isinstance(stored, Mapping) and isinstance(live, Mapping):
        for k in sorted(set(stored) | set(live)):
            _compare(stored.get(k), live.get(k), rtol, atol, f"{where}.{k}" if where else k, out)
    elif isinstance(stored, list) and isinstance(live, list) and len(stored) == len(live):
        for i, (a, b) in enumerate(zip(stored, live, strict=True)):
            _compare(a, b, rtol, atol, f"{where}[{i}]", out)
    elif (isinstance(stored, float) or isinstance(live, float)) and \
            isinstance(stored, int | float) and isinstance(live, int | float) and \
            not isinstance(stored, bool) and not isinstance(live, bool):
        a, b = float(stored), float(live)
        ok = (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
        out.append((where, stored, live, ok))
    else:
        out.append((where, stored, live, stored == live))


def check(name, k: int = 3, *, seed: int = 0, where: Mapping | Callable | None = None,
          root=None, device: str = "cpu"):
    """Recompute ``k`` stored records of sweep ``name`` live and assert they equal the stored ones.

    The records are a seeded random sample (``random.Random(seed)``) of the stored, current ones,
    restricted by ``where``: ``{param: value or values}`` (as ``--only``) or a predicate on the
    task's parameters (keep chapter checks cheap, e.g. ``where={"d": [8, 16]}``). Every metric
    must agree within the sweep's rtol/atol (math.isclose); integers and strings exactly.
    Returns a DataFrame (task, metric, stored, live, ok) of every compared value; raises
    :class:`CheckError` naming the record, metric, both values and the regenerate command.
    Cost: the k tasks' compute.
    """
    import pandas as pd

    sweep = _sweep(name)
    recs = records(sweep, root=root, complete=False)
    if callable(where):
        pool = [t for t in sweep.tasks if where(dict(t))]
    else:
        pool = sweep.select(where)
    ids = {pl.task_id(t) for t in pool}
    stored = [r for r in recs if r["task"] in ids]
    if not stored:
        raise pl.SweepError(f"sweep {sweep.name!r}: no stored record to check (where={where!r}); "
                            f"compute some with `{sweep.command()}`.")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    sample = random.Random(seed).sample(stored, min(k, len(stored)))
    rows = []
    for rec in sample:
        live = pl.execute(sweep.task, rec["params"], device, sweep.dtype, None)["metrics"]
        leaves: list = []
        _compare(rec["metrics"], live, sweep.rtol, sweep.atol, "", leaves)
        rows += [(rec["task"], *leaf) for leaf in leaves]
        bad = [leaf for leaf in leaves if not leaf[3]]
        if bad:
            where_, a, b, _ = bad[0]
            t = {k_: rec["params"][k_] for k_ in rec["params"] if k_ not in sweep.fixed}
            raise CheckError(
                f"sweep {sweep.name!r}, record {pl.sweep_dir(sweep.name, root) / rec['task']}"
                f".json: metric {where_!r} is stored as {a!r} but recomputes to {b!r} "
                f"(rtol {sweep.rtol:g}, atol {sweep.atol:g}; {len(bad)} values differ). The "
                f"code changed since the record was made: if that was intended, bump the sweep's "
                f"version and rerun `{sweep.command()} --rerun-stale`; to redo this record, "
                f"`{sweep.command(t)} --rerun-stale`.")
    return pd.DataFrame(rows, columns=["task", "metric", "stored", "live", "ok"])


def recompute(name, params: Mapping, *, device: str = "cpu", **overrides) -> dict:
    """Run one task of sweep ``name`` live and return its metrics (plain JSON values).

    ``params``: the task's parameters (a record's ``params`` or a row of :func:`load`; the
    sweep's fixed values fill in the rest); ``overrides`` change some of them, e.g. fewer
    ``steps`` to compare a prefix of a stored training series. Cost: one task.
    """
    sweep = _sweep(name)
    keys = [k for t in sweep.tasks for k in t]
    task = {k: _native(v) for k, v in dict(params).items() if k in keys}
    full = {**sweep.params(task), **overrides}
    return pl.execute(sweep.task, full, device, sweep.dtype, None)["metrics"]


def _native(v):
    """A DataFrame cell (NumPy scalar) as a plain Python value."""
    return v.item() if hasattr(v, "item") else v


@dataclass(frozen=True)
class Provenance:
    """Where a stored sweep came from: for the provenance note of a chapter.

    Attributes: sweep, records (count), commits, dirty (any record from a modified tree), first
    and last (dates), devices, executors, compute_s (sum of task wall times), torch versions,
    command (the one that regenerates the sweep).
    """

    sweep: str
    records: int
    commits: tuple
    dirty: bool
    first: str
    last: str
    devices: tuple
    executors: tuple
    compute_s: float
    torch: tuple
    command: str

    @classmethod
    def of(cls, sweep: pl.Sweep, recs: list[dict]) -> Provenance:
        ps = [r["provenance"] for r in recs]
        dates = sorted(p["date"] for p in ps)
        return cls(sweep.name, len(recs),
                   tuple(sorted({(p["commit"] or "unknown")[:10] for p in ps})),
                   any(bool(p["dirty"]) for p in ps), dates[0] if dates else "",
                   dates[-1] if dates else "", tuple(sorted({p["device"] for p in ps})),
                   tuple(sorted({p["executor"] for p in ps})),
                   float(sum(p["wall_s"] for p in ps)),
                   tuple(sorted({str(p["versions"].get("torch")) for p in ps})), sweep.command())

    def __str__(self) -> str:
        if not self.records:
            return f"Sweep {self.sweep}: no stored records. Compute it with `{self.command}`."
        day = self.first[:10] if self.first[:10] == self.last[:10] else \
            f"{self.first[:10]} to {self.last[:10]}"
        tree = " (with uncommitted changes)" if self.dirty else ""
        return (f"Sweep {self.sweep}: {self.records} records computed on {day} at commit "
                f"{', '.join(self.commits)}{tree}, on {', '.join(self.devices)} "
                f"(torch {', '.join(self.torch)}; executor {', '.join(self.executors)}), "
                f"{pl.format_seconds(self.compute_s)} of compute in all (sum of task wall times). "
                f"Regenerate with `{self.command}`.")

    def _repr_markdown_(self) -> str:
        return str(self)


def provenance(name, *, root=None) -> Provenance:
    """The :class:`Provenance` of the stored, current records of sweep ``name``."""
    sweep = _sweep(name)
    return Provenance.of(sweep, records(sweep, root=root, complete=False))
