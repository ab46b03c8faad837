"""sweep: configs -> runs -> one results table; resume, failures recorded, the seeds' grids, Ray."""
import csv
import os
import re
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from superconv_lib import experiments, plots, schedules, sweep, train

TINY = {"model": "lenet", "dataset": "mnist", "train_limit": 160, "test_limit": 100,
        "batch_size": 20, "steps": 16, "lr_min": 0.005, "lr_max": 0.05}


def tiny(name, **kw):
    return {**TINY, "name": name, **kw}


@pytest.fixture
def count_runs(monkeypatch):
    """Count calls of run_config (the sweep's only way to start a run)."""
    calls = []
    real = sweep.run_config

    def counting(cfg, **kw):
        calls.append(cfg["name"])
        return real(cfg, **kw)
    monkeypatch.setattr(sweep, "run_config", counting)
    return calls


# ---------------------------------------------------------------------------------------------
# configs, hashes, schedules (no training)


def test_epfl_table1_maps_onto_one_cycle():
    rows = experiments.epfl_table1()
    assert len(rows) == 8 and all(r["batch_size"] == 128 and r["model"] == "resnet18" for r in rows)
    assert [r["target"] for r in rows] == pytest.approx(
        [0.8442, 0.85, 0.8813, 0.8429, 0.8865, 0.8878, 0.8512, 0.8018])
    assert experiments.epfl_adam()["target"] == pytest.approx(0.8354)
    # row 1: 0.001-0.01, momentum 0.95-0.85, 10 % annealing, over N iterations
    n = 1001
    fn = sweep.schedule_of(rows[0], n)
    assert fn(0) == pytest.approx((0.001, 0.95))
    assert fn(450) == pytest.approx((0.01, 0.85))          # peak at pct_start = 0.45 of 1000
    assert fn(900) == pytest.approx((0.001, 0.95))         # cycle ends, annealing starts
    assert fn(1000) == pytest.approx((1e-5, 0.95))         # lr_min / 100 at the last iteration
    assert fn(700) == schedules.one_cycle(1001, 0.01, div=10, pct_start=0.45, pct_anneal=0.1,
                                          final_div=100, moms=(0.95, 0.85))(700)
    # row 2: 50 % annealing -> the cycle takes 50 %, peak at 25 %
    fn2 = sweep.schedule_of(rows[1], n)
    assert fn2(250)[0] == pytest.approx(0.01) and fn2(500)[0] == pytest.approx(0.001)
    # row 7: lr_min == lr_max -> constant 0.01 at momentum 0.9, then the annealing tail to 1e-4
    fn7 = sweep.schedule_of(rows[6], n)
    for s in (0, 200, 450, 899):
        assert fn7(s) == pytest.approx((0.01, 0.9))
    assert fn7(950)[0] == pytest.approx(0.01 - 0.5 * (0.01 - 1e-4))
    assert fn7(1000) == pytest.approx((1e-4, 0.9))
    # Adam baseline: constant
    fa = sweep.schedule_of(experiments.epfl_adam(), n)
    assert fa(0) == fa(999) == (0.001, 0.9)


def test_smith_grid_is_the_caffe_clr_run():
    grid = experiments.smith_grid("weight_decay")
    assert [c["weight_decay"] for c in grid] == [1e-3, 1e-4, 1e-5, 1e-6]
    assert [c["target"] for c in grid] == pytest.approx([0.09952, 0.9244, 0.8828, 0.87252])
    fn = sweep.schedule_of(grid[0], 10_000)
    for s in (0, 1234, 5000, 7777, 9999):  # Caffe's "triangular" CLR, stepsize 5000
        assert fn(s)[0] == pytest.approx(schedules.clr(0.1, 3.0, 5000)(s), abs=1e-3)
        assert fn(s)[1] == 0.9
    mom = experiments.smith_grid("momentum", values=[0.8, 0.95])
    assert [(c["mom_min"], c["mom_max"]) for c in mom] == [(0.8, 0.8), (0.95, 0.95)]
    sizes = experiments.smith_grid("train_size")
    assert [c["train_limit"] for c in sizes] == [10_000, 20_000, 30_000, 40_000, None]
    with pytest.raises(ValueError, match="not in the momentum grid"):
        experiments.smith_grid("momentum", values=[0.5])


