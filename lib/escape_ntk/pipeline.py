"""Stored, resumable sweeps: records on disk, provenance, staleness, and the executors that run them.

A :class:`Sweep` is a named list of independent tasks. Each task is a pure function of its
parameters, ``task(**params, device=..., dtype=...) -> dict`` of plain metrics and short series,
where the parameters are the task's own (e.g. ``d``, ``n``, ``seed``) plus the sweep's ``fixed``
constants (e.g. a ridge grid). Every finished task is one JSON record, ``results/NAME/ID.json``::

    {"sweep", "task" (ID), "version" (the sweep's code version), "params", "metrics",
     "provenance": {commit, dirty, versions, device, dtype, threads, wall_s, date, executor},
     "digest": sha256 of everything else}

written by the parent process alone, as each task completes, to a temporary file that is then
renamed over the target: a Ctrl-C or a kill loses no finished record and leaves no partial one.
The digest is verified on every read, so a truncated, corrupted or hand-edited record is an error
that names the file and the command that regenerates it. A record whose ``version`` or ``params``
differ from the declaration is *stale*: reported by ``status``, refused by the loader, recomputed
by ``sweep --rerun-stale``. Bump a sweep's ``version`` whenever its numbers would change.

Executors (no scheduler of our own): ``local`` (in this process), ``process``
(:class:`concurrent.futures.ProcessPoolExecutor`) and ``dask`` (``dask.distributed``: a
``LocalCluster``, or an existing cluster at a scheduler address). This module runs a sweep
(:func:`run`) and reports on it (:func:`status_text`), and re-exports the pieces:
:mod:`escape_ntk.records` (declarations, records on disk) and :mod:`escape_ntk.executors`. The
command line is ``python -m escape_ntk``; :mod:`escape_ntk.sweeps` declares the sweeps,
:mod:`escape_ntk.results` loads and checks them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .executors import DEVICES, EXECUTORS, RUNNERS, check_device, execute, package_versions
from .records import (
    RESULTS_ENV,
    DeviceError,
    RecordError,
    Scan,
    Sweep,
    SweepError,
    digest,
    grid,
    parse_only,
    read_record,
    repo_root,
    results_root,
    scan,
    sweep_dir,
    task_id,
    task_version,
    write_record,
)

__all__ = ["DEVICES", "EXECUTORS", "RESULTS_ENV", "DeviceError", "Outcome", "RecordError", "Scan",
           "Sweep", "SweepError", "check_device", "digest", "execute", "grid", "package_versions",
           "parse_only", "read_record", "repo_root", "results_root", "run", "scan",
           "source_state", "status_text", "sweep_dir", "task_id", "task_version", "write_record"]


# ----------------------------------------------------------------------------- provenance

def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(repo_root()), *args], capture_output=True,
                             text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def source_state() -> dict:
    """{commit, dirty} of the source tree (dirty: tracked files outside results/ modified)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True



@dataclass
class Outcome:
    """What one ``run`` call did: tasks written, failed (task, exception), skipped counts."""

    written: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    skipped_done: int = 0
    skipped_stale: int = 0
    wall_s: float = 0.0


