"""Where tasks run: one task in a worker (:func:`execute`) and the three executors that run many.

``local`` runs in this process; ``process`` uses :class:`concurrent.futures.ProcessPoolExecutor`
(spawned workers that exit when their parent dies); ``dask`` uses ``dask.distributed``, a
``LocalCluster`` or a running cluster at a scheduler address. Each runner yields
(task, result, error) as tasks complete and shuts its pool down on any exit, so the caller
(:func:`escape_ntk.pipeline.run`) can write records as they arrive and stop at a Ctrl-C.
No scheduling of our own: the pools do it.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping

from .records import DeviceError, SweepError, _plain, task_id

EXECUTORS = ("local", "process", "dask")
DEVICES = ("cpu", "cuda")


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


def _run_dask(calls, workers: int, threads, scheduler: str | None = None,
              cluster_options: Mapping | None = None, **_) -> Iterator:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as err:
        raise SweepError("--executor dask needs dask and distributed: pip install "
                         "'escape_ntk[dask]' (the book's requirements.txt has them)") from err
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as err:
            raise SweepError(f"--scheduler {scheduler}: no dask scheduler answers there ({err}). "
                             f"Start one with `dask scheduler` and workers with `dask worker "
                             f"{scheduler}`, or drop --scheduler for a local cluster.") from None
    else:
        import logging

        options = {"n_workers": workers, "threads_per_worker": 1, "processes": True,
                   "dashboard_address": None, "silence_logs": logging.ERROR,
                   **(cluster_options or {})}
        cluster = LocalCluster(**options)
        client = Client(cluster)
    futures = {}
    run_id = uuid.uuid4().hex[:8]  # keys stay unique on a scheduler shared by several sweeps
    try:
        for t, args in calls:
            fut = client.submit(execute, *args, pure=False,
                                key=f"{args[0].__name__}-{task_id(t)}-{run_id}")
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


RUNNERS = {"local": _run_local, "process": _run_process, "dask": _run_dask}
