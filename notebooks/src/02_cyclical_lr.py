# %% [markdown]
# # 02 · Cyclical learning rates
# **What you will learn:**
# - Smith's three cyclical learning-rate (CLR) policies — `triangular`, `triangular2`, `exp_range` —
#   as formulas and as plots;
# - how to pick the *stepsize* (2–10 epochs' worth of iterations) and the bounds `base_lr`,
#   `max_lr` (from the LR range test of notebook 01);
# - why a CLR run should stop at the **end** of a cycle;
# - how CLR compares with a fixed learning rate at the same budget (LeNet on MNIST; ResNet-20 on
#   CIFAR-10 in full mode).
#
# **Prerequisites:** [01 · The LR range test](01_lr_range_test.ipynb) (reading an accuracy curve
# for `base_lr` and `max_lr`); iterations vs epochs (see the [glossary](../docs/GLOSSARY.md)).
#
# **Learner time:** ≈ 60 min (reading ≈ 25 min, three exercises ≈ 35 min).
#
# **Run time** (`SUPERCONV_MODE`, see the README): **quick** ≈ 1 min on 2 CPU cores · **laptop**
# ≈ 1 min on 2 idle CPU cores (measured: 45 s; 110 s with the cores shared) · **full**
# ≈ 10–20 min on one GPU (an estimate; most of it the four ResNet-20 runs).
#
# ← previous: [01 · LR range test](01_lr_range_test.ipynb) · next: [03 · 1cycle](03_one_cycle.ipynb)
# →

# %%
# Setup: everything comes from the shared library; nothing is re-implemented in a cell.
import math

import matplotlib.pyplot as plt
import numpy as np
from superconv_lib import checks, config, data, experiments, models, plots, schedules, train

config.seed_everything(0)
print(config.report())

# %% tags=["parameters"]
# Parameters (papermill can inject these). The run size comes from SUPERCONV_MODE (quick | laptop |
# full, see the README); experiments.SIZES holds each size's numbers, chosen by measurement.
S = experiments.sizes("02")
MODE = S["mode"]
TRAIN_LIMIT = S["train_limit"]            # MNIST training images; None = all 60,000
TEST_LIMIT = S["test_limit"]              # MNIST test images; None = all 10,000
BATCH = 64                                # Caffe's LeNet batch size
ITERS_PER_EPOCH = (TRAIN_LIMIT or 60000) // BATCH
EPOCHS = S["epochs"]                      # the same budget for every policy
STEPSIZE_EPOCHS = S["stepsize_epochs"]    # half a cycle, in epochs
FIXED_LR = 0.01                           # Caffe's LeNet learning rate
BASE_LR, MAX_LR = 0.01, 0.1               # the CLR bounds (see "Choosing base_lr and max_lr")
GAMMA = 0.1 ** (1 / (EPOCHS * ITERS_PER_EPOCH))   # exp_range: amplitude x0.1 over the run
RUN_CIFAR = S["run_cifar"]                # ResNet-20 on CIFAR-10 needs a GPU
CIFAR_EPOCHS, CIFAR_STEPSIZE_EPOCHS = 30, 5
CIFAR_FIXED_LR, CIFAR_BASE_LR, CIFAR_MAX_LR = 0.1, 0.1, 1.0

# %% [markdown]
# ## Three policies, one formula
# A cyclical learning rate moves back and forth between a lower bound `base_lr` and an upper bound
# `max_lr` instead of only going down. Smith (2015, *Cyclical Learning Rates for Training Neural
# Networks*) counts everything in **iterations** (mini-batches). With the *stepsize* $s$ (the
# iterations of half a cycle) and the iteration $t$:
#
# $$\text{cycle} = \left\lfloor 1 + \frac{t}{2s} \right\rfloor,\qquad
#   x = \left|\frac{t}{s} - 2\,\text{cycle} + 1\right|,\qquad
#   \text{lr}(t) = \text{base\_lr} + (\text{max\_lr} - \text{base\_lr})\,\max(0,\,1-x)\cdot
#   \text{scale}$$
#
# | policy | scale | what it does |
# |---|---|---|
# | `triangular` | $1$ | the same triangle every cycle |
# | `triangular2` | $1/2^{\text{cycle}-1}$ | the amplitude halves after every cycle |
# | `exp_range` | $\gamma^{t}$ | the amplitude decays a little every iteration ($\gamma$ just below 1) |
#
# `schedules.clr(base_lr, max_lr, step_size, mode, gamma)` returns this formula as a function of
# the iteration, `lr = policy(t)` (tested equal to `torch.optim.lr_scheduler.CyclicLR` at every
# step). Here are the three over our run:

