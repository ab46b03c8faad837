# ---
# The shape every course notebook follows (see shared STYLE.md). Not built into a notebook
# (tools/build_notebooks.py only builds files named NN_*.py). Copy, rename to NN_topic.py, fill in.
# ---

# %% [markdown]
# # NN · Title
# **What you will learn:** … (2–4 bullets)
#
# **Prerequisites:** earlier notebooks (linked), maths and Python this one assumes; the
# [glossary](../docs/GLOSSARY.md) for the terms.
#
# **Learner time:** ≈ … min (reading ≈ …, exercises ≈ …): the learner's time, not the computer's.
#
# **Run time:** full mode ≈ … on one GPU · quick mode (`SUPERCONV_QUICK=1`) ≈ … on 2 CPU cores.
#
# ← previous: [NN-1 · …](NN-1_….ipynb) · next: [NN+1 · …](NN+1_….ipynb) →

# %%
# Setup: everything comes from the shared library; nothing is re-implemented in a cell.
import matplotlib.pyplot as plt
from superconv_lib import checks, config, data, models, schedules, train, plots

print(config.report())
config.seed_everything(0)

# %% tags=["parameters"]
# Parameters (papermill can inject these). Quick mode shrinks everything to a few CPU minutes.
QUICK = config.quick()
TRAIN_LIMIT = 2000 if QUICK else None      # images; None = the full training set
EPOCHS = 2 if QUICK else 12

# %% [markdown]
# Short prose that teaches the idea, with the formula. Then one call, then one plot.

# %%
x_train, y_train = data.load("mnist", "train", limit=TRAIN_LIMIT)
x_test, y_test = data.load("mnist", "test", limit=1000 if QUICK else None)
loader = data.Loader(x_train, y_train, batch_size=64)

# %%
history = train.fit(models.lenet(), loader, epochs=EPOCHS, lr=0.01,
                    eval_data=(x_test, y_test), label="constant 0.01")
history.plot();

# %%
# Sanity checks that can fail: numbers, not "it ran".
assert history.final_accuracy > 0.8, history

# %% [markdown]
# ### Try it yourself
# The widget panel calls the same function as the cell above. (Widgets do nothing when the
# notebook runs headless, which is why the experiment is also called directly above.)

# %% tags=["nbval-ignore-output"]
from superconv_lib.widgets import run_panel, log_slider
import ipywidgets as w

panel = run_panel({"lr": log_slider("lr", 0.01, 1e-4, 1.0), "epochs": w.IntSlider(EPOCHS, 1, 20, description="epochs")},
                  run=lambda lr, epochs: train.fit(models.lenet(), loader, epochs=epochs, lr=lr,
                                                   eval_data=(x_test, y_test)).plot())
panel

# %% [markdown]
# ## What you saw
# …
#
# ## Exercises
# 2–4 exercises that need the idea (a reading of a curve, a choice to justify, a prediction),
# not a formula printed above them. docs/INSTRUCTORS.md's tables are generated from them
# (`python tools/course.py instructors`).
#
# **Exercise 1 · …** Write `my_thing(...)` that …

# %%
def my_thing(x):
    """What the learner's function returns, in the paper's terms and units."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION

# %%
# The self-check names its exercise; forbid= switches off the library function it re-implements.
checks.close(lambda: my_thing(3), 6, name="Exercise 1 · …", forbid=[])

# %% [markdown]
# **Exercise 2 · Predict, then run: …** The question; the cell after the answer runs the
# experiment (library calls only). Predict, then run it and compare.

# %% [markdown] tags=["written-answer"]
# The teacher's model answer (the exercise copy shows YOUR ANSWER HERE instead).
#
# **Rubric (3 points):** 1 point for …; 1 point for …; 1 point for comparing with the run.

# %%
# The experiment of exercise 2 (library calls only).
print("…")
