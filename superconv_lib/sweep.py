"""Experiment grids: a list of plain-dict configs -> one results table; resumable; one GPU or many.

A **config** is a JSON-serialisable dict (keys and defaults in ``DEFAULTS``). :func:`run_config` is
the one place where a config becomes a run: it loads the data, builds the model and the schedule and
calls ``train.fit`` (the course's one training loop). :func:`run_sweep` runs many configs and keeps,
in an output folder::

    results.csv             one row per run: name, hash, status, accuracies, time, the config
    histories/<hash>.csv    the run's History.to_csv(): per-iteration lr, momentum, loss, evals
    histories/<hash>.json   the full config, the result row and what is needed to reload the History

A run is identified by the **hash** of its config (every key except ``name`` and ``target``), so a
sweep can be stopped and started again: configs whose hash already has a finished run (status
``ok`` or ``diverged …``) are skipped and their rows kept. A run whose loss becomes NaN records
``"diverged at step N"``; any other exception records ``"error: …"`` (and is retried next time);
either way the sweep goes on and the message is in the table — nothing is lost silently.

The per-run files are the record; ``results.csv`` is rebuilt from ``histories/*.json`` by every
``run_sweep`` (also one that finds everything done) and ``read_results`` reads the JSON files, so a
killed sweep, a row deleted by hand or a damaged table costs nothing. Every file is written to a
temporary file, fsynced and renamed into place. Several sweeps may share one ``out_dir`` (on one
machine, or on a shared file system that supports locks): a lock per run makes each config train
once, and a lock on the table serialises its rebuilds.

Runners: ``"local"`` (one config after the other, in this process) and ``"ray"``: the same configs
as Ray Tune trials, one per GPU, on this machine or a Ray cluster (``pip install -e ".[ray]"``).

The papers' grids are data in :mod:`superconv_lib.experiments` (``epfl_table1``, ``epfl_adam``,
``smith_grid``); the figures are ``plots.sweep_schedules`` and ``plots.sweep_curves``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from filelock import FileLock, Timeout

from . import _validate as V
from ._files import atomic_write
from . import config as _config
from . import data, models, plots, schedules, train
from .train import History

__all__ = ["DEFAULTS", "RUNNERS", "SCHEDULES", "normalize_config", "config_hash", "schedule_of",
           "run_config", "run_sweep", "read_results", "load_history", "load_histories",
           "format_results", "schedule_curves", "ray_available", "COLUMNS"]

DEFAULTS: dict = {
    "name": None,            # label in tables and plots (not part of the hash)
    "target": None,          # the paper's accuracy, as a fraction (not part of the hash)
    "model": "resnet18",     # a models.MODELS key
    "dataset": "cifar10",    # a data.DATASETS key
    "train_limit": None,     # class-balanced training subset (images); None = the whole split
    "test_limit": None,      # test images used for evaluation; None = the whole test split
    "batch_size": 128,
    "epochs": None,          # length of the run: epochs ...
    "steps": None,           # ... or iterations (exactly one of the two)
    "optimizer": "sgd",      # "sgd" (Caffe-style momentum + L2), "adam", "adamw"
    "schedule": "one_cycle",  # "one_cycle" or "constant" (lr_max and mom_max throughout)
    "lr_min": 0.01,          # 1cycle: the cycle runs lr_min -> lr_max -> lr_min ...
    "lr_max": 0.1,
    "mom_min": 0.85,         # ... while momentum runs mom_max -> mom_min -> mom_max
    "mom_max": 0.95,         # (for Adam, momentum is beta1)
    "anneal_pct": 10.0,      # % of the run in the annealing phase: lr_min -> lr_min / final_div
    "final_div": 100.0,
    "shape": "linear",       # 1cycle legs: "linear" (the papers) or "cos"
    "weight_decay": 5e-4,
    "nesterov": False,
    "augment": None,         # None, "flip", "crop", "crop+flip" (data.AUGMENTS)
    "eval_every": None,      # iterations between evaluations; None = once per epoch
    "seed": 0,
}
META_KEYS = ("name", "target")
RUNNERS = ("local", "ray")
SCHEDULES = ("one_cycle", "constant")
_FLOATS = ("target", "epochs", "lr_min", "lr_max", "mom_min", "mom_max", "anneal_pct",
           "final_div", "weight_decay")
_INTS = ("train_limit", "test_limit", "batch_size", "steps", "eval_every", "seed")
_RESULT_COLUMNS = ["name", "hash", "status", "final_accuracy", "best_accuracy", "final_test_loss",
                   "iterations", "epochs_done", "wall_time", "device", "step_path", "precision"]
COLUMNS = _RESULT_COLUMNS + [k for k in DEFAULTS if k != "name"]
"""The columns of ``results.csv``: the result, then every config key."""


# ----------------------------------------------------------------------------------------------
# Configs


def normalize_config(cfg: Mapping) -> dict:
    """``cfg`` filled with ``DEFAULTS``, checked, with numbers in canonical types (so that
    ``epochs=90`` and ``epochs=90.0`` are the same run). A ``ValueError`` names a bad key."""
    if not isinstance(cfg, Mapping):
        raise ValueError(f"a config must be a dict, got {type(cfg).__name__}.")
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; the keys are {sorted(DEFAULTS)}.")
    c = {**DEFAULTS, **cfg}
    for k in _FLOATS:
        if c[k] is not None:
            c[k] = V.finite(c[k], f"config[{k!r}]")
    for k in _INTS:
        if c[k] is not None:
            v = c[k]
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            c[k] = int(V.integer(v, f"config[{k!r}]"))
    name = c["name"]
    where = f"config {name!r}: " if name else "config: "
    if c["model"] not in models.MODELS:
        raise ValueError(f"{where}model must be one of {sorted(models.MODELS)}, "
                         f"got {c['model']!r}.")
    if c["dataset"] not in data.DATASETS:
        raise ValueError(f"{where}dataset must be one of {sorted(data.DATASETS)}, "
                         f"got {c['dataset']!r}.")
    if (c["epochs"] is None) == (c["steps"] is None):
        raise ValueError(f"{where}give exactly one of 'epochs' or 'steps' (iterations).")
    if c["epochs"] is not None and not c["epochs"] > 0:
        raise ValueError(f"{where}epochs must be > 0, got {c['epochs']}.")
    for k in ("steps", "batch_size", "train_limit", "test_limit", "eval_every"):
        if c[k] is not None and c[k] < 1:
            raise ValueError(f"{where}{k} must be >= 1, got {c[k]}.")
    if c["seed"] < 0:
        raise ValueError(f"{where}seed must be >= 0, got {c['seed']}.")
    if c["optimizer"] not in ("sgd", "adam", "adamw"):
        raise ValueError(f"{where}optimizer must be 'sgd', 'adam' or 'adamw', "
                         f"got {c['optimizer']!r}.")
    if c["schedule"] not in SCHEDULES:
        raise ValueError(f"{where}schedule must be one of {SCHEDULES}, got {c['schedule']!r}.")
    if c["augment"] not in data.AUGMENTS:
        raise ValueError(f"{where}augment must be one of {data.AUGMENTS}, got {c['augment']!r}.")
    if c["shape"] not in schedules.SHAPES:
        raise ValueError(f"{where}shape must be one of {schedules.SHAPES}, got {c['shape']!r}.")
    if not c["lr_max"] > 0:
        raise ValueError(f"{where}lr_max must be > 0, got {c['lr_max']}.")
    if c["schedule"] == "one_cycle" and not 0 < c["lr_min"] <= c["lr_max"]:
        raise ValueError(f"{where}1cycle needs 0 < lr_min <= lr_max, got lr_min={c['lr_min']}, "
                         f"lr_max={c['lr_max']}.")
    for k in ("mom_min", "mom_max"):
        if not 0 <= c[k] < 1:
            raise ValueError(f"{where}{k} must be in [0, 1), got {c[k]}.")
    if c["mom_min"] > c["mom_max"]:
        raise ValueError(f"{where}mom_min must be <= mom_max, got {c['mom_min']} > {c['mom_max']}.")
    if not 0 <= c["anneal_pct"] < 100:
        raise ValueError(f"{where}anneal_pct is a percentage in [0, 100), got {c['anneal_pct']}.")
    if not c["final_div"] >= 1:
        raise ValueError(f"{where}final_div must be >= 1, got {c['final_div']}.")
    if not c["weight_decay"] >= 0:
        raise ValueError(f"{where}weight_decay must be >= 0, got {c['weight_decay']}.")
    if not isinstance(c["nesterov"], bool):
        raise ValueError(f"{where}nesterov must be True or False, got {c['nesterov']!r}.")
    if c["target"] is not None and not 0 <= c["target"] <= 1:
        raise ValueError(f"{where}target is an accuracy as a fraction in [0, 1] (e.g. 0.8813), "
                         f"got {c['target']}.")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"config name must be a string, got {name!r}.")
    if name is None:
        c["name"] = "run-" + _hash(c)[:8]
    return c


def _hash(c: dict) -> str:
    key = {k: v for k, v in c.items() if k not in META_KEYS}
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def config_hash(cfg: Mapping) -> str:
    """12 hex digits naming a run: a SHA-1 of the normalised config without ``name`` and ``target``.
    Two configs with the same hash are the same experiment; the sweep runs it once."""
    return _hash(normalize_config(cfg))


def schedule_of(cfg: Mapping, total_steps: int) -> Callable[[int], tuple[float, float]]:
    """The config's (lr, momentum) schedule over a run of ``total_steps`` iterations.

    ``"one_cycle"`` maps the seed's table onto :func:`schedules.one_cycle`::

        max_lr = lr_max            div = lr_max / lr_min        moms = (mom_max, mom_min)
        pct_anneal = anneal_pct / 100                  pct_start = (1 - pct_anneal) / 2
        final_div = final_div (default 100: the annealing phase ends at lr_min / 100, as the seed's)

    i.e. a symmetric cycle lr_min -> lr_max -> lr_min (momentum mom_max -> mom_min -> mom_max) over
    ``1 - pct_anneal`` of the iterations, then the annealing phase, linear from lr_min to
    lr_min / final_div at momentum mom_max. With lr_min == lr_max (div = 1) the cycle is a constant
    lr followed by the same annealing phase. The last iteration (``total_steps - 1``) is the end of
    the annealing phase. ``"constant"`` is ``(lr_max, mom_max)`` throughout (the Adam baseline).
    """
    c = normalize_config(cfg)
    if c["schedule"] == "constant":
        lr, mom = c["lr_max"], c["mom_max"]
        return lambda step: (lr, mom)
    pct_anneal = c["anneal_pct"] / 100
    kw = dict(max_lr=c["lr_max"], div=c["lr_max"] / c["lr_min"], pct_start=(1 - pct_anneal) / 2,
              pct_anneal=pct_anneal, final_div=c["final_div"], moms=(c["mom_max"], c["mom_min"]),
              shape=c["shape"])
    return schedules.one_cycle(max(2, int(total_steps)), **kw)


def _model_for(c: dict) -> torch.nn.Module:
    chans, height, _ = data.DATASETS[c["dataset"]].shape
    kw = {"in_channels": chans}
    if c["model"] == "lenet":
        kw["image_size"] = height
    return models.build(c["model"], **kw)


def run_config(cfg: Mapping, *, device: "torch.device | str | None" = None,
               progress: bool = False, callbacks: Sequence[object] = (),
               step_path: str = "auto") -> History:
    """Run one config: the single place where a config becomes a run.

    Seeds everything with ``seed``, loads ``dataset`` (``train_limit``/``test_limit`` images, class
    balanced), builds ``model`` and a ``data.Loader`` (``batch_size``, ``augment``), makes the
    schedule with :func:`schedule_of` and calls ``train.fit`` for ``epochs`` × iterations-per-epoch
    or ``steps`` iterations, evaluating on the test split every ``eval_every`` iterations (default:
    once per epoch). Returns the History (``label`` = the config's name; ``info["config"]`` = the
    normalised config). Raises ``train.TrainingDiverged`` if the loss becomes NaN.
    ``callbacks`` and ``step_path`` go to ``train.fit`` (e.g. a timer in ``benchmarks/``).
    """
    c = normalize_config(cfg)
    dev = torch.device(device) if device is not None else _config.device()
    _config.seed_everything(c["seed"])
    x, y = data.load(c["dataset"], "train", device=dev, limit=c["train_limit"], seed=c["seed"])
    xt, yt = data.load(c["dataset"], "test", device=dev, limit=c["test_limit"], seed=c["seed"])
    loader = data.Loader(x, y, c["batch_size"], augment=c["augment"], seed=c["seed"])
    steps = c["steps"] if c["steps"] is not None else max(1, round(c["epochs"] * len(loader)))
    model = _model_for(c)
    hist = train.fit(model, loader, steps=steps, lr=schedule_of(c, steps),
                     weight_decay=c["weight_decay"], optimizer=c["optimizer"],
                     nesterov=c["nesterov"], eval_data=(xt, yt), eval_every=c["eval_every"],
                     progress=progress, label=c["name"], callbacks=callbacks,
                     step_path=step_path)
    hist.info["config"] = c
    return hist


# ----------------------------------------------------------------------------------------------
# Sweeps


def _finished(status: str) -> bool:
    # a diverged run is a result (rerunning the same seed diverges again); an error is not
    return status == "ok" or status.startswith("diverged")


def _paths(out_dir: Path, h: str) -> tuple[Path, Path]:
    return out_dir / "histories" / f"{h}.csv", out_dir / "histories" / f"{h}.json"


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` durably (see :func:`superconv_lib._files.atomic_write`)."""
    atomic_write(path, lambda f: f.write(text))


def _row(c: dict, h: str, status: str, hist: History | None, device: str) -> dict:
    evals = hist.evals if hist is not None else []
    row = {"name": c["name"], "hash": h, "status": status,
           "final_accuracy": evals[-1].accuracy if evals else float("nan"),
           "best_accuracy": max(e.accuracy for e in evals) if evals else float("nan"),
           "final_test_loss": evals[-1].loss if evals else float("nan"),
           "iterations": hist.steps if hist is not None else 0,
           "epochs_done": hist.steps / hist.steps_per_epoch if hist is not None else 0.0,
           "wall_time": hist.wall_time if hist is not None else 0.0, "device": device,
           # how fit ran the step and in which arithmetic (train.fit's History.info): on a GPU
           # the precision is probed, so a row says which one its numbers come from
           "step_path": hist.info.get("step_path") if hist is not None else None,
           "precision": hist.info.get("precision") if hist is not None else None}
    row.update({k: v for k, v in c.items() if k != "name"})
    return row


def _run_and_record(c: dict, out_dir: Path, device, progress: bool) -> dict:
    """Run one normalised config, save its History and JSON, return its result row. Never raises
    for a failed run (the failure is the row's status); KeyboardInterrupt still stops the sweep."""
    h = config_hash(c)
    dev = torch.device(device) if device is not None else _config.device()
    hist: History | None = None
    try:
        hist = run_config(c, device=dev, progress=progress)
        status = "ok"
    except train.TrainingDiverged as e:
        hist, status = e.history, f"diverged at step {e.step}"
    except Exception as e:  # noqa: BLE001 — recorded in the table, the sweep goes on
        msg = " ".join(str(e).split())
        status = f"error: {type(e).__name__}: {msg[:300]}"
    row = _row(c, h, status, hist, str(dev))
    _record(c, out_dir, h, row, hist)
    return row


def _record(c: dict, out_dir: Path, h: str, row: dict, hist: History | None) -> None:
    """Store one run: its History CSV first, then the JSON that makes it count as done."""
    csv_path, json_path = _paths(out_dir, h)
    meta = {"config": c, "hash": h, "result": row, "finished": time.time()}
    if hist is not None:
        _atomic_write(csv_path, hist.to_csv())
        meta["history"] = {"steps_per_epoch": hist.steps_per_epoch, "label": hist.label,
                           "wall_time": hist.wall_time, "stop_reason": hist.stop_reason,
                           "info": {k: v for k, v in hist.info.items() if k != "config"}}
    _atomic_write(json_path, json.dumps(meta, indent=1, default=str, allow_nan=True))


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.8g}"
    return str(v)