def test_smith_grid_shrinks_everything_but_the_setting_it_varies():
    """A smaller run (notebook 06's CPU sizes) keeps each grid's own values: the batch-size grid
    its batches, the momentum grid its momenta, the train-size grid its fractions of the data."""
    small = dict(model="resnet8", train_limit=2000, batch_size=100, steps=80, mom_min=0.9)
    wd = experiments.smith_grid("weight_decay", **small)
    assert [(c["weight_decay"], c["batch_size"], c["train_limit"], c["steps"]) for c in wd] == \
        [(v, 100, 2000, 80) for v in (1e-3, 1e-4, 1e-5, 1e-6)]
    batches = experiments.smith_grid("batch_size", **small)
    assert [c["batch_size"] for c in batches] == [256, 512, 1000, 1536]
    assert {c["model"] for c in batches} == {"resnet8"} and {c["steps"] for c in batches} == {80}
    moms = experiments.smith_grid("momentum", **small)
    assert [(c["mom_min"], c["mom_max"]) for c in moms] == [(0.8, 0.8), (0.85, 0.85), (0.9, 0.9),
                                                              (0.95, 0.95)]
    sizes = experiments.smith_grid("train_size", **small)
    assert [c["train_limit"] for c in sizes] == [400, 800, 1200, 1600, 2000]
    # 13 configs, 12 runs: momentum 0.9 on all 2,000 images is the train-size grid's last run
    assert len({sweep.config_hash(c) for c in sizes + batches + moms}) == 12
    assert sweep.config_hash(moms[2]) == sweep.config_hash(sizes[-1])


def test_config_validation_and_hash():
    with pytest.raises(ValueError, match="unknown config key.*lr_mx"):
        sweep.normalize_config(tiny("x", lr_mx=1.0))
    with pytest.raises(ValueError, match="exactly one of 'epochs' or 'steps'"):
        sweep.normalize_config(tiny("x", epochs=2))
    with pytest.raises(ValueError, match="lr_min <= lr_max"):
        sweep.normalize_config(tiny("x", lr_min=1.0, lr_max=0.1))
    with pytest.raises(ValueError, match="anneal_pct is a percentage"):
        sweep.normalize_config(tiny("x", anneal_pct=100))
    with pytest.raises(ValueError, match="model must be one of"):
        sweep.normalize_config(tiny("x", model="vgg"))
    h = sweep.config_hash(tiny("a"))
    assert h == sweep.config_hash(tiny("b", target=0.5))               # name/target: not the run
    assert h == sweep.config_hash({**tiny("a"), "lr_max": 0.05, "seed": 0.0})  # canonical numbers
    assert h != sweep.config_hash(tiny("a", lr_max=0.06))
    assert h != sweep.config_hash(tiny("a", seed=1))
    with pytest.raises(ValueError, match="unique"):
        sweep.run_sweep([tiny("a"), tiny("a", seed=1)], "/nonexistent-never-created")
    with pytest.raises(ValueError, match="runner must be one of"):
        sweep.run_sweep([tiny("a")], "/nonexistent-never-created", runner="slurm")


