"""Command line of the experiment pipeline: ``python -m escape_ntk COMMAND``.

    sweep NAME [--executor local|process|dask] [--scheduler ADDRESS] [--workers N]
               [--threads T] [--device cpu|cuda] [--only key=value ...] [--rerun-stale]
    list
    status NAME
    check [NAME ...] [--sample K] [--seed S]     (no NAME: every sweep with stored records)

Exit codes: 0 done, 1 some task or check failed, 2 bad request or invalid records, 130
interrupted (every finished record is on disk; rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import signal
import sys

from . import pipeline as pl
from . import results
from .sweeps import get, registry


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m escape_ntk",
                                description="Stored, resumable experiment sweeps.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sweep", help="compute the missing records of a sweep")
    s.add_argument("name")
    s.add_argument("--executor", choices=pl.EXECUTORS, default="local")
    s.add_argument("--scheduler", default=None,
                   help="address of a running dask scheduler, e.g. tcp://host:8786")
    s.add_argument("--workers", type=int, default=None,
                   help="worker processes (process, dask LocalCluster); default: CPU count")
    s.add_argument("--threads", type=int, default=None,
                   help="torch threads per task; default: cores / workers")
    s.add_argument("--device", choices=pl.DEVICES, default="cpu")
    s.add_argument("--only", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                   help="run only matching tasks, e.g. --only d=20 seed=0,1")
    s.add_argument("--rerun-stale", action="store_true",
                   help="also recompute records made by an older code version")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    sub.add_parser("list", help="the declared sweeps and how much of each is stored")
    st = sub.add_parser("status", help="done / missing / stale counts, compute spent and left")
    st.add_argument("name")
    c = sub.add_parser("check", help="recompute a random sample of stored records and compare")
    c.add_argument("names", nargs="*", metavar="NAME")
    c.add_argument("--sample", type=int, default=3, help="records per sweep (default 3)")
    c.add_argument("--seed", type=int, default=None,
                   help="sample seed (default: a fresh one, printed)")
    return p


def _sweep_cmd(args) -> int:

    sweep = get(args.name)
    only = pl.parse_only(args.only)
    out = pl.run(sweep, executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                 device=args.device, only=only, rerun_stale=args.rerun_stale,
                 threads=args.threads, progress=not args.no_progress)
    print(f"{sweep.name}: wrote {len(out.written)} records in {out.wall_s:.1f} s; "
          f"{out.skipped_done} already done; {len(out.failed)} failed"
          + (f"; {out.skipped_stale} stale kept" if out.skipped_stale else "") + ".")
    for t, err in out.failed:
        print(f"  failed {pl.task_id(t)}: {type(err).__name__}: {err}", file=sys.stderr)
    return 1 if out.failed else 0


def _list_cmd(_args) -> int:

    for name, sweep in registry().items():
        s = pl.scan(sweep)
        print(f"{name:24s} {len(sweep.tasks):5d} tasks  {len(s.done):5d} done  "
              f"{len(s.stale):4d} stale  {len(s.invalid):4d} invalid  {sweep.description}")
    return 0


def _check_cmd(args) -> int:
    import random


    names = args.names or [n for n in registry() if pl.sweep_dir(n).is_dir()]
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    if not names:
        print("no stored sweeps to check.")
        return 0
    for name in names:
        table = results.check(get(name), k=args.sample, seed=seed)
        print(f"{name}: {table['task'].nunique()} records recomputed (seed {seed}), "
              f"{len(table)} values equal within rtol {get(name).rtol:g}.")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    # Ctrl-C, kill -INT and a polite kill (SIGTERM, e.g. a batch system's time limit) all stop
    # cleanly, also where the shell started us with SIGINT ignored (a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if args.command == "sweep":
            return _sweep_cmd(args)
        if args.command == "list":
            return _list_cmd(args)
        if args.command == "status":

            print(pl.status_text(get(args.name)))
            return 0
        return _check_cmd(args)
    except KeyboardInterrupt:
        print("\ninterrupted: every finished record is on disk; rerun the same command to "
              "resume.", file=sys.stderr)
        return 130
    except pl.SweepError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `... status NAME | head`
        sys.stderr.close()
        return 0
    except AssertionError as err:  # results.CheckError
        print(f"check failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