# %%
x_train, y_train = data.load("mnist", "train", limit=TRAIN_LIMIT)
x_test, y_test = data.load("mnist", "test", limit=TEST_LIMIT)
# Caffe's LeNet example scales pixels to [0, 1] (scale 1/256) and does not standardise them; the
# papers' learning rates (0.01 base, 0.1 max) are for that input scale, so we do the same.
loader = data.Loader(x_train, y_train, batch_size=BATCH, stats=((0.0,), (1.0,)))
assert len(loader) == ITERS_PER_EPOCH, (len(loader), ITERS_PER_EPOCH)
STEPS = EPOCHS * ITERS_PER_EPOCH
STEPSIZE = STEPSIZE_EPOCHS * ITERS_PER_EPOCH
print(f"{ITERS_PER_EPOCH} iterations/epoch · {STEPS} iterations in {EPOCHS} epochs · "
      f"stepsize {STEPSIZE} iterations = {STEPSIZE_EPOCHS} epochs · "
      f"{STEPS / (2 * STEPSIZE):g} cycles "
      f"· exp_range gamma = {GAMMA:.6f}")

clr_policies = {mode: schedules.clr(BASE_LR, MAX_LR, STEPSIZE, mode=mode, gamma=GAMMA)
                for mode in schedules.CLR_MODES}
ax = plots.schedule_overlay(clr_policies, STEPS + 1, steps_per_epoch=ITERS_PER_EPOCH,
                            title=f"CLR policies, stepsize {STEPSIZE_EPOCHS} epochs")

# %%
# The plot shows the formula: read the three curves back and check them at the corners.
tri, tri2, expr = (line.get_ydata() for line in ax.lines)
s = STEPSIZE
assert np.isclose(tri[0], BASE_LR) and np.isclose(tri[s], MAX_LR)
assert np.isclose(tri[2 * s], BASE_LR) and np.isclose(tri[3 * s], MAX_LR)  # every peak: max_lr
assert np.isclose(tri2[3 * s], BASE_LR + (MAX_LR - BASE_LR) / 2)  # 2nd peak: half the amplitude
assert np.isclose(expr[s], BASE_LR + (MAX_LR - BASE_LR) * GAMMA ** s)  # exp_range: scale gamma^t
assert np.isclose(tri[STEPS], BASE_LR)                            # the run ends at a cycle's end
print(f"peaks of cycle 2: triangular {tri[3 * s]:.4f}, triangular2 {tri2[3 * s]:.4f}, "
      f"exp_range {expr[3 * s]:.4f}")