def run(sweep: Sweep, *, executor: str = "local", workers: int | None = None,
        scheduler: str | None = None, device: str = "cpu", only=None, rerun_stale: bool = False,
        threads: int | None = None, root=None, progress: bool = True,
        log: Callable[[str], None] | None = None, cluster: Mapping | None = None) -> Outcome:
    """Compute the sweep's missing (and invalid; with ``rerun_stale`` also stale) records.

    executor: 'local' | 'process' | 'dask'; workers: processes (default: CPU count); scheduler:
    a dask scheduler address (default: a LocalCluster of ``workers``); threads: torch threads per
    task (default: all cores for local, cores // workers for process and LocalCluster, the
    worker's own for a remote scheduler); cluster: LocalCluster options over the defaults
    (``n_workers=workers, threads_per_worker=1, processes=True``). Records are written here, in this process, as tasks
    complete; a KeyboardInterrupt propagates after the pool is shut down, with every finished
    record on disk. Tasks that raise are reported in ``Outcome.failed``; the others go on.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if executor not in EXECUTORS:
        raise SweepError(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}.")
    if scheduler and executor != "dask":
        raise SweepError("--scheduler needs --executor dask.")
    if not (scheduler and executor == "dask"):
        check_device(device)  # a remote cluster checks on its workers instead
    elif device not in DEVICES:
        raise SweepError(f"--device {device!r}: choose one of {', '.join(DEVICES)}.")
    cores = os.cpu_count() or 1
    workers = cores if workers is None else int(workers)
    if workers < 1:
        raise SweepError(f"--workers {workers}: need at least 1.")
    if threads is None and executor != "local" and not scheduler:
        threads = max(1, cores // workers)

    tasks = sweep.select(only)
    state = scan(sweep, root, tasks)
    folder = sweep_dir(sweep.name, root)
    for tmp in state.temp:  # left by a kill between write and rename; the record was not made
        pid = tmp.name.rsplit(".", 2)[-2]
        if not (pid.isdigit() and _running(int(pid))):
            tmp.unlink(missing_ok=True)
    for _, err in state.invalid:
        log(f"recomputing an invalid record: {err}")
    todo = state.missing + [t for t, _ in state.invalid] + (state.stale if rerun_stale else [])
    out = Outcome(skipped_done=len(state.done), skipped_stale=0 if rerun_stale else len(state.stale))
    if out.skipped_stale:
        log(f"{sweep.name}: keeping {out.skipped_stale} stale records (pass --rerun-stale to "
            f"recompute them).")
    if not todo:
        log(f"{sweep.name}: nothing to do ({len(state.done)} of {len(tasks)} selected tasks done).")
        return out
    if sweep.cost is not None:  # biggest first: the pool drains evenly
        todo.sort(key=lambda t: -float(sweep.cost(sweep.params(t))))
    log(f"{sweep.name}: {len(todo)} tasks to run, {len(state.done)} done, executor {executor}"
        + (f" at {scheduler}" if scheduler else f", {workers if executor != 'local' else 1} "
           f"worker(s)") + f", device {device}.")

    base = {**source_state(), "executor": executor}
    if base["dirty"]:
        log(f"{sweep.name}: the source tree has uncommitted changes; the records will say so "
            f"(dirty: true). Commit first for records that name their code exactly.")
    calls = [(t, (sweep.task, sweep.params(t), device, sweep.dtype, threads)) for t in todo]
    from tqdm import tqdm

    # the bar advances by declared cost, so its ETA holds although the biggest tasks go first
    cost = {task_id(t): float(sweep.cost(sweep.params(t))) if sweep.cost else 1.0 for t in todo}
    total = sum(cost.values())
    bar = tqdm(total=100.0, desc=sweep.name, disable=not progress, dynamic_ncols=True,
               file=sys.stderr, bar_format="{l_bar}{bar}| [{elapsed}<{remaining}{postfix}]")
    bar.set_postfix_str(f"0/{len(todo)} tasks")
    start = time.perf_counter()
    try:
        for t, result, err in RUNNERS[executor](calls, workers=workers, threads=threads,
                                                scheduler=scheduler, cluster_options=cluster):
            if err is not None:
                out.failed.append((t, err))
                bar.write(f"task {task_id(t)} failed: {type(err).__name__}: {err}")
            else:
                record = {"sweep": sweep.name, "task": task_id(t), "version": sweep.version,
                          "params": sweep.params(t), "metrics": result["metrics"],
                          "provenance": {**base, **result["provenance"]}}
                write_record(folder / f"{task_id(t)}.json", record)
                out.written.append(t)
                last = f", last {result['provenance']['wall_s']:.2f} s"
            bar.set_postfix_str(f"{len(out.written) + len(out.failed)}/{len(todo)} tasks"
                                + ("" if err is not None else last), refresh=False)
            bar.update(100.0 * cost[task_id(t)] / total)
        bar.n = bar.total if not out.failed else bar.n
    finally:
        bar.close()
        out.wall_s = time.perf_counter() - start
    return out


# ----------------------------------------------------------------------------- status

def format_seconds(s: float) -> str:
    """A duration for people: '12.3 s', '4.5 min' or '1.2 h'."""
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def status_text(sweep: Sweep, root=None) -> str:
    """The ``status`` report: counts of done / missing / stale / invalid, compute spent and left."""
    s = scan(sweep, root)
    walls = {k: float(r["provenance"]["wall_s"]) for k, r in s.records.items()}
    spent = sum(walls.values())
    todo = s.missing + s.stale + [t for t, _ in s.invalid]
    lines = [f"sweep {sweep.name} (code version {sweep.version}): {len(sweep.tasks)} tasks, "
             f"records in {sweep_dir(sweep.name, root)}",
             f"  done     {len(s.done):5d}",
             f"  missing  {len(s.missing):5d}",
             f"  stale    {len(s.stale):5d}" + (f"  ({_reasons(s)}; recompute with --rerun-stale)"
                                                if s.stale else ""),
             f"  invalid  {len(s.invalid):5d}" + ("  (corrupted or edited; `sweep` recomputes "
                                                  "them)" if s.invalid else "")]
    for _, err in s.invalid[:3]:
        lines.append(f"    {err}")
    if s.extra or s.temp:
        lines.append(f"  not declared: {len(s.extra)} record files; leftover temp files: "
                     f"{len(s.temp)}")
    lines.append(f"  compute spent {format_seconds(spent)} (sum of task wall times of the stored "
                 f"records)")
    if todo:
        left = _estimate(sweep, s, todo, walls)
        lines.append(f"  compute left  {left} for {len(todo)} tasks" if left else
                     f"  compute left  unknown ({len(todo)} tasks, no record to estimate from)")
    else:
        lines.append("  compute left  0 s")
    devices = sorted({r["provenance"]["device"] for r in s.records.values()})
    commits = sorted({(r["provenance"]["commit"] or "?")[:10] for r in s.records.values()})
    if s.records:
        lines.append(f"  devices {', '.join(devices)}; commits {', '.join(commits)}")
    lines.append(f"  command: {sweep.command()}" + (" --rerun-stale" if s.stale else ""))
    return "\n".join(lines)


def _reasons(s: Scan) -> str:
    counts: dict[str, int] = {}
    for t in s.stale:
        r = s.stale_reason(t)
        counts[r] = counts.get(r, 0) + 1
    return "; ".join(f"{r}: {c}" for r, c in counts.items())


def _estimate(sweep: Sweep, s: Scan, todo: list, walls: dict) -> str | None:
    """Time left: the stored wall time per unit of declared cost (or per task) times what is left."""
    if not walls:
        return None
    if sweep.cost is None:
        per = sum(walls.values()) / len(walls)
        return "about " + format_seconds(per * len(todo))
    costs = {task_id(t): float(sweep.cost(sweep.params(t))) for t in sweep.tasks}
    rate = sum(walls.values()) / max(sum(costs[k] for k in walls), 1e-300)
    return "about " + format_seconds(rate * sum(costs[task_id(t)] for t in todo))
