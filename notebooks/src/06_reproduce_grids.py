# %% [markdown]
# # 06 · Reproducing the grids: a resumable sweep, on one GPU or many
# **What you will learn:**
# - how a paper's table of hyper-parameters becomes a list of plain-dict **configs**, and how the
#   seed's 1cycle columns (LR min/max, momentum min/max, annealing %) map onto `schedules.one_cycle`;
# - how to run a grid with one call that writes one results table, saves every run's History and
#   **resumes** (finished configs are skipped), locally or as Ray Tune trials, one per GPU;
# - how to read our accuracy beside the paper's, and the accuracy/loss curves of every run;
# - what the seed's very-high-LR row (0.1 → 3) does: training gets worse, quickly recovers, and
#   ends with a smaller gap between training and test accuracy — the regularising effect;
# - what Smith & Topin's weight-decay sensitivity grid looks like next to the EPFL grid.
#
# **Prerequisites:** [03 · 1cycle](03_one_cycle.ipynb) (the 1cycle policy and its parameters) and
# [04 · the indicator](04_super_convergence_indicator.ipynb) (what a very large lr does); Python
# dicts and lists.
#
# **Learner time:** ≈ 75 min (reading ≈ 30 min, four exercises and the written answer ≈ 45 min).
#
# **Run time** (`SUPERCONV_MODE`, see the README): **quick** ≈ 1 min on 2 CPU cores (measured:
# 48 s; 95 s under heavy load) · **laptop** ≈ 2 min on 2 idle CPU cores (measured: 118 s,
# section 5's two 400-iteration runs included; 274–314 s on cores shared with other jobs)
# · **full** = the seed's Table I (8 ResNet-18 runs of 50–90 epochs + the 90-epoch Adam
# baseline: 700 CIFAR-10 epochs), two more 50-epoch ResNet-18 runs for section 5 and 4 ResNet-56
# runs of 10,000 iterations at batch 1,000 — hours on one GPU (an estimate, not yet measured), or
# spread over several GPUs with `RUNNER = "ray"`; the sweep resumes where it stopped.
#
# ← previous: [05 · Hessian-free optimal LR](05_hessian_free_lr.ipynb) ·
# next: [07 · The disciplined approach](07_disciplined_approach.ipynb) →

# %%
# Setup: everything comes from the shared library; nothing is re-implemented in a cell.
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from superconv_lib import checks, config, data, experiments, models, plots, schedules, sweep, train

config.seed_everything(0)
print(config.report())

# %% tags=["parameters"]
# Parameters (papermill can inject these). The run size comes from SUPERCONV_MODE (quick | laptop |
# full, see the README): quick and laptop keep every recipe but shrink each run.
MODE = config.mode()
SMALL = MODE != "full"
RUNNER = "local"        # "ray": one Ray Tune trial per GPU (pip install -e ".[ray]")
RAY_ADDRESS = None      # None: a Ray instance on this machine; "auto": the running Ray cluster
# Results live here. Full mode keeps them, so running the notebook again resumes the sweep.
OUT_DIR = (tempfile.mkdtemp(prefix="superconv-06-") if SMALL
           else str(config.cache_dir() / "sweeps" / "06_reproduce_grids"))
BATCH_SIZE = 128        # the seed's code uses DataLoader(batch_size=128); the report does not say
TABLE1_ROWS = {"quick": [2, 6], "laptop": [0, 2, 6], "full": list(range(8))}[MODE]   # 0-based
SMITH_GRID = "weight_decay"                          # or "momentum", "train_size", "batch_size"
SMITH_VALUES = {"quick": [1e-4, 1e-6], "laptop": [1e-4, 1e-5, 1e-6], "full": None}[MODE]
# The small sizes keep every recipe (schedule, momentum, weight decay) but shrink the experiment:
# quick: ResNet-8 on 500 CIFAR-10 images, 2 epochs of 10 iterations; laptop: 2,000 images at
# batch 100, 4 epochs.
SHRINK = {"quick": dict(model="resnet8", train_limit=500, test_limit=500, batch_size=50, epochs=2),
          "laptop": dict(model="resnet8", train_limit=2000, test_limit=1000, batch_size=100,
                         epochs=4),
          "full": {}}[MODE]
SMITH_SHRINK = {"quick": dict(model="resnet8", train_limit=500, test_limit=500, batch_size=50,
                              steps=20, eval_every=5),
                "laptop": dict(model="resnet8", train_limit=2000, test_limit=1000, batch_size=100,
                               steps=80, eval_every=20),
                "full": {}}[MODE]
