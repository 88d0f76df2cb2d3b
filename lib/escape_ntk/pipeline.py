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
``LocalCluster``, or an existing cluster at a scheduler address). The command line is
``python -m escape_ntk``; :mod:`escape_ntk.sweeps` declares the sweeps, :mod:`escape_ntk.results`
loads and checks them.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import itertools
import json
import numbers
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Environment variable that moves the results folder (tests, scratch runs); default <repo>/results.
RESULTS_ENV = "ESCAPE_NTK_RESULTS"
EXECUTORS = ("local", "process", "dask")
DEVICES = ("cpu", "cuda")
_FIELDS = ("sweep", "task", "version", "params", "metrics", "provenance", "digest")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class SweepError(RuntimeError):
    """A sweep cannot run or be loaded as asked; the message says what to do."""


class RecordError(SweepError):
    """A stored record is unreadable, truncated or edited; the message names the file and the fix."""


class DeviceError(SweepError):
    """The requested device is not available here."""


# ----------------------------------------------------------------------------- declarations

def grid(**axes: Iterable) -> list[dict]:
    """The Cartesian product of the axes as a list of parameter dicts, first axis slowest.

    ``grid(d=[8, 16], seed=range(2))`` -> ``[{d: 8, seed: 0}, {d: 8, seed: 1}, {d: 16, ...}, ...]``.
    Concatenate grids (``grid(...) + grid(...)``) for ragged sweeps, e.g. an n-range per d.
    """
    keys = list(axes)
    values = [list(v) for v in axes.values()]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def _plain(x, where: str):
    """x as JSON-ready Python: numbers, strings, bools, None, lists and str-keyed dicts."""
    if x is None or isinstance(x, bool | str):
        return x
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return float(x)
    if hasattr(x, "tolist") and callable(x.tolist):  # torch / NumPy scalars and arrays
        return _plain(x.tolist(), where)
    if isinstance(x, list | tuple):
        return [_plain(v, where) for v in x]
    if isinstance(x, Mapping):
        if not all(isinstance(k, str) for k in x):
            raise TypeError(f"{where}: dict keys must be strings; got {list(x)!r}.")
        return {k: _plain(v, where) for k, v in x.items()}
    raise TypeError(f"{where}: {type(x).__name__} is not storable in a JSON record; return "
                    f"numbers, strings, bools, lists or dicts of them (convert tensors with "
                    f".tolist()).")


