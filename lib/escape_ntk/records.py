"""Sweep declarations and their records on disk: the grid, task IDs, atomic writes, hashes, scans.

A record is ``results/NAME/ID.json``: {sweep, task (ID), version, params, metrics, provenance,
digest}, the digest being the sha256 of everything else in canonical JSON. :func:`write_record`
writes it atomically (temporary file, fsync, rename); :func:`read_record` verifies it and raises
:class:`RecordError` naming the file and the command that regenerates it; :func:`scan` compares
a folder of records with a :class:`Sweep` (done / missing / stale / invalid). Part of the
experiment pipeline (:mod:`escape_ntk.pipeline`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import numbers
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

RESULTS_ENV = "ESCAPE_NTK_RESULTS"
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


def task_version(version: str):
    """Decorator: the code version of a task function, stored in its records.

    Bump it whenever the function's numbers would change (a fix, a new default, a new draw
    order); records of another version are stale: ``status`` counts them and the loader refuses
    them until ``sweep --rerun-stale`` recomputes them.
    """
    def mark(fn):
        fn.code_version = str(version)
        return fn

    return mark


@dataclass(frozen=True)
class Sweep:
    """A named list of independent tasks: ``task(**tasks[i], **fixed, device=, dtype=) -> dict``.

    name: folder under results/ (letters, digits, '.', '+', '-'); task: a module-level function
    (workers import it by name); tasks: one dict of parameters per task (they name the record, so
    keep them short: numbers and short strings); version: the code version of the records,
    by default the task's own (declared with ``@task_version("1")``; bump it when the task's
    numbers would change: every sweep of that task goes stale); fixed: constants passed to every
    task and stored in every record; dtype: the torch dtype name passed to the task; rtol, atol:
    tolerance of the live recompute (:func:`escape_ntk.results.check`); cost: relative cost of one
    task (params -> float), for the time-left estimate, the progress bar and to run the biggest
    tasks first; description: one line for ``list``.
    """

    name: str
    task: Callable[..., Mapping]
    tasks: tuple
    version: str | None = None
    fixed: Mapping = field(default_factory=dict)
    dtype: str = "float64"
    rtol: float = 1e-9
    atol: float = 1e-12
    cost: Callable[[Mapping], float] | None = None
    description: str = ""

    def __post_init__(self):
        if not _NAME.match(self.name):
            raise ValueError(f"sweep name {self.name!r}: use letters, digits, '.', '+' and '-'.")
        version = self.version or getattr(self.task, "code_version", None)
        if not version:
            raise ValueError(f"sweep {self.name!r}: its task {getattr(self.task, '__name__', '?')} "
                             f"declares no code version; decorate it with @task_version(\"1\") "
                             f"or pass Sweep(version=...).")
        object.__setattr__(self, "version", str(version))
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