# Section 5, the 0.1 -> 3 row against a standard-lr row with train AND test curves. quick: ResNet-8
# on 1,000 images at 16 px, 6 epochs; laptop: 5,000 images, 8 epochs; full: the seed's ResNet-18
# on all of CIFAR-10 for the 0.1 -> 3 row's 50 epochs. `subset`: training images evaluated.
HIGH_LR = {"quick": dict(model="resnet8", train_limit=1000, test_limit=500, image_size=16,
                         batch_size=50, epochs=6, eval_every=10, subset=500, asserts=()),
           "laptop": dict(model="resnet8", train_limit=5000, test_limit=1000, image_size=16,
                          batch_size=100, epochs=8, eval_every=25, subset=1000,
                          asserts=("dip", "gap")),
           "full": dict(model="resnet18", train_limit=None, test_limit=None, image_size=32,
                        batch_size=BATCH_SIZE, epochs=50, eval_every=195, subset=10_000,
                        asserts=())}[MODE]

# %% [markdown]
# ## 1 · The seed's Table I as configs
# Bachmann & Allemann ("Experiments on Super-Convergence", EPFL CS-439) train a **ResNet-18 on
# CIFAR-10 with no data augmentation** (only normalisation), weight decay 5·10⁻⁴, and compare Adam
# (lr 10⁻³, β = 0.9/0.999: 83.54 %, no progress after about epoch 10) with eight 1cycle runs.
# A run is a plain dict; `experiments.epfl_table1()` writes their table as eight of them:
#
# | LR min | LR max | mom min | mom max | anneal % | epochs | their val. acc. |
# |---|---|---|---|---|---|---|
# | 0.001 | 0.01 | 0.85 | 0.95 | 10 | 90 | 84.42 |
# | 0.001 | 0.01 | 0.85 | 0.95 | 50 | 90 | 85.00 |
# | 0.01 | 0.1 | 0.85 | 0.95 | 10 | 70 | 88.13 |
# | 0.001 | 0.01 | 0.9 | 0.9 | 10 | 90 | 84.29 |
# | 0.01 | 0.1 | 0.9 | 0.9 | 10 | 70 | 88.65 |
# | 0.001 | 0.1 | 0.85 | 0.95 | 10 | 90 | 88.78 |
# | 0.01 | 0.01 | 0.9 | 0.9 | 10 | 50 | 85.12 |
# | 0.1 | 3 | 0.85 | 0.95 | 10 | 50 | 80.18 |
#
# **The mapping onto `schedules.one_cycle`** (`sweep.schedule_of`), with $a$ = anneal % / 100:
#
# $$\texttt{max\_lr} = \text{LR max},\quad \texttt{div} = \frac{\text{LR max}}{\text{LR min}},\quad
# \texttt{moms} = (\text{mom max}, \text{mom min}),\quad \texttt{pct\_anneal} = a,\quad
# \texttt{pct\_start} = \frac{1-a}{2},\quad \texttt{final\_div} = 100 .$$
#
# So the cycle is symmetric (up for $(1-a)/2$ of the iterations, down for as long) and the
# annealing phase takes the lr linearly from LR min to LR min / 100 at momentum = mom max — the
# seed's code anneals to exactly `lr_min/100`. Two rows need a word:
# - **0.01 / 0.01 / 0.9 / 0.9 / 10 % / 50** has `div = 1`: the "cycle" is a constant lr of 0.01 at
#   momentum 0.9 for 90 % of the run, then the annealing phase 0.01 → 10⁻⁴ — what the seed ran.
# - **Batch size** is not in the report; their code uses `DataLoader(trainset, batch_size=128)`, so
#   we use 128 (390 iterations per epoch on 50,000 images).
#
# Two small differences we chose not to copy: the seed splits epochs with `int()` (90 epochs at
# 10 % annealing trains 9 + 2·40 = 89 epochs; every row ran one epoch less than its table entry)
# and normalises with the widely copied constants (0.4914, 0.4822, 0.4465)/(0.2023, 0.1994, 0.2010);
# we train the table's epochs and normalise with the training set's own per-channel statistics.

# %%
table1 = experiments.epfl_table1(batch_size=BATCH_SIZE)
adam = experiments.epfl_adam(batch_size=BATCH_SIZE)
for c in table1 + [adam]:
    print(f"{c['name']:<34} their accuracy {100 * c['target']:.2f} %")
plots.sweep_schedules(sweep.schedule_curves(table1 + [adam]));

# %%
# The constant row really is constant, then anneals; the others start and end at LR min.
const = sweep.schedule_of(table1[6], 1001)          # 1001 iterations: the cycle ends at 900
assert const(0) == const(899) == (0.01, 0.9) and abs(const(1000)[0] - 1e-4) < 1e-12
cyc = sweep.schedule_of(table1[0], 1001)
assert abs(cyc(450)[0] - 0.01) < 1e-12 and abs(cyc(450)[1] - 0.85) < 1e-12  # peak lr, low momentum