# %% [markdown]
# ## The stepsize: 2–10 epochs
# Smith's guideline: a stepsize of **2 to 10 epochs' worth of iterations** —
# `stepsize = k · (training images / batch size)` with $k \in [2, 10]$.
# Shorter cycles leave too few iterations at a high LR to explore and at a low LR to settle; much
# longer ones leave too few cycles in the budget. Here the stepsize is
# `STEPSIZE_EPOCHS` × `len(loader)` iterations.
#
# ## Choosing `base_lr` and `max_lr`: the LR range test
# Notebook 01's *LR range test* trains one short run (Smith's LeNet test: a few epochs; notebook
# 01's sweeps: a fraction of an epoch) while the LR rises linearly from ~0, and records the
# accuracy. Smith's rule: `base_lr` is the LR where the accuracy **starts to rise**, `max_lr`
# where it **stops rising, becomes ragged or falls**. For Caffe's LeNet on MNIST with [0, 1] inputs
# the Super-Convergence paper uses `base_lr = 0.01`, `max_lr = 0.1` (the range test rises from
# ≈0.01 and is still fine at 0.1). When you have only the maximum, Smith (2015) sets `base_lr`
# to **1/3 or 1/4** of `max_lr`; the wider `max_lr / 10` (as here) comes from later 1cycle
# practice (Smith 2018, notebook 03). The fixed-LR baseline is Caffe's `0.01`.
#
# ## Why stop at the end of a cycle
# At a cycle's end the LR is back at `base_lr`: the weights settle into the bottom of the valley
# the high-LR phase found. Stopped at a peak, the same run sits at `max_lr` and bounces around
# that valley, and its accuracy is typically worse. So choose the budget as a **whole number of
# cycles** (`EPOCHS` = 2 × `STEPSIZE_EPOCHS` × cycles — checked above: the lr at the last
# iteration is `base_lr`), and compare CLR runs at cycle ends.
#
# ## Experiment: fixed LR vs the three CLR policies, same budget
# LeNet (Caffe's) on MNIST, batch 64, SGD with momentum 0.9 and weight decay 5e-4; one evaluation
# on the test set per epoch. Only the LR schedule differs.

# %%
policies = {f"fixed {FIXED_LR:g}": FIXED_LR, **clr_policies}
# the same initial weights and the same batch order for every policy (seed 0)
runs = train.runs(models.lenet, loader, policies, steps=STEPS, momentum=0.9,
                  weight_decay=5e-4, eval_data=(x_test, y_test))
ax = plots.compare(runs, title=f"LeNet on MNIST, {EPOCHS} epochs "
                               f"({TRAIN_LIMIT or 60000} training images)")