# ----------------------------------------------------------------------------------------------
# The store: histories/<hash>.json is the record of a run; results.csv is rebuilt from them


def _damaged(path: Path, why: str) -> ValueError:
    what = ("Fix it, or delete it: run_sweep rebuilds it from the records in histories/ "
            "(where the folder has them)"
            if path.name == "results.csv" else
            "Delete it (and the .csv of the same name): the next run_sweep trains that config "
            "again. Or restore it from a backup")
    return ValueError(f"{path} is damaged: {why}. {what}.")


def _load_meta(path: Path) -> dict:
    """One run's record, checked (a ValueError naming the file if it is damaged)."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise _damaged(path, f"it is not readable JSON ({type(e).__name__}: {e})") from None
    result = meta.get("result") if isinstance(meta, dict) else None
    if not (isinstance(result, dict) and isinstance(meta.get("config"), dict)
            and isinstance(result.get("status"), str)):
        raise _damaged(path, "it lacks the run's config or its result row")
    if result.get("hash") != path.stem:
        raise _damaged(path, f"its result row is for hash {result.get('hash')!r}, not for "
                       f"{path.stem!r}, the file's name")
    return meta


def _store(out: Path) -> list[dict]:
    """Every run recorded in ``out/histories``, in the order they were finished."""
    folder = out / "histories"
    metas = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        meta = _load_meta(path)
        when = meta.get("finished")
        if not isinstance(when, (int, float)):
            try:  # written before runs recorded their finishing time
                when = path.stat().st_mtime
            except OSError:  # deleted meanwhile by hand
                continue
        metas.append((float(when), path.stem, meta))
    return [m for _, _, m in sorted(metas, key=lambda t: (t[0], t[1]))]


def _table_row(result: Mapping) -> dict:
    """A stored result row with exactly ``COLUMNS`` (older records may lack newer columns)."""
    row = {k: result.get(k) for k in COLUMNS}
    for k in _NAN_IF_EMPTY:
        if row[k] is None:
            row[k] = float("nan")
    return row


def _table_lock(out: Path) -> FileLock:
    return FileLock(str(out / ".results.csv.lock"))


def _run_lock(out: Path, h: str) -> FileLock:
    (out / ".locks").mkdir(parents=True, exist_ok=True)
    return FileLock(str(out / ".locks" / f"{h}.lock"))


def _rebuild_table(out: Path) -> dict[str, dict]:
    """Rewrite ``results.csv`` from every stored run; return ``{hash: row}`` (in table order)."""
    with _table_lock(out):
        rows = [_table_row(m["result"]) for m in _store(out)]
        _write_results(out, rows)
    return {r["hash"]: r for r in rows}


def _write_results(out_dir: Path, rows: Sequence[dict]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_fmt(r.get(k)) for k in COLUMNS])
    _atomic_write(out_dir / "results.csv", buf.getvalue())


_NAN_IF_EMPTY = ("final_accuracy", "best_accuracy", "final_test_loss")


def _parse(key: str, text: str):
    if text == "":
        return float("nan") if key in _NAN_IF_EMPTY else None
    if key == "iterations" or key in _INTS:
        return int(text)
    if key in _FLOATS or key in ("final_accuracy", "best_accuracy", "final_test_loss",
                                 "epochs_done", "wall_time"):
        return float(text)
    if key == "nesterov":
        if text not in ("True", "False"):
            raise ValueError(f"{text!r} is not True or False")
        return text == "True"
    return text


def read_results(out_dir: "str | Path") -> list[dict]:
    """The sweep's rows, as in ``out_dir/results.csv`` (numbers parsed; empty cells are None, or
    NaN for accuracies), in the order the runs finished. An empty list if nothing ran yet.

    They are read from the per-run records ``histories/*.json``, the sweep's source of truth, so
    they are complete even when ``results.csv`` is stale (a killed sweep) or was edited by hand;
    a folder holding only ``results.csv`` is read from the table. A damaged file is a
    ``ValueError`` that names it."""
    out = Path(out_dir)
    metas = _store(out)
    if metas:
        return [_table_row(m["result"]) for m in metas]
    path = out / "results.csv"
    if not path.is_file():
        return []
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [k for k in ("name", "hash", "status") if k not in (reader.fieldnames or ())]
            if missing:
                raise _damaged(path, f"its header lacks {missing}")
            rows = []
            for r in reader:
                try:
                    rows.append({k: _parse(k, v) for k, v in r.items()
                                 if k is not None and v is not None})
                except ValueError as e:
                    raise _damaged(path, f"line {reader.line_num}: {e}") from None
            return rows
    except (UnicodeDecodeError, csv.Error) as e:
        raise _damaged(path, f"it is not a readable CSV ({type(e).__name__}: {e})") from None


def ray_available() -> bool:
    """True when Ray Tune can be imported (``pip install -e ".[ray]"``)."""
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError:
        return False
    return True


def run_sweep(configs: Sequence[Mapping], out_dir: "str | Path", *, runner: str = "local",
              device: "torch.device | str | None" = None, progress: bool = False,
              ray_address: str | None = None, gpus_per_trial: float | None = None,
              cpus_per_trial: float = 1, verbose: bool = True) -> list[dict]:
    """Run every config not finished yet in ``out_dir``; return one result row per config, in order.

    ``runner="local"`` runs them one after the other in this process (on ``device``, default
    ``config.device()``). ``runner="ray"`` runs them as Ray Tune trials, ``gpus_per_trial`` GPUs
    and ``cpus_per_trial`` CPUs each (default: 1 GPU if this machine has CUDA, else 0), on the Ray
    cluster at ``ray_address`` (``None``: start or reuse a local one; ``"auto"``: the running
    cluster). On a cluster of several machines, ``out_dir`` must be a shared folder (e.g. NFS).

    Resume: a config whose hash already has a finished record (``histories/<hash>.json``) is not
    run again; its row is returned with ``skipped=True``. ``results.csv`` is rebuilt from the
    records first, so even a sweep with nothing left to run repairs a stale or damaged table.
    Several local sweeps may share ``out_dir``: a config that another sweep is training is
    waited for, not trained twice. Each row has the ``COLUMNS`` of ``results.csv`` plus
    ``skipped`` and ``target`` (the paper's accuracy, when the config gives it). Configs are
    validated before anything runs; names must be unique. Identical configs (same hash) run once.
    """
    if runner not in RUNNERS:
        raise ValueError(f"runner must be one of {RUNNERS}, got {runner!r}.")
    if isinstance(configs, Mapping):
        raise ValueError("configs must be a list of dicts; wrap a single config as [config].")
    norm = [normalize_config(c) for c in configs]
    names = [c["name"] for c in norm]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"config names must be unique; repeated: {dupes}.")
    out = Path(out_dir).expanduser().resolve()
    (out / "histories").mkdir(parents=True, exist_ok=True)
    hashes = [config_hash(c) for c in norm]

    table = _rebuild_table(out)
    todo, seen = [], set()
    for c, h in zip(norm, hashes):
        if h in seen or (h in table and _finished(table[h]["status"])):
            continue
        seen.add(h)
        todo.append(c)

    if verbose:
        print(f"sweep: {len(norm)} configs, {len(norm) - len(todo)} already done, "
              f"{len(todo)} to run ({runner}) -> {out}")
    trained: set[str] = set()
    if runner == "local":
        waiting = []
        for c in todo:  # first the configs no other sweep is training, then wait for the rest
            if _claim_and_run(c, out, device, progress, verbose, trained, len(todo), wait=False):
                table = _rebuild_table(out)   # after every run: a crash loses nothing
            else:
                waiting.append(c)
        for c in waiting:
            _claim_and_run(c, out, device, progress, verbose, trained, len(todo), wait=True)
            table = _rebuild_table(out)
    elif todo:
        _run_ray(todo, out, ray_address=ray_address, gpus_per_trial=gpus_per_trial,
                 cpus_per_trial=cpus_per_trial)
        trained.update(config_hash(c) for c in todo)
        table = _rebuild_table(out)

    rows = []
    for c, h in zip(norm, hashes):
        if h not in table:  # a record deleted by hand while this sweep ran
            raise RuntimeError(f"the record of config {c['name']!r} ({h}) disappeared from "
                               f"{out / 'histories'} while the sweep ran; run it again.")
        row = dict(table[h])
        row.update(name=c["name"], target=c["target"], skipped=h not in trained)
        rows.append(row)
    failed = [r for r in rows if not r["skipped"] and r["status"] != "ok"]
    if verbose and failed:
        print("sweep: not ok -> " + "; ".join(f"{r['name']}: {r['status']}" for r in failed))
    return rows


def _claim_and_run(c: dict, out: Path, device, progress: bool, verbose: bool,
                   trained: set, total: int, *, wait: bool) -> bool:
    """Run ``c`` unless another sweep holds its lock (then False, or with ``wait``: wait for it)
    or has finished it meanwhile. True when ``c`` now has a record."""
    h = config_hash(c)
    lock = _run_lock(out, h)
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        return False
    try:
        meta = _read_meta(out, h)
        if meta is not None:  # another sweep finished it while this one was busy
            if verbose:
                print(f"  {c['name']}: finished by another sweep on this folder")
            return True
        t0 = time.perf_counter()
        row = _run_and_record(c, out, device, progress)
        trained.add(h)
        if verbose:
            print(f"  [{len(trained)}/{total}] {c['name']}: {row['status']}, final accuracy "
                  f"{row['final_accuracy']:.2%} ({time.perf_counter() - t0:.0f} s)")
        return True
    finally:
        lock.release()


def _read_meta(out: Path, h: str) -> dict | None:
    """The record of run ``h`` if it finished (ok or diverged), else None."""
    path = _paths(out, h)[1]
    if not path.is_file():
        return None
    meta = _load_meta(path)
    return meta if _finished(meta["result"]["status"]) else None


# ----------------------------------------------------------------------------------------------
# Ray Tune runner


def _ray_trial(params: dict, configs: list, out_dir: str, env: dict, threads: int) -> dict:
    """One Ray Tune trial: ``params["index"]`` picks the config. Runs in a Ray worker process."""
    os.environ.update(env)  # SUPERCONV_DATA / _DEVICE / _CACHE of the driver
    if not torch.cuda.is_available():
        torch.set_num_threads(max(1, threads))
    row = _run_and_record(configs[params["index"]], Path(out_dir), None, False)
    return {"row_json": json.dumps(row, default=str, allow_nan=True),
            "final_accuracy": float(row["final_accuracy"])}


def _run_ray(todo: list[dict], out: Path, *, ray_address: str | None,
             gpus_per_trial: float | None, cpus_per_trial: float) -> list[dict]:
    try:
        import ray
        from ray import tune
    except ImportError:
        raise RuntimeError(
            'runner="ray" needs Ray Tune, which is not installed. Install the optional extra with '
            '`pip install -e ".[ray]"` (from the project folder), or use runner="local".') from None
    if gpus_per_trial is None:
        gpus_per_trial = 1 if torch.cuda.is_available() else 0
    if gpus_per_trial < 0 or cpus_per_trial <= 0:
        raise ValueError(f"gpus_per_trial must be >= 0 and cpus_per_trial > 0, got "
                         f"{gpus_per_trial} and {cpus_per_trial}.")
    if not ray.is_initialized():
        ray.init(address=ray_address, ignore_reinit_error=True, log_to_driver=False)
    # the driver's data/cache/quick settings; not a "cuda:N" device: Ray gives each trial its GPUs
    env = {k: v for k, v in os.environ.items() if k.startswith("SUPERCONV_")
           and not (k == "SUPERCONV_DEVICE" and v.strip().lower().startswith("cuda"))}
    trainable = tune.with_resources(
        tune.with_parameters(_ray_trial, configs=todo, out_dir=str(out), env=env,
                             threads=int(max(1, cpus_per_trial))),
        {"cpu": cpus_per_trial, "gpu": gpus_per_trial})
    run_config_cls = getattr(tune, "RunConfig", None)
    if run_config_cls is None:  # Ray < 2.10 keeps RunConfig in ray.train
        from ray.train import RunConfig as run_config_cls
    tuner = tune.Tuner(
        trainable, param_space={"index": tune.grid_search(list(range(len(todo))))},
        run_config=run_config_cls(name=f"sweep-{int(time.time())}",
                                  storage_path=str(out / "ray"), verbose=0))
    grid = tuner.fit()
    rows, done = [], set()
    for res in grid:
        i = res.config["index"]
        metrics = res.metrics or {}
        if res.error is None and "row_json" in metrics:
            rows.append(json.loads(metrics["row_json"]))
        else:  # the worker itself failed (killed, out of memory, ...): record it, retry next time
            c = todo[i]
            msg = " ".join(str(res.error).split())[:300]
            rows.append(_row(c, config_hash(c), f"error: ray trial failed: {msg}", None, "ray"))
            _record(c, out, rows[-1]["hash"], rows[-1], None)
        done.add(i)
    for i in sorted(set(range(len(todo))) - done):
        c = todo[i]
        rows.append(_row(c, config_hash(c), "error: ray returned no result", None, "ray"))
        _record(c, out, rows[-1]["hash"], rows[-1], None)
    return rows


# ----------------------------------------------------------------------------------------------
# Reading back, tables, the schedules for a figure


def load_history(out_dir: "str | Path", cfg: "Mapping | str") -> History:
    """The History a sweep saved for ``cfg`` (a config, or its hash): per-iteration lr, momentum
    and loss and the evaluations, as ``train.fit`` returned it (numbers to 8 significant digits)."""
    out = Path(out_dir)
    h = cfg if isinstance(cfg, str) else config_hash(cfg)
    csv_path, json_path = _paths(out, h)
    if not json_path.is_file() or not csv_path.is_file():
        raise FileNotFoundError(f"no saved history for config {h} in {out / 'histories'}; run the "
                                "sweep first (with runner='ray' on several machines, out_dir must "
                                "be a shared folder).")
    meta = _load_meta(json_path)
    m = meta.get("history")
    if not isinstance(m, dict) or not {"steps_per_epoch", "wall_time", "stop_reason"} <= set(m):
        raise _damaged(json_path, "it has a History CSV beside it but no 'history' entry")
    try:
        text = csv_path.read_text()
        hist = History.from_csv(text, int(m["steps_per_epoch"]),
                                m.get("label") or meta["config"].get("name") or "")
        hist.wall_time, hist.stop_reason = float(m["wall_time"]), m["stop_reason"]
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as e:
        raise ValueError(f"{csv_path} (or its record {json_path.name}) is damaged: {e}. Delete "
                         f"both files: the next run_sweep trains that config again. Or restore "
                         "them from a backup.") from None
    hist.info = {**m.get("info", {}), "config": meta["config"], "status": meta["result"]["status"]}
    return hist


def load_histories(out_dir: "str | Path", configs: Sequence[Mapping]) -> dict[str, History]:
    """``{name: History}`` for those ``configs`` that have a saved history in ``out_dir``."""
    out = {}
    for c in configs:
        n = normalize_config(c)
        try:
            out[n["name"]] = load_history(out_dir, n)
        except FileNotFoundError:
            continue
    return out


def _pct(v) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}"


def format_results(rows: Sequence[Mapping], *, columns: Sequence[str] = (
        "lr_min", "lr_max", "mom_min", "mom_max", "anneal_pct", "epochs")) -> str:
    """A plain-text table of sweep rows: name, the chosen config ``columns``, the paper's accuracy
    (``target``), ours (final and best, %), the difference, iterations, time and status."""
    if not rows:
        raise ValueError("no rows to format; run_sweep returns them.")
    head = ["run", *columns, "paper %", "ours %", "best %", "diff", "iters", "time s", "status"]
    body = []
    for r in rows:
        t, a = r.get("target"), r.get("final_accuracy")
        diff = ("—" if t is None or a is None or math.isnan(t) or math.isnan(a)
                else f"{100 * (a - t):+.2f}")
        cells = [str(r["name"])]
        for k in columns:
            v = r.get(k)
            cells.append("—" if v is None else f"{v:g}" if isinstance(v, (int, float)) else str(v))
        cells += [_pct(t), _pct(a), _pct(r.get("best_accuracy")), diff,
                  str(r.get("iterations", "")), f"{float(r.get('wall_time') or 0):.0f}",
                  str(r["status"])]
        body.append(cells)
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head)] + [line(b) for b in body])


def schedule_curves(configs: Sequence[Mapping], *, points_per_epoch: int = 20
                    ) -> "dict[str, plots.Curve]":
    """Each config's learning rate and momentum as :func:`schedule_of` makes them, sampled for
    :func:`superconv_lib.plots.sweep_schedules`: ``{name: Curve(x, lr, momentum, unit)}``.

    A schedule depends only on the fraction of the run done, so it is sampled at
    ``points_per_epoch`` points per epoch (the real run has one value per iteration); a config
    given in ``steps`` is drawn against iterations / 1000 instead of epochs."""
    if not configs:
        raise ValueError("no configs to plot.")
    out = {}
    for cfg in configs:
        c = normalize_config(cfg)
        in_epochs = c["epochs"] is not None
        length = c["epochs"] if in_epochs else c["steps"] / 1000
        n = max(2, round(length * points_per_epoch))
        fn = schedule_of(c, n)
        vals = np.array([fn(s) for s in range(n)], dtype=float)
        out[c["name"]] = plots.Curve(np.arange(n) / points_per_epoch, vals[:, 0], vals[:, 1],
                                     "epoch" if in_epochs else "iteration / 1000")
    return out