# %% [markdown]
# ## 2 · Run the grid: one call, one table, resumable
# `sweep.run_sweep(configs, out_dir)` runs each config through `sweep.run_config` — the one place a
# config becomes a run: load the data, build the model, make the schedule, call `train.fit` — and
# writes `results.csv` (one row per run) and `histories/<hash>.csv` (the run's History, per
# iteration). A run is named by the **hash** of its config, so calling it again skips every config
# that already has a finished row. A run whose loss turns NaN is recorded as `diverged at step N`
# and the sweep goes on. (The CPU sizes run only the rows in `TABLE1_ROWS` — two in quick mode,
# three at the laptop size — and Adam, shrunk to a CPU; full mode runs all eight and Adam.)

# %%
configs = [{**table1[i], **SHRINK} for i in TABLE1_ROWS] + [{**adam, **SHRINK}]
rows = sweep.run_sweep(configs, OUT_DIR, runner=RUNNER, ray_address=RAY_ADDRESS)
print(sweep.format_results(rows))

# %%
assert len(rows) == len(configs) and len(sweep.read_results(OUT_DIR)) >= len(configs)
assert all(r["status"] == "ok" for r in rows), [r["status"] for r in rows]
assert all(0.1 < r["final_accuracy"] <= r["best_accuracy"] for r in rows)  # better than chance

# %% [markdown]
# **Resume.** The same call again finds every hash finished: nothing trains, the rows come back from
# disk. Stop a long sweep at any point (or lose the machine) and this is how it continues.

# %%
t0 = time.perf_counter()
again = sweep.run_sweep(configs, OUT_DIR, runner=RUNNER, ray_address=RAY_ADDRESS)
elapsed = time.perf_counter() - t0
print(f"second call: {elapsed:.2f} s, skipped: {[r['skipped'] for r in again]}")
assert all(r["skipped"] for r in again) and elapsed < 10
assert [r["final_accuracy"] for r in again] == [r["final_accuracy"] for r in rows]

# %% [markdown]
# **Add a row.** A changed setting is a new config, hence a new hash: append a row (here row 3 with
# LR max 0.3) and call the sweep again. The finished rows come back from disk; only the new one trains.

# %%
mine = {**table1[2], **SHRINK, "name": "my row: 0.01-0.3", "lr_max": 0.3, "target": None}
rows_mine = sweep.run_sweep(configs + [mine], OUT_DIR, runner=RUNNER, ray_address=RAY_ADDRESS)
print(sweep.format_results(rows_mine))
assert all(r["skipped"] for r in rows_mine[:-1]), "the finished rows must not train again"
assert not rows_mine[-1]["skipped"] and rows_mine[-1]["status"] == "ok"
assert rows_mine[-1]["lr_max"] == 0.3

# %% [markdown]
# ## 3 · Our numbers beside the seed's
# The table above has the seed's number (`paper %`) next to ours (`ours %`, the test accuracy after
# the last epoch — the seed reports the last epoch's validation accuracy too — and the best epoch).
# At the quick and laptop sizes "ours" is not comparable with the paper: it is a ResNet-8 trained
# for 20 iterations on 500 images (quick) or 80 iterations on 2,000 images (laptop), against the
# seed's ResNet-18 trained for 50–90 epochs on all 50,000. Read those sizes' column only as a check
# that every run learned.
#
# **Full mode, measured on one GPU:** not recorded yet — the column is filled in when this notebook
# is run in full mode (`SUPERCONV_MODE=full`) on a GPU; until then the seed's numbers are the targets.
#
# ## 4 · The curves: accuracy and loss per epoch
# The seed's figure, for every run of the grid: test accuracy after each epoch (left) and the loss
# (right: training loss averaged over each epoch, solid; test loss, dashed). What to look for in
# full mode: Adam's accuracy flattening early; the 1cycle runs climbing slowly while the lr is large
# and jumping in the last part of the cycle and in the annealing phase, when the lr falls.

# %%
histories = sweep.load_histories(OUT_DIR, configs)
ran = sweep.normalize_config(configs[0])["model"]      # the model this size trained
plots.sweep_curves(histories, title=(f"Table I: {ran} on CIFAR-10" if not SMALL else
                   f"Table I (paper: ResNet-18; here: {ran} on CIFAR-10, {MODE} size)"));

# %%
assert list(histories) == [c["name"] for c in configs]
for c in configs:
    h = histories[c["name"]]
    assert len(h.evals) == round(c["epochs"]) and abs(h.evals[-1].epoch - c["epochs"]) < 1e-9
    assert h.lr[0] == sweep.schedule_of(c, h.steps)(0)[0]   # the saved History is the run's