def _fmt(v) -> str:
    """A parameter value as it appears in a task ID and on the command line."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return repr(v)
    return str(v)


def task_id(params: Mapping) -> str:
    """The record name of a task: ``key=value`` pairs in declaration order, joined by ``_``.

    ``{d: 8, n: 25, seed: 0}`` -> ``"d=8_n=25_seed=0"``; IDs longer than 120 characters are
    shortened to their first 80 characters and a hash.
    """
    tid = "_".join(f"{k}={_fmt(v)}" for k, v in params.items())
    if len(tid) > 120:
        tid = tid[:80] + "~" + hashlib.sha256(tid.encode()).hexdigest()[:16]
    return tid


@dataclass(frozen=True)
class Sweep:
    """A named list of independent tasks: ``task(**tasks[i], **fixed, device=, dtype=) -> dict``.

    name: folder under results/ (letters, digits, '.', '+', '-'); task: a module-level function
    (workers import it by name); tasks: one dict of parameters per task (they name the record, so
    keep them short: numbers and short strings); version: the task's code version, bump it when
    its numbers would change; fixed: constants passed to every task and stored in every record;
    dtype: the torch dtype name passed to the task; rtol, atol: tolerance of the live recompute
    (:func:`escape_ntk.results.check`); cost: relative cost of one task (params -> float), for the
    time-left estimate and to run the biggest tasks first; description: one line for ``list``.
    """

    name: str
    task: Callable[..., Mapping]
    tasks: tuple
    version: str
    fixed: Mapping = field(default_factory=dict)
    dtype: str = "float64"
    rtol: float = 1e-9
    atol: float = 1e-12
    cost: Callable[[Mapping], float] | None = None
    description: str = ""

    def __post_init__(self):
        if not _NAME.match(self.name):
            raise ValueError(f"sweep name {self.name!r}: use letters, digits, '.', '+' and '-'.")
        tasks = tuple(_plain(dict(t), f"sweep {self.name!r} task") for t in self.tasks)
        if not tasks:
            raise ValueError(f"sweep {self.name!r} has no tasks; declare at least one.")
        object.__setattr__(self, "tasks", tasks)
        object.__setattr__(self, "fixed", _plain(dict(self.fixed), f"sweep {self.name!r} fixed"))
        for t in tasks:
            for k, v in t.items():
                if not _KEY.match(k):
                    raise ValueError(f"sweep {self.name!r}: parameter name {k!r} must be letters "
                                     f"and digits (it names the record files).")
                if not (isinstance(v, int | float | bool) or
                        (isinstance(v, str) and _NAME.match(v))):
                    raise ValueError(f"sweep {self.name!r}: parameter {k} = {v!r} must be a number "
                                     f"or a short name (letters, digits, '.', '+', '-').")
            clash = set(t) & set(self.fixed)
            if clash:
                raise ValueError(f"sweep {self.name!r}: {sorted(clash)} are both task parameters "
                                 f"and fixed; keep each in one place.")
        ids = [task_id(t) for t in tasks]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
            raise ValueError(f"sweep {self.name!r} declares duplicate tasks, e.g. {dup}.")
        if not callable(self.task) or "<" in getattr(self.task, "__qualname__", "<"):
            raise TypeError(f"sweep {self.name!r}: task must be a module-level function, so that "
                            f"worker processes can import it; got {self.task!r}.")

    @property
    def ids(self) -> list[str]:
        return [task_id(t) for t in self.tasks]

    def params(self, t: Mapping) -> dict:
        """Everything the task receives and the record stores: its own parameters, then fixed."""
        return {**t, **self.fixed}

    def select(self, only: Mapping[str, Iterable] | None = None) -> list[dict]:
        """The tasks whose parameters match ``only`` ({key: values}; values as strings or numbers).

        Several keys must all match; several values of one key are alternatives.
        """
        if not only:
            return list(self.tasks)
        keys = {k for t in self.tasks for k in t}
        out = list(self.tasks)
        for key, wanted in only.items():
            if key not in keys:
                raise SweepError(f"--only {key}=...: sweep {self.name!r} has no parameter {key!r}; "
                                 f"its parameters are {sorted(keys)}.")
            wanted = [wanted] if isinstance(wanted, str | int | float) else list(wanted)
            out = [t for t in out if key in t and any(_matches(t[key], w) for w in wanted)]
            if not out:
                have = sorted({_fmt(t[key]) for t in self.tasks if key in t}, key=_natural)
                raise SweepError(f"--only {key}={','.join(map(str, wanted))}: no task of sweep "
                                 f"{self.name!r} matches (with the other filters); {key} takes "
                                 f"the values {', '.join(have)}.")
        return out

    def command(self, t: Mapping | None = None) -> str:
        """The shell command that (re)computes the sweep, or the one task ``t``."""
        only = "" if t is None else "".join(f" --only {k}={_fmt(v)}" for k, v in t.items())
        return f"python -m escape_ntk sweep {self.name}{only}"


def _natural(s: str):
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


def _matches(value, wanted) -> bool:
    if isinstance(wanted, str) and _fmt(value) == wanted:
        return True
    if isinstance(value, bool) or isinstance(wanted, bool):
        return _fmt(value) == _fmt(wanted)
    if isinstance(value, int | float):
        try:
            return float(wanted) == float(value)
        except (TypeError, ValueError):
            return False
    return value == wanted


def parse_only(items: Iterable[str]) -> dict[str, list[str]]:
    """``["d=8", "d=16", "seed=0"]`` -> ``{"d": ["8", "16"], "seed": ["0"]}`` (comma lists too)."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SweepError(f"--only {item!r}: write key=value, e.g. --only d=20 --only seed=0.")
        out.setdefault(key.strip(), []).extend(v.strip() for v in value.split(","))
    return out


# ----------------------------------------------------------------------------- records on disk

def repo_root() -> Path:
    """The source tree this package lives in (lib/escape_ntk/ -> the repository root)."""
    return Path(__file__).resolve().parents[2]


def results_root(root: str | os.PathLike | None = None) -> Path:
    """Where sweeps are stored: ``root``, else $ESCAPE_NTK_RESULTS, else <repo>/results."""
    if root is not None:
        return Path(root)
    env = os.environ.get(RESULTS_ENV)
    return Path(env) if env else repo_root() / "results"


def sweep_dir(name: str, root=None) -> Path:
    return results_root(root) / name


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def digest(record: Mapping) -> str:
    """sha256 of the record without its digest field, over canonical (sorted, compact) JSON."""
    body = {k: v for k, v in record.items() if k != "digest"}
    return "sha256:" + hashlib.sha256(_canonical(body)).hexdigest()


