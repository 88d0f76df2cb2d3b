"""The experiment pipeline: records, resume after SIGINT / SIGKILL, executors, staleness, checks."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from sweep_fixtures import FLAKY, PID_DIR_ENV, SLOW, TINY

import escape_ntk as en
from escape_ntk import pipeline as pl
from escape_ntk import rate_sweeps, results

TESTS = Path(__file__).resolve().parent
CORE = ("sweep", "task", "version", "params", "metrics")


def _env(root: Path) -> dict:
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    return {**os.environ, pl.RESULTS_ENV: str(root), "ESCAPE_NTK_SWEEPS": "sweep_fixtures",
            "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _files(root: Path, sweep) -> list[Path]:
    return sorted(pl.sweep_dir(sweep.name, root).glob("*.json"))


def _core(rec: dict) -> dict:
    return {k: rec[k] for k in CORE}


@pytest.fixture
def tiny(tmp_path):
    """TINY computed locally into tmp_path; returns the root."""
    out = pl.run(TINY, root=tmp_path, progress=False, threads=1, log=lambda m: None)
    assert len(out.written) == len(TINY.tasks) and not out.failed
    return tmp_path


# ----------------------------------------------------------------------------- declarations

def test_grid_ids_and_only():
    g = pl.grid(d=[8, 16], seed=range(2))
    assert g == [{"d": 8, "seed": 0}, {"d": 8, "seed": 1}, {"d": 16, "seed": 0},
                 {"d": 16, "seed": 1}]
    assert pl.task_id({"d": 8, "lam": 1e-05, "model": "LQ"}) == "d=8_lam=1e-05_model=LQ"
    assert len(pl.task_id({f"k{i}": 10**9 for i in range(30)})) <= 120
    assert [t["n"] for t in TINY.select({"n": ["32", "64"], "seed": [1]})] == [32, 64]
    assert len(TINY.select(pl.parse_only(["n=16,32"]))) == 4
    assert len(TINY.select({"n": 16.0})) == 2                      # numbers compare as numbers
    with pytest.raises(pl.SweepError, match="no parameter 'lam'"):
        TINY.select({"lam": ["0"]})
    with pytest.raises(pl.SweepError, match="values 16, 32, 64"):
        TINY.select({"n": ["17"]})
    with pytest.raises(pl.SweepError, match="key=value"):
        pl.parse_only(["n16"])
    assert TINY.command({"d": 6, "n": 16, "seed": 0}) == \
        "python -m escape_ntk sweep test-tiny --only d=6 --only n=16 --only seed=0"


def test_bad_declarations():
    ok = dict(name="x", task=FLAKY.task, tasks=[{"x": 1}], version="1")
    with pytest.raises(ValueError, match="sweep name"):
        pl.Sweep(**{**ok, "name": "a b"})
    with pytest.raises(ValueError, match="duplicate"):
        pl.Sweep(**{**ok, "tasks": [{"x": 1}, {"x": 1}]})
    with pytest.raises(ValueError, match="both task parameters and fixed"):
        pl.Sweep(**{**ok, "fixed": {"x": 2}})
    with pytest.raises(TypeError, match="module-level"):
        pl.Sweep(**{**ok, "task": lambda **kw: {}})
    with pytest.raises(pl.SweepError, match="no sweep named"):
        en.sweeps.get("no-such-sweep")
    with pytest.raises(ValueError, match="declares no code version"):
        pl.Sweep(**{**ok, "version": None})
    # the code version belongs to the task: every sweep of it follows
    assert SLOW.version == TINY.version == en.sweeps.ntk_regression.code_version == "1"


# ----------------------------------------------------------------------------- records

def test_run_load_resume_and_status(tiny):
    df = results.load(TINY, root=tiny)
    assert len(df) == 6 and list(df.columns[:3]) == ["d", "n", "seed"]
    assert {"best_test", "test", "dense", "sparse", "wall_s", "device", "commit"} <= set(df.columns)
    assert (df["best_test"] == df["test"].map(min)).all()
    assert df.attrs["fixed"]["m"] == 64 and "test-tiny" in df.attrs["provenance"]
    rec = json.loads(_files(tiny, TINY)[0].read_text())
    prov = rec["provenance"]
    assert {"commit", "dirty", "versions", "device", "dtype", "threads", "wall_s", "date"} <= set(prov)
    assert prov["device"] == "cpu" and prov["dtype"] == "float64" and prov["wall_s"] > 0
    assert prov["versions"]["torch"] == torch.__version__
    again = pl.run(TINY, root=tiny, progress=False, log=lambda m: None)
    assert again.written == [] and again.skipped_done == 6
    text = pl.status_text(TINY, root=tiny)
    assert "done         6" in text and "missing      0" in text and "compute left  0 s" in text
    (pl.sweep_dir(TINY.name, tiny) / "d=6_n=64_seed=1.json").unlink()
    text = pl.status_text(TINY, root=tiny)
    assert "missing      1" in text and "compute left  about" in text
    with pytest.raises(pl.SweepError, match="1 of 6 tasks have no record"):
        results.load(TINY, root=tiny)
    assert len(results.load(TINY, root=tiny, complete=False)) == 5
    out = pl.run(TINY, root=tiny, progress=False, log=lambda m: None)
    assert out.written == [{"d": 6, "n": 64, "seed": 1}]


def test_executors_give_identical_records(tmp_path, monkeypatch):
    monkeypatch.setenv(PID_DIR_ENV, str(tmp_path / "pids"))
    (tmp_path / "pids").mkdir()
    recs = {}
    for ex in ("local", "process", "dask"):     # the LocalCluster in threads: no torch import
        out = pl.run(TINY, executor=ex, workers=2, threads=1, root=tmp_path / ex,
                     progress=False, log=lambda m: None, cluster={"processes": False})
        assert len(out.written) == 6 and not out.failed, (ex, out.failed)
        recs[ex] = [json.loads(p.read_text()) for p in _files(tmp_path / ex, TINY)]
        assert {r["provenance"]["executor"] for r in recs[ex]} == {ex}
    assert [_core(r) for r in recs["process"]] == [_core(r) for r in recs["local"]]
    assert [_core(r) for r in recs["dask"]] == [_core(r) for r in recs["local"]]
    pids = {int(p.name) for p in (tmp_path / "pids").iterdir()}
    assert os.getpid() in pids and len(pids) >= 2      # the process pool ran elsewhere


def test_failed_task_does_not_stop_the_sweep(tmp_path):
    out = pl.run(FLAKY, root=tmp_path, progress=False, log=lambda m: None)
    assert [t["x"] for t in out.written] == [0, 2]
    assert [t["x"] for t, _ in out.failed] == [1] and "on purpose" in str(out.failed[0][1])
    assert "missing      1" in pl.status_text(FLAKY, root=tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "corrupted", "edited", "renamed"])
def test_damaged_record_is_a_clear_error(tiny, damage):
    folder = pl.sweep_dir(TINY.name, tiny)
    path = folder / "d=6_n=32_seed=1.json"
    text = path.read_text()
    original = json.loads(text)
    if damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "corrupted":
        path.write_bytes(text.encode()[:100] + b"\xff\xfe\x00garbage" + text.encode()[110:])
    elif damage == "edited":
        path.write_text(text.replace(repr(original["metrics"]["best_test"]), "0.001", 1))
    else:
        path.rename(folder / "d=6_n=32_seed=0.json")
        path = folder / "d=6_n=32_seed=0.json"
    with pytest.raises(pl.RecordError) as err:
        results.load(TINY, root=tiny)
    msg = str(err.value)
    assert str(path) in msg and "cannot be trusted" in msg
    assert TINY.command({"d": 6, "n": 32, "seed": int(path.stem[-1])}) in msg
    assert "invalid      1" in pl.status_text(TINY, root=tiny)
    out = pl.run(TINY, root=tiny, progress=False, log=lambda m: None)   # the fix: rerun
    assert [pl.task_id(t) for t in out.written] == [path.stem] or damage == "renamed"
    df = results.load(TINY, root=tiny)
    row = df[(df.n == 32) & (df.seed == 1)]
    assert float(row["best_test"].iloc[0]) == original["metrics"]["best_test"]


def test_stale_records_are_reported_not_used(tiny):
    v2 = dataclasses.replace(TINY, version="2")
    s = pl.scan(v2, tiny)
    assert len(s.stale) == 6 and not s.done
    text = pl.status_text(v2, root=tiny)
    assert "stale        6" in text and "code version 1 -> 2: 6" in text and "--rerun-stale" in text
    with pytest.raises(pl.SweepError, match="6 of 6 records are stale.*--rerun-stale"):
        results.load(v2, root=tiny)
    with pytest.raises(pl.SweepError, match="stale"):
        results.check(v2, root=tiny)
    out = pl.run(v2, root=tiny, progress=False, log=lambda m: None)
    assert out.written == [] and out.skipped_stale == 6
    out = pl.run(v2, root=tiny, progress=False, rerun_stale=True, log=lambda m: None)
    assert len(out.written) == 6 and len(results.load(v2, root=tiny)) == 6
    # a changed constant (fixed parameter) makes records stale too
    wider = dataclasses.replace(v2, fixed={**TINY.fixed, "n_test": 101})
    assert "parameters changed: 6" in pl.status_text(wider, root=tiny)


def test_live_check_catches_a_changed_result(tiny):
    table = results.check(TINY, k=6, root=tiny)
    assert table["ok"].all() and table["task"].nunique() == 6 and len(table) == 6 * 7
    # a record re-signed with a different number (code changed without a version bump)
    path = pl.sweep_dir(TINY.name, tiny) / "d=6_n=64_seed=0.json"
    rec = json.loads(path.read_text())
    rec["metrics"]["dense"] *= 1 + 1e-6
    pl.write_record(path, {k: v for k, v in rec.items() if k != "digest"})
    assert results.load(TINY, root=tiny) is not None               # the hash is valid
    with pytest.raises(results.CheckError, match=r"d=6_n=64_seed=0.json: metric 'dense'"):
        results.check(TINY, k=6, root=tiny)
    results.check(TINY, k=6, root=tiny, where={"n": [16, 32]})     # the others still agree


def test_recompute_one_task_with_overrides(tiny):
    row = results.load(TINY, root=tiny).iloc[0]
    live = results.recompute(TINY, row)
    assert live["best_test"] == row["best_test"] and live["test"] == row["test"]
    other = results.recompute(TINY, row, ridges=[1e-3])        # a changed constant: one ridge
    assert other["test"] == [row["test"][0]]


def test_provenance_summary(tiny):
    p = results.provenance(TINY, root=tiny)
    walls = [json.loads(f.read_text())["provenance"]["wall_s"] for f in _files(tiny, TINY)]
    assert p.records == 6 and p.devices == ("cpu",) and p.compute_s == pytest.approx(sum(walls))
    text = str(p)
    assert "6 records" in text and "cpu" in text and p.command in text
    commit = pl.source_state()["commit"]
    if commit:
        assert commit[:10] in text


# ----------------------------------------------------------------------------- kill and resume

def _kill_mid_run(tmp_path, sweep, executor: str, sig) -> tuple[int, set]:
    """Start the CLI, send `sig` once 2 records exist; return (exit code, record names)."""
    cmd = [sys.executable, "-m", "escape_ntk", "sweep", sweep.name, "--executor", executor,
           "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    folder = pl.sweep_dir(sweep.name, tmp_path)
    children: set = set()
    deadline = time.monotonic() + 60
    while len(list(folder.glob("*.json"))) < 2:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "no record within 60 s"
        children |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        time.sleep(0.01)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    if sig == signal.SIGINT:
        assert "interrupted: every finished record is on disk" in out, out
    assert children
    deadline = time.monotonic() + 15
    while [p for p in children if _alive(p)]:   # no worker outlives the sweep, even a SIGKILL
        assert time.monotonic() < deadline, [p for p in children if _alive(p)]
        time.sleep(0.1)
    return proc.returncode, {p.stem for p in folder.glob("*.json")}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize(("executor", "sig", "code"), [("process", signal.SIGINT, 130),
                                                       ("process", signal.SIGKILL, -9)],
                         ids=["SIGINT", "SIGKILL"])
def test_kill_and_resume(tmp_path, executor, sig, code):
    rc, kept = _kill_mid_run(tmp_path, SLOW, executor, sig)
    assert rc == code
    assert 2 <= len(kept) < len(SLOW.tasks), kept           # interrupted mid-run
    for name in kept:                                      # every record whole and valid
        pl.read_record(pl.sweep_dir(SLOW.name, tmp_path) / f"{name}.json", SLOW)
    out = pl.run(SLOW, root=tmp_path, threads=1, progress=False, log=lambda m: None)
    assert {pl.task_id(t) for t in out.written} == set(SLOW.ids) - kept   # only the missing
    assert out.skipped_done == len(kept)
    assert not list(pl.sweep_dir(SLOW.name, tmp_path).glob(".*.tmp"))
    assert len(results.load(SLOW, root=tmp_path)) == len(SLOW.tasks)


# ----------------------------------------------------------------------------- CLI and devices

def test_cli_list_status_check_and_bad_requests(tiny, capsys):
    from escape_ntk.__main__ import main

    os.environ[pl.RESULTS_ENV] = str(tiny)
    os.environ["ESCAPE_NTK_SWEEPS"] = "sweep_fixtures"
    try:
        assert main(["list"]) == 0 and "test-tiny" in capsys.readouterr().out
        assert main(["status", "test-tiny"]) == 0
        assert "done         6" in capsys.readouterr().out
        assert main(["check", "test-tiny", "--sample", "2", "--seed", "1"]) == 0
        assert "2 records recomputed" in capsys.readouterr().out
        assert main(["sweep", "test-tiny", "--only", "lam=1"]) == 2
        assert "no parameter 'lam'" in capsys.readouterr().err
        assert main(["sweep", "test-tiny", "--scheduler", "tcp://x:1"]) == 2
    finally:
        del os.environ[pl.RESULTS_ENV], os.environ["ESCAPE_NTK_SWEEPS"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_without_gpu_is_a_clear_error(tmp_path):
    with pytest.raises(pl.DeviceError, match="--device cuda.*--device cpu"):
        pl.run(TINY, device="cuda", root=tmp_path, progress=False, log=lambda m: None)
    assert not pl.sweep_dir(TINY.name, tmp_path).exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(tiny, tmp_path):
    out = pl.run(TINY, device="cuda", root=tmp_path / "gpu", progress=False, log=lambda m: None)
    assert len(out.written) == 6
    cpu, gpu = results.load(TINY, root=tiny), results.load(TINY, root=tmp_path / "gpu")
    assert (gpu["device"] != "cpu").all()
    assert ((gpu["best_test"] - cpu["best_test"]).abs() <= 1e-8 * cpu["best_test"] + 1e-12).all()


# ----------------------------------------------------------------------------- stored sweeps

#: Sweeps whose tasks take hours (stored partly, by design): their records must be current and
#: valid, and the first one must equal a live recompute of a 2-step prefix of its log.
PARTIAL = {"authors-scale"}


def _check_prefix(name):
    import math

    sweep = en.sweeps.get(name)
    recs = results.records(name, complete=False)
    assert recs, f"{name}: no current record"
    live = results.recompute(name, recs[0]["params"], steps=2)
    stored = recs[0]["metrics"]
    k = len(live["steps"])
    assert k == 2 and live["steps"] == stored["steps"][:k]
    for key, series in live.items():
        if isinstance(series, list):
            for a, b in zip(stored[key][:k], series):
                assert math.isclose(a, b, rel_tol=sweep.rtol, abs_tol=sweep.atol), (key, a, b)


@pytest.mark.parametrize("name", sorted(en.sweeps.SWEEPS) + sorted(rate_sweeps.RATE_SWEEPS))
def test_stored_sweep_loads_and_recomputes(name):
    """Every committed sweep is complete, current, and equal to a live recompute of 2 cheap
    records (the smallest quarter by declared cost)."""
    sweep = en.sweeps.get(name)
    if not pl.sweep_dir(name).is_dir():
        pytest.skip(f"no stored records for {name}")
    if name in PARTIAL:
        _check_prefix(name)
        return
    assert len(results.load(name)) == len(sweep.tasks)
    costs = sorted(sweep.cost(sweep.params(t)) if sweep.cost else 0 for t in sweep.tasks)
    cheap = costs[len(costs) // 4]
    table = results.check(name, k=2, seed=0,
                          where=lambda t: (sweep.cost(sweep.params(t)) if sweep.cost else 0) <= cheap)
    assert table["ok"].all()