# %% [markdown]
# ## 5 · The very-high-LR row: 0.1 → 3 gets worse, recovers, and overfits less
# The seed's last row cycles the lr from 0.1 up to **3** — thirty times the maximum of the best rows.
# Their report describes its curves: training "gets worse but quickly recovers", and it ends at
# 80.18 %, below the 0.01–0.1 rows, but with a **smaller gap between training and validation
# accuracy** — the very large lr regularises. The sweep above records test accuracy only; here we
# train that row and a standard-lr row (row 3: 0.01 → 0.1) for the same epochs, from the same
# seed on the same batches, and evaluate both on the test images **and** on a fixed subset of the
# training images at every evaluation. `train.fit` evaluates one data set (`eval_data`); a small
# callback evaluates the other with `train.evaluate` (eval mode, no augmentation — the seed uses
# none) and keeps its points in a second `History`, so the library's plots draw both.

# %% [markdown]
# **Predict, then run: the curves of the 0.1 → 3 row.** Before you run the next cells, sketch the
# test accuracy of both runs against epochs. When does the 0.1 → 3 run do worse than early in
# training, and when does it recover? Which run ends with the smaller gap between training and
# test accuracy, and why? Write two or three sentences in the cell below.

# %% [markdown] tags=["written-answer"]
# Model answer: the 0.1 → 3 run learns at first, then gets *worse* while the lr climbs towards 3
# (in the middle of the cycle the steps are so large that the weights are thrown out of the minima
# they found), and recovers quickly once the lr comes down in the second half of the cycle and the
# annealing phase. The standard 0.01 → 0.1 run climbs steadily. The 0.1 → 3 run ends with the
# smaller train−test gap: its large, noisy steps keep it from fitting the training images closely
# (a regulariser), while the small-lr run memorises more of its training set than it generalises —
# with this much regularisation the high-lr run may also end lower on the test set.
#
# **Rubric (3 points):** 1 point for the dip while the lr is largest (middle of the cycle);
# 1 point for the recovery when the lr falls (second half, annealing); 1 point for the smaller
# gap of the 0.1 → 3 run, explained as the regularising effect of large lrs.

# %%
HL = HIGH_LR
x_hl, y_hl = data.load("cifar10", "train", limit=HL["train_limit"])
xt_hl, yt_hl = data.load("cifar10", "test", limit=HL["test_limit"])
x_hl, xt_hl = data.downscale(x_hl, HL["image_size"]), data.downscale(xt_hl, HL["image_size"])
hl_loader = data.Loader(x_hl, y_hl, batch_size=HL["batch_size"])   # no augmentation, as the seed
train_subset = (x_hl[:HL["subset"]], y_hl[:HL["subset"]])          # the same images every time


def high_lr_runs(rows, epochs):
    """Train each Table I row (a config) for `epochs` epochs on `hl_loader`, same seed and
    batches, evaluated on the test images and on `train_subset`:
    {"LR min -> LR max": (test History, training-subset History)}."""
    steps = round(epochs * len(hl_loader))
    c = rows[0]          # the rows differ only in their LR range
    return experiments.train_test_runs(
        lambda: models.build(HL["model"]), hl_loader,
        {f"LR {r['lr_min']:g} -> {r['lr_max']:g}": sweep.schedule_of(r, steps) for r in rows},
        steps=steps, eval_data=(xt_hl, yt_hl), train_subset=train_subset,
        optimizer=c["optimizer"], weight_decay=c["weight_decay"], eval_every=HL["eval_every"],
        progress=False)


baseline_row, high_row = table1[2], table1[7]                  # 0.01-0.1 and 0.1-3
assert (baseline_row["lr_min"], baseline_row["lr_max"], high_row["lr_min"], high_row["lr_max"]) \
    == (0.01, 0.1, 0.1, 3.0)
high_lr = high_lr_runs([baseline_row, high_row], HL["epochs"])
plots.train_test(high_lr);

# %%
(base_test, base_train), (high_test, high_train) = high_lr.values()
LEARNED = {"quick": 0.15, "laptop": 0.3, "full": 0.7}[MODE]
# Before reading anything off the runs: both trained to the end and learned (chance is 10 %).
assert base_test.stop_reason is None and high_test.stop_reason is None
assert min(base_test.final_accuracy, high_test.final_accuracy) > LEARNED, \
    (base_test.final_accuracy, high_test.final_accuracy)