def test_missing_ray_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)   # makes `import ray` raise ImportError
    assert not sweep.ray_available()
    with pytest.raises(RuntimeError, match=r'pip install -e "\.\[ray\]"') as info:
        sweep.run_sweep([tiny("a")], tmp_path, runner="ray", verbose=False)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # nothing ran, and the (empty) table is not claimed to be finished
    assert sweep.read_results(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# sweeps that train (tiny LeNet/MNIST runs on the CPU)


def test_table_has_one_row_per_config_and_resume_skips(offline, tmp_path, count_runs):
    cfgs = [tiny("one"), tiny("two", optimizer="adam", schedule="constant", lr_max=1e-3,
                                mom_max=0.9, target=0.9)]
    rows = sweep.run_sweep(cfgs, tmp_path, verbose=False)
    assert count_runs == ["one", "two"]
    assert [r["name"] for r in rows] == ["one", "two"] and not any(r["skipped"] for r in rows)
    for r in rows:
        assert r["status"] == "ok" and r["iterations"] == 16 and r["epochs_done"] == 2
        assert 0.3 < r["final_accuracy"] <= r["best_accuracy"] <= 1, r   # chance is 0.1
        assert math.isfinite(r["final_test_loss"]) and r["wall_time"] > 0
    with open(tmp_path / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == sweep.COLUMNS
    assert [t["name"] for t in table] == ["one", "two"]
    assert [t["hash"] for t in table] == [sweep.config_hash(c) for c in cfgs]
    assert float(table[1]["target"]) == 0.9 and table[1]["optimizer"] == "adam"
    for c in cfgs:
        h = sweep.config_hash(c)
        assert (tmp_path / "histories" / f"{h}.csv").is_file()
        meta = json.loads((tmp_path / "histories" / f"{h}.json").read_text())
        assert meta["config"]["name"] == c["name"] and meta["result"]["status"] == "ok"

    # resume: nothing runs again, the same rows come back; a new config is the only run
    again = sweep.run_sweep(cfgs + [tiny("three", lr_max=0.1)], tmp_path, verbose=False)
    assert count_runs == ["one", "two", "three"]
    assert [r["skipped"] for r in again] == [True, True, False]
    for a, b in zip(rows, again):
        assert a["final_accuracy"] == b["final_accuracy"] and a["hash"] == b["hash"]
    assert len(sweep.read_results(tmp_path)) == 3
    # a renamed copy of a finished config is the same run: skipped, reported under its new name
    renamed = sweep.run_sweep([tiny("one again")], tmp_path, verbose=False)
    assert renamed[0]["skipped"] and renamed[0]["name"] == "one again"
    assert count_runs == ["one", "two", "three"]


def test_saved_history_reloads(offline, tmp_path):
    cfg = tiny("h")
    sweep.run_sweep([cfg], tmp_path, verbose=False)
    direct = sweep.run_config(cfg)          # same seed, same CPU: the same run
    back = sweep.load_history(tmp_path, cfg)
    assert back.steps == direct.steps == 16 and back.steps_per_epoch == direct.steps_per_epoch == 8
    assert back.lr == pytest.approx(direct.lr, rel=1e-7)
    assert back.momentum == pytest.approx(direct.momentum, rel=1e-6)
    assert back.loss == pytest.approx(direct.loss, rel=1e-6)
    assert [(e.step, e.epoch) for e in back.evals] == [(8, 1.0), (16, 2.0)]
    assert back.final_accuracy == pytest.approx(direct.final_accuracy)
    assert back.info["config"]["name"] == "h" and back.info["status"] == "ok"
    assert list(sweep.load_histories(tmp_path, [cfg, tiny("never run", seed=5)])) == ["h"]
    import matplotlib
    matplotlib.use("Agg")
    ax_acc, ax_loss = plots.sweep_curves({"h": back}, x="step")
    acc_line, = ax_acc.lines
    assert list(acc_line.get_xdata()) == [8, 16]
    assert acc_line.get_ydata()[-1] == pytest.approx(100 * direct.final_accuracy)
    train_line = ax_loss.lines[1]                       # the per-epoch mean of the train loss
    assert list(train_line.get_xdata()) == [8, 16]
    assert train_line.get_ydata() == pytest.approx([np.mean(direct.loss[:8]),
                                                    np.mean(direct.loss[8:])], rel=1e-6)
    with pytest.raises(ValueError, match="'epoch' or 'step'"):
        plots.sweep_curves({"h": back}, x="iteration")


def test_schedule_curves_sample_the_configs_schedules():
    import matplotlib
    matplotlib.use("Agg")
    table1 = experiments.epfl_table1()
    curves = sweep.schedule_curves([table1[0], experiments.epfl_adam(), tiny("t")],
                                   points_per_epoch=10)
    row = curves[table1[0]["name"]]                     # 90 epochs at 10 points per epoch
    assert len(row.x) == 900 and row.x[-1] == pytest.approx(89.9) and row.unit == "epoch"
    assert row.lr.max() == pytest.approx(0.01, rel=0.01) and row.lr[-1] == pytest.approx(1e-5)
    assert row.momentum.min() == pytest.approx(0.85, abs=1e-3)
    assert set(curves["Adam 1e-3"].lr) == {1e-3}
    assert curves["t"].unit == "iteration / 1000" and len(curves["t"].x) == 2
    ax_lr, ax_mom = plots.sweep_schedules(curves)
    assert ax_lr.get_yscale() == "log" and len(ax_lr.lines) == len(ax_mom.lines) == 3
    assert ax_lr.get_xlabel() == "epoch or iteration / 1000"
    with pytest.raises(ValueError, match="no configs"):
        sweep.schedule_curves([])


def test_failures_are_recorded_and_the_sweep_goes_on(offline, tmp_path, count_runs):
    cfgs = [tiny("boom", lr_min=50.0, lr_max=500.0, steps=8),     # loss -> NaN
            tiny("too many images", train_limit=10**7),          # data.load refuses: an error
            tiny("fine")]
    rows = sweep.run_sweep(cfgs, tmp_path, verbose=False)
    by = {r["name"]: r for r in rows}
    assert by["boom"]["status"].startswith("diverged at step ")
    assert by["too many images"]["status"].startswith("error: ValueError: limit must be between")
    assert by["fine"]["status"] == "ok"
    assert len(sweep.read_results(tmp_path)) == 3
    # the diverged run is a result (its History is saved); the error is retried next time
    assert math.isnan(sweep.load_history(tmp_path, cfgs[0]).loss[-1])
    sweep.run_sweep(cfgs, tmp_path, verbose=False)
    assert count_runs == ["boom", "too many images", "fine", "too many images"]


def test_ray_runner_runs_two_tiny_configs(offline, tmp_path):
    pytest.importorskip("ray.tune",
                        reason='Ray Tune is not installed (optional: pip install -e ".[ray]")')
    import ray
    cfgs = [tiny("r1"), tiny("r2", lr_max=0.1)]
    try:
        rows = sweep.run_sweep(cfgs, tmp_path, runner="ray", gpus_per_trial=0, cpus_per_trial=1,
                               verbose=False)
    finally:
        ray.shutdown()
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert [r["name"] for r in sweep.read_results(tmp_path)] == ["r1", "r2"]
    local = sweep.run_config(cfgs[0])
    assert rows[0]["final_accuracy"] == pytest.approx(local.final_accuracy, abs=0.02)
    assert sweep.load_history(tmp_path, cfgs[1]).steps == 16
    again = sweep.run_sweep(cfgs, tmp_path, runner="ray", verbose=False)  # resume: Ray not started
    assert all(r["skipped"] for r in again)


# ----------------------------------------- issue 13: the per-run files are the record; nothing lost

def _table_names(out):
    with open(out / "results.csv", newline="") as f:
        return [r["name"] for r in csv.DictReader(f)]


def test_a_fully_resumed_sweep_repairs_the_table(offline, tmp_path, count_runs):
    cfgs = [tiny("one"), tiny("two", lr_max=0.1)]
    first = sweep.run_sweep(cfgs, tmp_path, verbose=False)
    assert _table_names(tmp_path) == ["one", "two"]
    # a row deleted by hand: read_results still has both (the JSON records are the truth) ...
    lines = (tmp_path / "results.csv").read_text().splitlines()
    (tmp_path / "results.csv").write_text("\n".join(lines[:2]) + "\n")
    assert _table_names(tmp_path) == ["one"]
    assert [r["name"] for r in sweep.read_results(tmp_path)] == ["one", "two"]
    # ... and a re-run that trains nothing rewrites the table
    again = sweep.run_sweep(cfgs, tmp_path, verbose=False)
    assert count_runs == ["one", "two"] and all(r["skipped"] for r in again)
    assert _table_names(tmp_path) == ["one", "two"]
    assert [r["final_accuracy"] for r in again] == [r["final_accuracy"] for r in first]
    # the table gone altogether, or damaged: the same
    for damage in ("", "\x00\x01garbage,\n1,2,3\n"):
        if damage:
            (tmp_path / "results.csv").write_text(damage)
        else:
            (tmp_path / "results.csv").unlink()
        sweep.run_sweep(cfgs, tmp_path, verbose=False)
        assert _table_names(tmp_path) == ["one", "two"] and count_runs == ["one", "two"]
        assert "two" in sweep.format_results(sweep.read_results(tmp_path))


class Killed(BaseException):
    """Stands in for a SIGKILL: nothing after it runs (no Exception, like KeyboardInterrupt)."""


def test_a_kill_between_the_record_and_the_table_loses_nothing(offline, tmp_path, count_runs,
                                                               monkeypatch):
    cfgs = [tiny("one"), tiny("two", lr_max=0.1), tiny("three", seed=3)]
    real = sweep._rebuild_table
    calls = []

    def dies_after_the_second_record(out):
        calls.append(out)
        if len(calls) == 3:   # 1: before training, 2: after "one", 3: after "two"
            raise Killed
        return real(out)
    monkeypatch.setattr(sweep, "_rebuild_table", dies_after_the_second_record)
    with pytest.raises(Killed):
        sweep.run_sweep(cfgs, tmp_path, verbose=False)
    assert _table_names(tmp_path) == ["one"]                     # "two" is recorded, not tabled
    assert [r["name"] for r in sweep.read_results(tmp_path)] == ["one", "two"]
    monkeypatch.setattr(sweep, "_rebuild_table", real)
    rows = sweep.run_sweep(cfgs, tmp_path, verbose=False)
    assert count_runs == ["one", "two", "three"]                 # nothing trained twice
    assert [r["skipped"] for r in rows] == [True, True, False]
    assert _table_names(tmp_path) == ["one", "two", "three"]
    assert sorted(r["hash"] for r in sweep.read_results(tmp_path)) == sorted(
        sweep.config_hash(c) for c in cfgs)


def test_every_file_is_fsynced_before_its_rename(monkeypatch, tmp_path):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    def fsync(fd):
        events.append("fsync")
        real_fsync(fd)

    def replace(a, b):
        events.append(("replace", Path(b).name))
        real_replace(a, b)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    sweep._atomic_write(tmp_path / "x" / "results.csv", "a,b\n1,2\n")
    assert events[:2] == ["fsync", ("replace", "results.csv")]
    assert (tmp_path / "x" / "results.csv").read_text() == "a,b\n1,2\n"
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["results.csv"]   # no temp file left


def test_damaged_records_name_the_file_to_delete(offline, tmp_path):
    cfg = tiny("h")
    sweep.run_sweep([cfg], tmp_path, verbose=False)
    h = sweep.config_hash(cfg)
    json_path, csv_path = tmp_path / "histories" / f"{h}.json", tmp_path / "histories" / f"{h}.csv"
    good_json, good_csv = json_path.read_text(), csv_path.read_text()
    for damage in ('{"config": {', "[1, 2]", '{"config": {}, "result": {"status": "ok"}}'):
        json_path.write_text(damage)
        for call in (lambda: sweep.run_sweep([cfg], tmp_path, verbose=False),
                     lambda: sweep.read_results(tmp_path),
                     lambda: sweep.load_history(tmp_path, cfg)):
            with pytest.raises(ValueError, match=re.escape(str(json_path)) + ".*Delete it"):
                call()
    json_path.write_text(good_json)
    csv_path.write_text(good_csv.replace("\n0,", "\n0,oops,", 1))
    with pytest.raises(ValueError, match=re.escape(str(csv_path)) + ".*Delete both files"):
        sweep.load_history(tmp_path, cfg)
    csv_path.write_text(good_csv)
    assert sweep.load_history(tmp_path, cfg).steps == 16


def test_a_table_alone_is_read_and_a_damaged_one_named(tmp_path):
    sweep._write_results(tmp_path, [sweep._table_row({"name": "a", "hash": "abc", "status": "ok",
                                                      "final_accuracy": 0.5, "iterations": 3})])
    rows = sweep.read_results(tmp_path)      # no histories/: the table is all there is
    assert [(r["name"], r["final_accuracy"], r["iterations"]) for r in rows] == [("a", 0.5, 3)]
    assert math.isnan(rows[0]["best_accuracy"]) and rows[0]["target"] is None
    text = (tmp_path / "results.csv").read_text()
    (tmp_path / "results.csv").write_text(text.replace(",3,", ",three,", 1))
    with pytest.raises(ValueError, match=r"results.csv is damaged: line 2.*delete it"):
        sweep.read_results(tmp_path)
    (tmp_path / "results.csv").write_text("no,table,here\n1,2,3\n")
    with pytest.raises(ValueError, match=r"results.csv is damaged: its header lacks"):
        sweep.read_results(tmp_path)


@pytest.mark.parametrize("key, value, match", [
    ("lr_max", float("inf"), "lr_max"), ("lr_min", float("nan"), "lr_min"),
    ("epochs", float("inf"), "epochs"), ("weight_decay", float("nan"), "weight_decay"),
    ("mom_max", "0.9", "mom_max"), ("batch_size", True, "batch_size"),
    ("steps", "16", "steps"), ("target", float("inf"), "target"),
])
def test_config_refuses_non_finite_numbers_and_strings(key, value, match):
    with pytest.raises(ValueError, match=re.escape(f"config['{match}']") + "|" + match):
        sweep.normalize_config({**tiny("x"), key: value})
