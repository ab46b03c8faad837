"""The sweep store under a real SIGKILL and under two sweeps running at once (issue 13).

Each test runs tiny LeNet/MNIST sweeps in subprocesses (the only way to test a kill honestly); a
wrapper around ``run_config`` logs every run that starts, so "nothing trained twice" is counted,
not assumed.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, os, sys, time
from pathlib import Path
from superconv_lib import sweep

out, log, pause, names = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
together = int(sys.argv[5])            # start only when this many sweeps are ready
hold = int(sys.argv[6])                # stall once this many run records are in place
real = sweep.run_config
real_replace, records = os.replace, []

def replace(src, dst):                 # the store's atomic rename
    real_replace(src, dst)
    if str(dst).endswith(".json"):
        records.append(dst)
        if len(records) == hold:       # a record is written, the table not yet: be killed here
            with open(log, "a") as f:
                f.write("recorded\n")
                f.flush()
                os.fsync(f.fileno())
            time.sleep(60)

os.replace = replace

def logged(cfg, **kw):
    with open(log, "a") as f:          # one line per run that starts, on disk at once
        f.write(cfg["name"] + "\n")
        f.flush()
        os.fsync(f.fileno())
    time.sleep(pause)                  # a run long enough to be killed in the middle of
    return real(cfg, **kw)

sweep.run_config = logged
tiny = {"model": "lenet", "dataset": "mnist", "train_limit": 160, "test_limit": 100,
        "batch_size": 20, "steps": 16, "lr_min": 0.005, "lr_max": 0.05}
cfgs = [{**tiny, "name": n, "seed": int(n[1:])} for n in names.split(",")]
ready = log.with_suffix(".ready")
ready.write_text("ready")
while len(list(log.parent.glob("*.ready"))) < together:   # imports done: start at once
    time.sleep(0.01)
rows = sweep.run_sweep(cfgs, out, device="cpu", verbose=False)
print(json.dumps([[r["name"], r["skipped"], r["status"]] for r in rows]))
"""


def _start(tmp: Path, out: Path, log: Path, names: list[str], pause: float,
           data_folder: Path, together: int = 1, hold: int = 0) -> subprocess.Popen:
    script = tmp / "sweep_script.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "SUPERCONV_DATA": str(data_folder), "SUPERCONV_DEVICE": "cpu",
           "SUPERCONV_CACHE": str(tmp / "cache"), "OMP_NUM_THREADS": "1",
           # this checkout's library, whatever the interpreter has installed
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    args = [str(out), str(log), str(pause), ",".join(names), str(together), str(hold)]
    return subprocess.Popen([sys.executable, str(script), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 120) -> list:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _table(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def _finished(out: Path) -> set[str]:
    done = set()
    for p in (out / "histories").glob("*.json"):
        meta = json.loads(p.read_text())
        if meta["result"]["status"] == "ok":
            done.add(meta["config"]["name"])
    return done


def test_a_killed_sweep_restarts_without_losing_or_retraining_a_run(offline, tmp_path):
    names = ["c0", "c1", "c2"]
    out = tmp_path / "out"
    logs = [tmp_path / f"{i}.log" for i in range(3)]
    # 1. killed in the worst place: c1's record is on disk, the table does not list it yet
    proc = _start(tmp_path, out, logs[0], names, 0.0, offline, hold=2)
    deadline = time.monotonic() + 90
    while "recorded" not in _lines(logs[0]):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the sweep did not record its second run"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    done = _finished(out)
    assert done == {"c0", "c1"} and [r["name"] for r in _table(out)] == ["c0"]
    h1 = json.loads(next(p for p in (out / "histories").glob("*.json")
                         if json.loads(p.read_text())["config"]["name"] == "c1").read_text())
    lock = FileLock(str(out / ".locks" / f"{h1['hash']}.lock"))   # the dead sweep held it
    lock.acquire(timeout=0)
    lock.release()
    # 2. a restart with nothing left to run repairs the table
    rows = _finish(_start(tmp_path, out, logs[1], ["c0", "c1"], 0.0, offline))
    assert _lines(logs[1]) == [] and [r[1] for r in rows] == [True, True]
    assert sorted(r["name"] for r in _table(out)) == ["c0", "c1"]
    # 3. the whole sweep again: only the run that never finished is trained
    rows = _finish(_start(tmp_path, out, logs[2], names, 0.0, offline))
    assert _lines(logs[2]) == ["c2"]
    assert _lines(logs[0]) == ["c0", "c1", "recorded"]         # c0, c1: trained once, in all
    assert rows == [["c0", True, "ok"], ["c1", True, "ok"], ["c2", False, "ok"]]
    table = _table(out)
    assert sorted(r["name"] for r in table) == names            # every run, exactly once
    assert all(r["status"] == "ok" and 0.3 < float(r["final_accuracy"]) <= 1 for r in table)


def test_two_sweeps_at_once_on_one_folder(offline, tmp_path):
    out = tmp_path / "out"
    a, b = ["c0", "c1", "c2", "c3"], ["c3", "c2", "c4", "c5"]      # c2 and c3 in both
    procs = [_start(tmp_path, out, tmp_path / "a.log", a, 0.3, offline, together=2),
             _start(tmp_path, out, tmp_path / "b.log", b, 0.3, offline, together=2)]
    rows_a, rows_b = (_finish(p) for p in procs)
    started = _lines(tmp_path / "a.log") + _lines(tmp_path / "b.log")
    assert sorted(started) == [f"c{i}" for i in range(6)]        # each config trained once
    assert [r[0] for r in rows_a] == a and [r[0] for r in rows_b] == b
    assert all(r[2] == "ok" for r in rows_a + rows_b)
    for n in ("c2", "c3"):        # trained by one sweep, reported by the other as skipped
        assert [r[1] for r in rows_a + rows_b if r[0] == n] in ([False, True], [True, False])
    table = _table(out)
    assert sorted(r["name"] for r in table) == [f"c{i}" for i in range(6)]  # nothing overwritten