acc = high_test.eval_array("accuracy")
best_so_far = np.maximum.accumulate(acc)
trough = int(np.argmax(best_so_far - acc))                    # the deepest fall below the best so far
dip = 100 * (best_so_far[trough] - acc[trough])
recovered = 100 * (acc[-1] - best_so_far[trough])             # the end against the best before it
gap_base = 100 * (base_train.final_accuracy - base_test.final_accuracy)
gap_high = 100 * (high_train.final_accuracy - high_test.final_accuracy)
print(f"0.1 -> 3: falls {dip:.1f} points below its best so far (at epoch "
      f"{high_test.evals[trough].epoch:.1f}, lr {high_test.evals[trough].lr:.2g}), and ends "
      f"{recovered:+.1f} points from that best; train-test gap {gap_high:+.1f} points against "
      f"{gap_base:+.1f} for 0.01 -> 0.1")
if "dip" in HL["asserts"]:
    assert dip >= 5.0 and recovered >= 0.0, (dip, recovered)   # gets worse, then recovers
if "gap" in HL["asserts"]:
    assert gap_base - gap_high >= 5.0, (gap_base, gap_high)    # the regularising effect
if not HL["asserts"]:
    print(f"[measured only at the {MODE} size: " + ("too small to show it reliably]" if SMALL else
          "not yet measured on a GPU at this size; assert it once a run confirms it]"))

# %% [markdown]
# At the laptop size (ResNet-8, 5,000 images at 16 px, 8 epochs) the line printed above tells the
# story: the 0.1 → 3 run gets worse while the lr is near its top (the line says where), then ends
# above its earlier best, and its train−test gap ends well below the 0.01 → 0.1 run's. This size
# asserts both (a fall of at least 5 points, then a full recovery; a gap at least 5 points
# smaller). How far it falls, and when, changes with the seed and the number of CPU threads. The
# quick size is too small to show either effect reliably; the full size is the seed's setup (not
# yet run here).
#
# **Try it yourself:** change the high row's LR range and length; **Run** trains it and the 0.01 →
# 0.1 row with `high_lr_runs` — the function the cell above calls — and draws the same figure.

# %% tags=["nbval-ignore-output"]
import ipywidgets as w
from superconv_lib.widgets import log_slider, run_panel


def high_lr_panel_run(lr_min, lr_max, epochs):
    mine = {**high_row, "name": f"{lr_min:.2g}-{lr_max:.2g}", "lr_min": lr_min, "lr_max": lr_max}
    plots.train_test(high_lr_runs([baseline_row, mine], epochs))


run_panel({"lr_min": log_slider("LR min", 0.1, 1e-3, 1.0),
           "lr_max": log_slider("LR max", 3.0, 1e-2, 10.0),
           "epochs": w.IntSlider(HL["epochs"], min=1, max=4 * HL["epochs"], description="epochs")},
          high_lr_panel_run, title="A very-high-LR row against 0.01-0.1: train and test curves",
          loaders=[hl_loader])

# %% [markdown]
# ## 6 · A Smith & Topin sensitivity grid: weight decay
# Smith & Topin vary one setting at a time around their ResNet-56 super-convergence run: a single
# CLR cycle 0.1 → 3 → 0.1 over 10,000 iterations (stepsize 5,000; in our terms 1cycle with
# `anneal_pct=0`), batch 1,000, momentum 0.9, weight decay 10⁻⁴, random flips. Their Caffe logs
# (github.com/lnsmith54/super-convergence, `Results/clr3SS5k*`) end at these test accuracies:
#
# | weight decay | 10⁻³ | 10⁻⁴ | 10⁻⁵ | 10⁻⁶ |
# |---|---|---|---|---|
# | test accuracy | 9.95 % (never learns) | **92.44 %** | 88.28 % | 87.25 % |
#
# A large learning rate regularises by itself, so the rest of the regularisation must be balanced
# against it: in their runs 10⁻³ is too much to train at all, 10⁻⁵ and below too little.
# `experiments.smith_grid` also has their momentum (0.8…0.95), training-set size (10k…50k) and
# batch-size (256…1536) grids. The quick and laptop sizes cannot show this order: their runs are
# far too short for weight decay to matter, and a note under the plot says so.

# %%
smith = experiments.smith_grid(SMITH_GRID, values=SMITH_VALUES, **SMITH_SHRINK)
rows_s = sweep.run_sweep(smith, OUT_DIR, runner=RUNNER, ray_address=RAY_ADDRESS)
print(sweep.format_results(rows_s, columns=("weight_decay", "mom_max", "batch_size", "train_limit")))
ran_s = sweep.normalize_config(smith[0])["model"]     # the model this size trained
plots.sweep_curves(sweep.load_histories(OUT_DIR, smith), x="step",
                   title=(f"Smith & Topin, {ran_s}: {SMITH_GRID} grid" if not SMALL else
                          f"Smith & Topin, {SMITH_GRID} grid (paper: ResNet-56; here: {ran_s}, "
                          f"{MODE} size)"));