def write_record(path: Path, record: dict) -> None:
    """Write atomically: a temporary file beside ``path``, flushed and fsynced, then renamed."""
    record = dict(record)
    record["digest"] = digest(record)
    text = json.dumps(record, indent=1, allow_nan=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_record(path: Path, sweep: Sweep | None = None) -> dict:
    """Read and verify one record; raise :class:`RecordError` naming the file and the fix."""
    path = Path(path)

    def bad(problem: str) -> RecordError:
        fix = "rerun the sweep"
        if sweep is not None:
            t = next((t for t in sweep.tasks if task_id(t) == path.stem), None)
            fix = (f"regenerate it with `{sweep.command(t)}`" if t is not None else
                   f"delete it (no task of sweep {sweep.name!r} has this name)")
        return RecordError(f"record {path}: {problem}. It cannot be trusted: {fix}.")

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise bad("is not UTF-8 text (corrupted)") from None
    if not text.strip():
        raise bad("is empty (truncated)")
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as err:
        raise bad(f"is not valid JSON ({err.msg} at line {err.lineno}; truncated or corrupted)") \
            from None
    if not isinstance(rec, dict) or set(rec) != set(_FIELDS):
        keys = sorted(rec) if isinstance(rec, dict) else type(rec).__name__
        raise bad(f"does not have the record fields {list(_FIELDS)} (found {keys})")
    if rec["digest"] != digest(rec):
        raise bad("does not match its content hash (the file was edited by hand or corrupted)")
    if rec["task"] != path.stem:
        raise bad(f"holds task {rec['task']!r} but is named {path.name!r} (renamed or copied)")
    if sweep is not None and rec["sweep"] != sweep.name:
        raise bad(f"belongs to sweep {rec['sweep']!r}, not {sweep.name!r}")
    return rec


@dataclass
class Scan:
    """The stored state of a sweep against its declaration, task by task.

    done / missing / stale: lists of task dicts (stale: record version or params differ);
    invalid: (task, RecordError) pairs; records: {task ID: record} of done and stale tasks;
    extra: record files that no declared task names; temp: leftover temporary files.
    """

    sweep: Sweep
    done: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    stale: list = field(default_factory=list)
    invalid: list = field(default_factory=list)
    records: dict = field(default_factory=dict)
    extra: list = field(default_factory=list)
    temp: list = field(default_factory=list)

    def stale_reason(self, t: Mapping) -> str:
        rec = self.records[task_id(t)]
        if rec["version"] != self.sweep.version:
            return f"code version {rec['version']} -> {self.sweep.version}"
        return "parameters changed"


def scan(sweep: Sweep, root=None, tasks: list | None = None) -> Scan:
    """Classify every task of ``sweep`` (or of ``tasks``) as done, missing, stale or invalid."""
    folder = sweep_dir(sweep.name, root)
    s = Scan(sweep)
    files = {p.stem: p for p in folder.glob("*.json")} if folder.is_dir() else {}
    s.temp = sorted(folder.glob(".*.tmp")) if folder.is_dir() else []
    declared = set(sweep.ids)
    s.extra = sorted(p for k, p in files.items() if k not in declared)
    for t in sweep.tasks if tasks is None else tasks:
        path = files.get(task_id(t))
        if path is None:
            s.missing.append(t)
            continue
        try:
            rec = read_record(path, sweep)
        except RecordError as err:
            s.invalid.append((t, err))
            continue
        s.records[task_id(t)] = rec
        if rec["version"] != sweep.version or _canonical(rec["params"]) != \
                _canonical(sweep.params(t)):
            s.stale.append(t)
        else:
            s.done.append(t)
    return s


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


def package_versions() -> dict:
    """Versions of Python and the packages that shape the numbers (read where the task runs)."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for pkg in ("escape_ntk", "torch", "numpy", "scipy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def check_device(device: str) -> str:
    """Validate a device name; for 'cuda' raise :class:`DeviceError` unless torch sees a GPU."""
    if device not in DEVICES:
        raise SweepError(f"--device {device!r}: choose one of {', '.join(DEVICES)}.")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            build = torch.version.cuda
            why = ("this torch is a CPU-only build (torch " + torch.__version__ + ")" if build is None
                   else f"torch {torch.__version__} (CUDA {build}) finds no GPU")
            raise DeviceError(f"--device cuda was asked for, but {why}. Run with --device cpu, or "
                              f"on a machine with an NVIDIA GPU and a CUDA build of torch.")
    return device


# ----------------------------------------------------------------------------- executing a task

def execute(task: Callable, params: Mapping, device: str, dtype: str,
            threads: int | None) -> dict:
    """Run one task where the executor put it; return its metrics and the task-side provenance.

    This is the only function that executors ship to workers. It sets the torch thread count
    (``threads``), resolves the device, times the call, and converts the metrics to plain JSON.
    """
    import torch

    check_device(device)
    if threads is not None:
        torch.set_num_threads(int(threads))
    dev = torch.device(device)
    start = time.perf_counter()
    metrics = task(**params, device=dev, dtype=getattr(torch, dtype))
    if device == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    if not isinstance(metrics, Mapping):
        raise TypeError(f"task {task.__name__} returned {type(metrics).__name__}; return a dict "
                        f"of metrics.")
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    return {"metrics": _plain(dict(metrics), f"task {task.__name__}"),
            "provenance": {"device": name, "dtype": dtype, "threads": torch.get_num_threads(),
                           "wall_s": round(wall, 6),
                           "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                           "versions": package_versions()}}


def _init_worker(threads: int | None, parent: int) -> None:
    """Process-pool initializer: leave Ctrl-C to the parent, set the torch thread count, and exit
    as soon as the parent is gone (killed with SIGKILL, it cannot stop its pool)."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _run_local(calls, **_) -> Iterator:
    for t, args in calls:
        try:
            yield t, execute(*args), None
        except Exception as err:  # noqa: BLE001 - reported with the task, the sweep goes on
            yield t, None, err


def _run_process(calls, workers: int, threads, **_) -> Iterator:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: fresh interpreters that are children of this process (a fork could inherit busy
    # OpenMP pools; a forkserver outlives a SIGKILL of this process)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                               initializer=_init_worker, initargs=(threads, os.getpid()))
    clean = False
    try:
        futures = {pool.submit(execute, *args): t for t, args in calls}
        for fut in as_completed(futures):
            err = fut.exception()
            yield futures[fut], (None if err else fut.result()), err
        clean = True
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:  # interrupted: drop queued tasks and stop the running ones now
            procs = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.terminate()


def _run_dask(calls, workers: int, threads, scheduler: str | None = None, **_) -> Iterator:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as err:
        raise SweepError("--executor dask needs dask and distributed: pip install -r "
                         "requirements.txt") from err
    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        import logging

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    futures = {}
    try:
        for t, args in calls:
            fut = client.submit(execute, *args, pure=False, key=f"{args[0].__name__}-{task_id(t)}")
            futures[fut] = t
        for fut in as_completed(futures):
            if fut.status == "error":
                yield futures[fut], None, fut.exception()
            else:
                yield futures[fut], fut.result(), None
    finally:
        if futures:
            client.cancel(list(futures))
        client.close()
        if cluster is not None:
            cluster.close()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_RUNNERS = {"local": _run_local, "process": _run_process, "dask": _run_dask}


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
        log: Callable[[str], None] | None = None) -> Outcome:
    """Compute the sweep's missing (and invalid; with ``rerun_stale`` also stale) records.

    executor: 'local' | 'process' | 'dask'; workers: processes (default: CPU count); scheduler:
    a dask scheduler address (default: a LocalCluster of ``workers``); threads: torch threads per
    task (default: all cores for local, cores // workers for process and LocalCluster, the
    worker's own for a remote scheduler). Records are written here, in this process, as tasks
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
    calls = [(t, (sweep.task, sweep.params(t), device, sweep.dtype, threads)) for t in todo]
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=sweep.name, unit="task", disable=not progress,
               dynamic_ncols=True, file=sys.stderr)
    start = time.perf_counter()
    try:
        for t, result, err in _RUNNERS[executor](calls, workers=workers, threads=threads,
                                                 scheduler=scheduler):
            if err is not None:
                out.failed.append((t, err))
                bar.write(f"task {task_id(t)} failed: {type(err).__name__}: {err}")
            else:
                record = {"sweep": sweep.name, "task": task_id(t), "version": sweep.version,
                          "params": sweep.params(t), "metrics": result["metrics"],
                          "provenance": {**base, **result["provenance"]}}
                write_record(folder / f"{task_id(t)}.json", record)
                out.written.append(t)
                bar.set_postfix_str(f"last {result['provenance']['wall_s']:.2f} s")
            bar.update(1)
    finally:
        bar.close()
        out.wall_s = time.perf_counter() - start
    return out


# ----------------------------------------------------------------------------- status

def _seconds(s: float) -> str:
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
    lines.append(f"  compute spent {_seconds(spent)} (sum of task wall times of the stored "
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
        return "about " + _seconds(per * len(todo))
    costs = {task_id(t): float(sweep.cost(sweep.params(t))) for t in sweep.tasks}
    rate = sum(walls.values()) / max(sum(costs[k] for k in walls), 1e-300)
    return "about " + _seconds(rate * sum(costs[task_id(t)] for t in todo))
