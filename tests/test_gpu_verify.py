"""tools/gpu_verify.py, the one-command GPU verification run, in its CPU dry run: every part runs at
a tiny size and reports real numbers, a part without its data fails (never skips), and a part
that runs past its budget is killed without stopping the rest. (The GPU run itself needs the GPU
machine; CI runs this.)"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu_verify.py"
PARTS = ["tests", "throughput", "mnist", "range_test", "one_cycle", "hessian"]


def _verify(args: list[str], data: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "SUPERCONV_DATA": str(data)}
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout)


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _finite(*values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory, data_folder):
    out = tmp_path_factory.mktemp("verify")
    proc = _verify(["--dry-run", str(out)], data_folder)
    return proc, out


def test_dry_run_passes_every_part_with_real_numbers(dry_run):
    proc, out = dry_run
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    s = _summary(out)
    assert s["dry_run"] is True and s["hardware"]["torch"] == torch.__version__
    assert [p["part"] for p in s["parts"]] == PARTS
    assert {p["part"]: p["status"] for p in s["parts"]} == dict.fromkeys(PARTS, "pass"), \
        {p["part"]: p["note"] for p in s["parts"]}
    assert all(0 < p["seconds"] < p["budget_s"] and p["figures"] for p in s["parts"])
    parts = {p["part"]: p["data"] for p in s["parts"]}

    tests = parts["tests"]["counts"]           # the graph logic's CPU tests ran; CUDA ones skipped
    assert tests["passed"] >= 3 and tests["failure"] == tests["error"] == 0
    assert any("flagship" in c["test"] for c in parts["tests"]["cases"])

    rows = parts["throughput"]["rows"]
    assert [r["case"] for r in rows] == ["lenet", "resnet20"]
    assert all(_finite(r["fit"], r["raw"], r["typical"], r["a/b"], r["a/c"]) and r["fit"] > 0
               for r in rows)

    mnist = parts["mnist"]                      # LeNet learned: far above chance (10 %)
    assert mnist["final_accuracy"] > 0.5 and _finite(mnist["train_s"]) and mnist["train_s"] > 0
    assert mnist["epochs"] == pytest.approx(12)

    rt = parts["range_test"]                    # a linear sweep 0 -> 3 with its accuracy points
    assert len(rt["lrs"]) >= 3 and rt["lrs"] == sorted(rt["lrs"]) and 2.5 < rt["lrs"][-1] <= 3.0
    assert all(0 <= a <= 1 for a in rt["accuracy"]) and max(rt["accuracy"]) > 0.1
    assert _finite(rt["score"])

    oc = parts["one_cycle"]
    runs = [v for v in oc.values() if isinstance(v, dict)]       # 1cycle and piecewise
    assert len(runs) == 2
    assert all(0 <= r["final_accuracy"] <= 1 and r["wall_s"] > 0 for r in runs)
    assert max(r["final_accuracy"] for r in runs) > 0.15       # one of them learned something
    assert _finite(oc["s_per_epoch"]) and oc["s_per_epoch"] > 0

    hs = parts["hessian"]
    ests = [v for v in hs.values() if isinstance(v, dict)]
    assert len(ests) == 2
    for est in ests:
        lo, hi = est["range"]
        assert _finite(lo, hi) and 0 < lo <= hi and len(est["raw"]) >= 3
        assert _finite(*est["raw"])
    assert _finite(hs["ratio_of_maxima"])


def test_dry_run_writes_the_table_the_log_and_figures(dry_run):
    proc, out = dry_run
    table = (out / "summary.md").read_text()
    for i, name in enumerate(PARTS, 1):
        assert f"| {i} {name} | pass |" in table
    assert "torch " + torch.__version__ in table
    log = (out / "log.txt").read_text()
    assert "=== 6/6 hessian" in log and "| 6 hessian | pass |" in log
    files = sorted(f.name for f in out.iterdir())
    assert {"range_test.png", "one_cycle.png", "hessian.png", "log.txt"} <= set(files)
    assert len(files) <= 8 and all(f.is_file() for f in out.iterdir())   # what the device tool returns
    assert "| 1 tests | pass |" in proc.stdout


def test_dataset_parts_fail_when_the_data_is_missing(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    proc = _verify(["--dry-run", "--only", "mnist,4", str(tmp_path / "out")], empty)
    assert proc.returncode == 1
    status = {p["part"]: (p["status"], p["note"]) for p in _summary(tmp_path / "out")["parts"]}
    assert status["mnist"][0] == status["range_test"][0] == "fail"
    assert "mnist.npz" in status["mnist"][1] and "cifar10" in status["range_test"][1]
    assert all(status[p][0] == "skipped" for p in ("tests", "throughput", "one_cycle", "hessian"))


def test_a_part_past_its_budget_is_killed_and_the_next_still_runs(tmp_path, data_folder):
    # 1 s is less than importing torch takes: both parts are cut off, each at its own limit
    proc = _verify(["--dry-run", "--only", "mnist", "--only", "hessian", "--part-seconds", "1",
                    str(tmp_path)], data_folder, timeout=120)
    assert proc.returncode == 1
    parts = {p["part"]: p for p in _summary(tmp_path)["parts"]}
    for name in ("mnist", "hessian"):
        assert parts[name]["status"] == "timeout" and "budget" in parts[name]["note"]
        assert 1 <= parts[name]["seconds"] < 15