if SMALL:
    paper_steps = experiments.smith_grid(SMITH_GRID)[0]["steps"]
    print(f"[measured only at the {MODE} size: runs of {SMITH_SHRINK['steps']} iterations are too "
          f"short for the {SMITH_GRID.replace('_', ' ')} to matter; Smith & Topin's grid ran "
          f"{paper_steps:,} iterations]")

# %%
assert len(rows_s) == len(smith)
# a diverged run is a result too (recorded with its step), never a silent gap
assert all(r["status"] == "ok" or r["status"].startswith("diverged at step") for r in rows_s)

# %% [markdown]
# ## 7 · Many GPUs: the Ray runner
# `runner="ray"` runs the same configs as Ray Tune trials, `gpus_per_trial` GPUs each (default 1),
# on this machine or on a Ray cluster (`ray_address="auto"` after `ray start` on the machines).
# Results and histories land in the same `OUT_DIR` (on several machines it must be a shared
# folder), and resume works the same way. Ray is an optional extra: `pip install -e ".[ray]"`.
# ```python
# rows = sweep.run_sweep(configs, OUT_DIR, runner="ray", ray_address="auto", gpus_per_trial=1)
# ```

# %%
print("Ray Tune installed:", sweep.ray_available())

# %% [markdown]
# ### Try it yourself
# Pick a row, change its length, Run. The panel calls `sweep.run_sweep` into the same folder, so a
# row already run comes back at once; a changed length is a new config (a new hash) and trains.

# %% tags=["nbval-ignore-output"]
from superconv_lib.widgets.sweep import grid_panel

panel = grid_panel(table1 + [adam], OUT_DIR, overrides=SHRINK, runner=RUNNER)
panel

# %% [markdown]
# ## What you saw
# - A paper's grid is a list of dicts; `run_config` is the only place a dict becomes a run, so every
#   row is trained by the same `train.fit` loop, with the 1cycle mapping written down once.
# - The sweep keeps one table and one History per run, keyed by the config's hash: calling it again
#   resumes, adding a row runs only that row, and a diverged run is recorded, not lost.
# - The seed's targets: 1cycle with LR 0.01–0.1 or 0.001–0.1 (88–89 %) beats Adam (83.5 %) and
#   the narrow 0.001–0.01 range (84–85 %) without augmentation; 0.1–3 is too much for this
#   ResNet-18 (80 %). Smith & Topin's weight-decay grid shows the regularisation balance (in
#   their logs: the CPU sizes' runs are too short to show it).
# - The 0.1 → 3 row, with training and test curves side by side: it gets worse while the lr is
#   near 3, recovers as the lr comes down, and ends with a much smaller train−test gap than the
#   0.01 → 0.1 row — a large lr is a regulariser, which is why it can cost test accuracy when
#   nothing else is rebalanced (notebook 07 does the rebalancing).
#
# ## Exercises
# 1. **A new row for Table I.** Between the seed's 0.01–0.1 rows (88 %) and its 0.1–3 row (80 %)
#    lies an untried one. Write the config of the row `NEW_ROW` below — LR 0.01 → 0.3 → 0.01 while momentum goes
#    0.95 → 0.85 → 0.95, 20 % of the run in the annealing phase, 60 epochs, on the seed's setup
#    (ResNet-18 on all of CIFAR-10, batch 128, SGD, weight decay 5·10⁻⁴, no augmentation) — as the
#    dict `my_row()` returns. Mind each key's unit (`sweep.DEFAULTS` lists them). The check builds
#    the schedule `sweep.schedule_of` makes of your dict and compares it with `schedules.one_cycle`
#    fed the table's columns through the mapping of section 1: the lr at the peak, then every
#    iteration (lr and momentum), then the setup and the length.

# %%
# The new row, in the columns of the seed's Table I:
#          LR min, LR max, mom min, mom max, anneal %, epochs
NEW_ROW = (0.01, 0.3, 0.85, 0.95, 20, 60)


def my_row():
    """The config (a dict of `sweep.DEFAULTS` keys) that runs NEW_ROW on the seed's setup."""
    ### BEGIN SOLUTION
    lr_min, lr_max, mom_min, mom_max, anneal, epochs = NEW_ROW
    return {"name": "new row: 0.01-0.3 | 20% | 60ep", "model": "resnet18", "dataset": "cifar10",
            "batch_size": 128, "epochs": epochs, "optimizer": "sgd", "schedule": "one_cycle",
            "lr_min": lr_min, "lr_max": lr_max, "mom_min": mom_min, "mom_max": mom_max,
            "anneal_pct": anneal, "weight_decay": 5e-4, "augment": None}
    ### END SOLUTION