for k in range(1, EPOCHS // (2 * STEPSIZE_EPOCHS) + 1):   # mark the cycle ends
    ax.axvline(2 * STEPSIZE_EPOCHS * k, color="grey", lw=0.8, ls=":")
print(train.table(runs))

# %% [markdown]
# The dotted lines are the cycle ends. At the middle of each cycle, where the LR peaks (odd
# multiples of `STEPSIZE_EPOCHS`: epochs 1 and 3 in laptop mode, 2 and 6 in quick mode, 2, 6 and
# 10 in full mode), the CLR curves flatten or dip; as the LR falls back towards `base_lr` they
# climb again, and a cycle's end is where a CLR run is at its best — which is why it should stop
# there. The effect is largest for `triangular`, whose later peaks are still at the full
# `max_lr`; the later peaks of `triangular2` and `exp_range` are far below it (see the peaks
# printed above), so for them peak and cycle end differ by little (within noise in quick mode).
# The check below compares, for each CLR policy, the accuracy at the last cycle end with the
# accuracy at the last peak.

# %%
fixed = runs[f"fixed {FIXED_LR:g}"]
peak = EPOCHS - STEPSIZE_EPOCHS        # the last LR peak, in epochs (the run ends at a cycle end)
gain = {}
for mode in schedules.CLR_MODES:
    acc = dict(zip(runs[mode].eval_array("epoch"), runs[mode].eval_array("accuracy")))
    gain[mode] = runs[mode].final_accuracy - acc[peak]
    print(f"{mode:12s} {100 * acc[peak]:.2f} % at the last LR peak (epoch {peak}) -> "
          f"{100 * runs[mode].final_accuracy:.2f} % at the cycle end (epoch {EPOCHS})")
for name, h in runs.items():
    assert h.steps == STEPS and len(h.evals) == EPOCHS, name       # same budget, eval every epoch
    assert h.final_accuracy > 0.9, (name, h.final_accuracy)         # every policy learns MNIST
for mode in schedules.CLR_MODES:   # same budget: CLR at least as good as fixed (1 point of noise)
    assert runs[mode].final_accuracy >= fixed.final_accuracy - 0.01, train.table(runs)
# The phenomenon, as measured at this size (tools/phenomena.py): triangular CLR against the fixed
# lr at equal iterations. Quick mode's 2,000 images leave both near the same accuracy, so it only
# prints the gap; laptop and full mode assert a lead.
experiments.assert_checks([experiments.clr_vs_fixed(runs, f"fixed {FIXED_LR:g}")], S)
assert np.mean(list(gain.values())) > -0.005, gain   # on average the cycle end beats the peak

# %% [markdown]
# ### Full mode: ResNet-20 on CIFAR-10
# The same comparison on a network with batch normalisation (He et al.'s ResNet-20, batch 128,
# random crop + flip, weight decay 1e-4): fixed 0.1 (He et al.'s starting LR) against the CLR
# policies between 0.1 and 1.0 with a 5-epoch stepsize, 30 epochs = 3 cycles. It needs a GPU, so
# quick and laptop modes skip it.

# %%
if RUN_CIFAR:
    cx, cy = data.load("cifar10", "train")
    cxt, cyt = data.load("cifar10", "test")
    cloader = data.Loader(cx, cy, batch_size=128, augment="crop+flip")
    c_steps, c_stepsize = CIFAR_EPOCHS * len(cloader), CIFAR_STEPSIZE_EPOCHS * len(cloader)
    c_policies = {f"fixed {CIFAR_FIXED_LR:g}": CIFAR_FIXED_LR,
                  **{mode: schedules.clr(CIFAR_BASE_LR, CIFAR_MAX_LR, c_stepsize, mode=mode,
                                         gamma=0.1 ** (1 / c_steps))
                     for mode in schedules.CLR_MODES}}
    cifar_runs = {}
    for name, lr in c_policies.items():
        config.seed_everything(0)
        cloader.epoch = 0
        cifar_runs[name] = train.fit(models.resnet_cifar(20), cloader, steps=c_steps, lr=lr,
                                     momentum=0.9, weight_decay=1e-4, eval_data=(cxt, cyt),
                                     label=name)
    plots.compare(cifar_runs, title=f"ResNet-20 on CIFAR-10, {CIFAR_EPOCHS} epochs")
    print(train.table(cifar_runs))
    assert all(h.final_accuracy > 0.8 for h in cifar_runs.values()), train.table(cifar_runs)
else:
    print(f"{MODE} mode: ResNet-20 on CIFAR-10 skipped (it needs a GPU). "
          "Run with SUPERCONV_MODE=full on a GPU to see it.")

# %% [markdown]
# ### Try it yourself
# Pick a policy, move the bounds, the stepsize (in epochs), gamma and the budget: the schedule
# redraws at once, and **Run** trains LeNet with it and draws it next to the fixed-LR run above.
# Try a budget that ends at a peak (e.g. stepsize 2, 6 epochs) and compare with one that ends at a
# cycle's end. (Widgets do nothing when the notebook runs headless — hence the direct call above.)

# %% tags=["nbval-ignore-output"]
from superconv_lib.widgets.cyclical import clr_panel

clr_panel(loader, (x_test, y_test), base_lr=BASE_LR, max_lr=MAX_LR,
          stepsize_epochs=STEPSIZE_EPOCHS, gamma=round(GAMMA, 5), epochs=EPOCHS,
          reference={f"fixed {FIXED_LR:g}": fixed})

# %% [markdown]
# ## What you saw
# - A cyclical LR is one formula with three amplitudes: constant (`triangular`), halving per cycle
#   (`triangular2`) and decaying per iteration (`exp_range`).
# - The stepsize is counted in iterations and chosen as 2–10 epochs' worth; the bounds come from
#   the LR range test (accuracy starts rising → `base_lr`, stops rising → `max_lr`).
# - At the same budget, cycling between 0.01 and 0.1 trains LeNet at least as well as the fixed
#   0.01 — and the accuracy is best at the cycle ends, where the LR is lowest. Notebook 03 takes
#   the idea to its extreme: a single cycle over the whole run.
#
# ## Exercises
# Each self-check names its exercise. The schedule check runs your function while
# `schedules.clr` (and torch's `CyclicLR`) are switched off: use your own arithmetic.
#
# **Exercise 1 · The triangle wave.** Write `my_triangular(step, base_lr, max_lr, step_size)`
# from the *picture*, not from the formula at the top: the lr climbs on a straight line from
# `base_lr` to `max_lr` in `step_size` iterations, falls back in the next `step_size`, and
# repeats. Where in its cycle is iteration `step`? (`step` and `step_size` in iterations.)

# %%
def my_triangular(step, base_lr, max_lr, step_size):
    """Triangular CLR (Smith 2015): the lr at iteration `step`, stepsize `step_size` iterations."""
    ### BEGIN SOLUTION
    pos = step % (2 * step_size)                 # iterations into the current cycle
    up = pos if pos <= step_size else 2 * step_size - pos   # distance from the cycle's start
    return base_lr + (max_lr - base_lr) * up / step_size
    ### END SOLUTION

# %%
checks.triangular(my_triangular, name="Exercise 1 · the triangle wave")

# %% [markdown]
# **Exercise 2 · A budget that ends at a cycle's end.** You want to train for at least
# `at_least_epochs` epochs with a stepsize of `stepsize_epochs` epochs, and (see "Why stop at the
# end of a cycle") stop where the lr is back at `base_lr`. Write
# `my_budget(stepsize_epochs, at_least_epochs)`: the shortest such budget, in whole epochs.

# %%
def my_budget(stepsize_epochs, at_least_epochs):
    """The shortest budget (epochs) >= at_least_epochs that ends at the end of a CLR cycle."""
    ### BEGIN SOLUTION
    cycle = 2 * stepsize_epochs                        # up and down: two stepsizes
    return cycle * math.ceil(at_least_epochs / cycle)  # round up to a whole number of cycles
    ### END SOLUTION

# %%
checks.cycle_budget(my_budget, name="Exercise 2 · a budget that ends at a cycle's end")

# %% [markdown]
# **Exercise 3 · Predict, then run: a fixed lr at `max_lr`.** The triangular run above cycled
# between 0.01 and 0.1. The cell after your answer trains LeNet with the same budget, seed and
# batches at a **fixed lr of 0.1** — the top of the cycle the whole time. Before you run it,
# predict: will its final test accuracy be higher or lower than triangular CLR's, and why? Then
# run the cell and compare.

# %% [markdown] tags=["written-answer"]
# **Lower (or at best equal).** A fixed 0.1 spends the whole run at the largest lr of the cycle
# and, above all, *ends* there: the weights keep bouncing around the valley with a large step,
# never settling into its bottom. Triangular CLR visits 0.1 too (and so explores as much) but
# ends each cycle at `base_lr`, where the weights settle — which is why the lesson stops CLR runs
# at a cycle's end. With momentum 0.9 the effective step of a fixed 0.1 is 1.0, so the run may
# even become unstable and diverge (the table then says where it stopped, with nan % if that was
# before the first evaluation). How early that happens depends on the size and the seed: in our
# runs it came late in quick mode and within the first epoch in laptop mode. CLR survives the
# same peak lr because it spends only a few iterations there, after a warm-up from `base_lr`,
# and its low phases keep it stable.
#
# **Rubric (3 points):** 1 point for predicting lower or equal accuracy; 1 point for the reason:
# the run ends at a large lr and cannot settle (CLR ends at `base_lr`); 1 point for comparing
# with the printed numbers, including when they disagree with the prediction.

# %%
# The experiment of exercise 3 (library calls only): fixed 0.1 against the runs above.
try:
    high = train.runs(models.lenet, loader, {"fixed 0.1": MAX_LR}, steps=STEPS, momentum=0.9,
                      weight_decay=5e-4, eval_data=(x_test, y_test))["fixed 0.1"]
except train.TrainingDiverged as err:   # a result too: the loss blew up at a fixed 0.1
    high = err.history
print(train.table({"fixed 0.1": high, "triangular 0.01-0.1": runs["triangular"],
                   f"fixed {FIXED_LR:g}": fixed}))
assert runs["triangular"].final_accuracy > 0.9