# %%
# Self-check: your dict's schedule against schedules.one_cycle fed the table's columns through the
# mapping of section 1, over a run of N iterations; then the setup and the length.
lo, hi, m_lo, m_hi, anneal, epochs = NEW_ROW
N = 1001
table_schedule = schedules.one_cycle(
    N, hi, div=hi / lo, pct_start=(1 - anneal / 100) / 2, pct_anneal=anneal / 100,
    final_div=100, moms=(m_hi, m_lo))
peak = round((1 - anneal / 100) / 2 * (N - 1))   # the iteration where the lr tops out
seed_setup = sweep.normalize_config({**experiments.epfl_table1()[0], "epochs": epochs})
SETTINGS = ("model", "dataset", "train_limit", "batch_size", "optimizer", "weight_decay",
            "nesterov", "augment", "final_div", "shape", "epochs", "steps")


def peak_lr():
    """The lr your config trains at in the middle of its cycle."""
    return sweep.schedule_of(my_row(), N)(peak)[0]


def iterations_that_differ():
    """How many of the N iterations get another (lr, momentum) than the table's."""
    yours = sweep.schedule_of(my_row(), N)
    return sum(any(abs(a - b) > 1e-9 * b for a, b in zip(yours(k), table_schedule(k)))
               for k in range(N))


def settings_that_differ():
    """How many settings (the seed's setup and the row's length) your config gets wrong."""
    yours = sweep.normalize_config(my_row())
    return sum(yours[k] != seed_setup[k] for k in SETTINGS)


checks.close(peak_lr, table_schedule(peak)[0], rel=1e-9, name="Exercise 1 · LR at the peak of the cycle",
             hint="the peak is lr_max, reached in the middle of the cycle, which takes "
                  "(100 − anneal %) of the run: anneal_pct is a percentage, not a fraction.")
checks.close(iterations_that_differ, 0, rel=0, name="Exercise 1 · iterations where your schedule differs",
             hint="the cycle starts and ends at lr_min; momentum starts at mom_max and dips to "
                  "mom_min at the peak, opposite to the lr.")
checks.close(settings_that_differ, 0, rel=0, name="Exercise 1 · settings that differ from the seed's rows",
             hint="compare sweep.normalize_config(my_row()) with table1[0]: only the LR, momentum "
                  "and annealing columns and the length in epochs should change.")

# %% [markdown]
# 2. **How long is a run, in iterations?** The table counts epochs; the schedule counts iterations
#    (optimizer steps, one per batch). Write `my_iterations(cfg, n_images)`: the iterations
#    `sweep.run_config` trains `cfg` for on `n_images` training images — `steps` when the config
#    gives it (Smith & Topin's runs), else epochs × iterations per epoch, where an epoch is as many
#    *full* batches as fit in the images. The check compares your count with the library's, for
#    every config of this notebook at full size (50,000 images) and for every run it trained.

# %%
def my_iterations(cfg, n_images=50_000):
    """Iterations (optimizer steps) the config `cfg` trains for on `n_images` training images."""
    ### BEGIN SOLUTION
    if cfg.get("steps") is not None:
        return cfg["steps"]
    per_epoch = n_images // cfg.get("batch_size", 128)   # full batches: the remainder is dropped
    return round(cfg["epochs"] * per_epoch)
    ### END SOLUTION

# %%
# Self-check: against the library's own count. A data.Loader's len() is the iterations per epoch
# that sweep.run_config multiplies by the epochs; it needs the images only for their number, so
# blank one-pixel stand-ins will do. The runs this notebook trained recorded their count.
def library_iterations(cfg, n_images):
    """sweep.run_config's length: `steps`, or epochs × len(data.Loader) (drop_last)."""
    c = sweep.normalize_config(cfg)
    if c["steps"] is not None:
        return c["steps"]
    blank = torch.zeros(n_images, 1, 1, 1, dtype=torch.uint8)
    loader = data.Loader(blank, torch.zeros(n_images, dtype=torch.long), c["batch_size"],
                         stats=((0.0,), (1.0,)))
    return round(c["epochs"] * len(loader))


full_size = experiments.epfl_table1() + [experiments.epfl_adam()] + experiments.smith_grid()
cases = ([(c, 50_000, library_iterations(c, 50_000)) for c in full_size]
         + [(c, c["train_limit"] or 50_000, r["iterations"])
            for c, r in zip(configs + smith, rows + rows_s) if r["status"] == "ok"])


def configs_that_differ():
    """How many configs get another count from your function than from the library."""
    return sum(my_iterations(c, n) != want for c, n, want in cases)


# The library's counts are computed above, before the checks; while your function runs, the
# library's count (library_iterations, len(data.Loader)) is switched off.
row3_iterations = library_iterations(table1[2], 50_000)
checks.close(lambda: my_iterations(table1[2]), row3_iterations, rel=0,
             abs=0.5, name="Exercise 2 · iterations of row 3 (0.01-0.1, 70 epochs)",
             hint="50,000 images are not a whole number of batches of 128: the Loader drops the "
                  "last, partial batch (drop_last), so an epoch is a whole number of iterations.",
             forbid=[library_iterations, data.Loader.__len__])
checks.close(configs_that_differ, 0, rel=0, name="Exercise 2 · configs whose count differs from the library's",
             hint="a config gives either `epochs` or `steps` (iterations); Smith & Topin's give "
                  "steps. Runs of this notebook have n_images = train_limit.",
             forbid=[library_iterations, data.Loader.__len__])

# %% [markdown]
# 3. **Where does the annealing phase end?** Write `my_final_lr(cfg)`: the lr of the *last*
#    iteration of the run `cfg` describes, from the config alone, for the three kinds of run in
#    this notebook — the Table I rows (1cycle with an annealing phase), the Adam baseline (constant)
#    and Smith & Topin's single CLR cycle (`anneal_pct = 0`). Then compare row 6's last lr with its
#    peak of 0.1: how many decades does one run sweep?

# %%
def my_final_lr(cfg):
    """The lr of the run's last iteration (the end of the annealing phase, if it has one)."""
    ### BEGIN SOLUTION
    if cfg.get("schedule", "one_cycle") == "constant":
        return cfg["lr_max"]                          # Adam's baseline: no cycle, no annealing
    if cfg.get("anneal_pct", 10.0) == 0:
        return cfg["lr_min"]                          # one CLR cycle: back where it started
    return cfg["lr_min"] / cfg.get("final_div", 100.0)   # annealing: lr_min / final_div
    ### END SOLUTION

# %%
# Self-check: against the last iteration of sweep.schedule_of, for the eight Table I rows, the
# Adam baseline and Smith & Topin's run. The last lrs are computed first; while your function
# runs, the library's schedules are switched off.
runs = experiments.epfl_table1() + [experiments.epfl_adam()] + experiments.smith_grid(values=[1e-4])
last_lrs = [sweep.schedule_of(c, 1000)(999)[0] for c in runs]


def configs_with_another_final_lr():
    """How many of the runs end at another lr than your function says."""
    return sum(abs(my_final_lr(c) - last) > 1e-6 * last for c, last in zip(runs, last_lrs))


checks.close(configs_with_another_final_lr, 0, rel=0, name="Exercise 3 · runs whose last lr you got wrong",
             hint="look at the end of each curve in section 1's schedule plot and at the mapping: "
                  "how far below lr_min does the annealing phase go? A run with anneal_pct = 0 has "
                  "no annealing phase; a constant schedule never moves.",
             forbid=[sweep.schedule_of, schedules.one_cycle, schedules.clr])

# %% [markdown]
# 4. **How much worse did it get?** Section 5 read the "gets worse" of the 0.1 → 3 run as the
#    largest fall of its test accuracy below the best value reached *before* it. Write
#    `my_largest_dip(acc)` for a list of accuracies (one per evaluation): that fall, in the list's
#    own units, and 0 for a curve that never falls. Then predict, and check on the runs of section
#    5: which of the two runs has the larger dip?

# %%
def my_largest_dip(acc):
    """The largest drop of an accuracy curve below its best value so far (0 if it never falls)."""
    ### BEGIN SOLUTION
    best, dip = float("-inf"), 0.0
    for a in acc:
        best = max(best, a)
        dip = max(dip, best - a)
    return dip
    ### END SOLUTION

# %%
checks.largest_dip(my_largest_dip, name="Exercise 4 · the largest dip")

# %%
# Which run fell further? Your function on section 5's runs:
for name, (test_h, _) in high_lr.items():
    try:
        dip_points = 100 * my_largest_dip(list(test_h.eval_array("accuracy")))
    except Exception as e:      # not written yet, or a bug: the check above says which
        print(f"my_largest_dip raised {type(e).__name__}: fix it first (see the check above).")
        break
    print(f"{name:<16} largest dip {dip_points:.1f} points")

# %% [markdown]
# ### More to try (no self-check)
# - Run your row: add `{**my_row(), **SHRINK}` to `configs` and call `sweep.run_sweep` again —
#   only your row trains. In full mode on a GPU: does 0.01–0.3 beat 0.01–0.1 (88.13 %)?
# - Switch `SMITH_GRID` to `"momentum"` (and `SMITH_VALUES` to `None`) and rerun section 6: is 0.9
#   the best constant momentum for the 0.1–3 cycle, as in their logs (92.44 % vs 90.74 % at 0.95)?
