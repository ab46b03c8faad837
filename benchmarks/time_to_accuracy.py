"""Time to accuracy of the course's two headline experiments, with fit's fast path and eagerly.

    python benchmarks/time_to_accuracy.py                    # both experiments (GPU sizes)
    python benchmarks/time_to_accuracy.py --only mnist       # the seed's MNIST run (CPU: ~3 min)
    python benchmarks/time_to_accuracy.py --modes auto       # skip the eager comparison

``mnist``: the seed's 1cycle experiment (notebook 03): LeNet, full MNIST, batch 64, 12 epochs of
1cycle 0.01 -> 0.1 -> 0.01 with momentum 0.95 -> 0.85 and a 10 % annealing tail; target ≥ 99.3 %
test accuracy in ≤ 5 s of training on an H100.

``resnet56``: Smith & Topin's super-convergence run (notebook 04/06): ResNet-56, CIFAR-10, batch
1,000, one cycle 0.1 -> 3 -> 0.1 over 10,000 iterations (200 epochs), weight decay 1e-4; their log
reaches 92.44 %. Target ≤ 1.2 s per epoch including augmentation on an H100. Too slow for a CPU
(``--force`` runs it anyway; ``--steps`` shortens it for a smoke test).

For each run it prints the training seconds (evaluation excluded; fit's one-off set-up — the
graph capture — included), the seconds at which the test accuracy first
reached the target (same clock), the final accuracy and the ratios to the targets and to the eager
run. A benchmark, never a test.
"""
from __future__ import annotations

import argparse
import time

from superconv_lib import config, data, experiments, models, schedules, sweep, train


class Clock:
    """fit callback: training seconds at each evaluation, the evaluations' own time left out."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []   # (training seconds, accuracy)
        self._eval_time = 0.0

    def on_train_begin(self, loop) -> None:
        self._start = time.perf_counter()

    def on_losses(self, loop, first_step, losses) -> None:
        self._mark = time.perf_counter()               # losses are read right before an evaluation

    def on_eval(self, loop, point) -> None:
        now = time.perf_counter()
        self._eval_time += now - self._mark
        self.points.append((now - self._start - self._eval_time, point.accuracy))

    def first_reaching(self, target: float) -> float:
        return next((t for t, acc in self.points if acc >= target), float("nan"))


def mnist(step_path: str, steps: int | None, *, limit: int | None = None,
          test_limit: int | None = None):
    """The seed's MNIST 1cycle run (``limit``/``test_limit``: class-balanced subsets, for a CPU
    smoke test). Returns (History, Clock, target accuracy, target seconds, iterations per epoch)."""
    x, y = data.load("mnist", "train", limit=limit)
    xt, yt = data.load("mnist", "test", limit=test_limit)
    config.seed_everything(0)
    loader = data.Loader(x, y, 64, stats=((0.0,), (1.0,)))
    n = steps or 12 * len(loader)
    fn = schedules.one_cycle(n, 0.1, div=10, pct_start=0.45, pct_anneal=0.1, final_div=100,
                             moms=(0.95, 0.85))
    clock = Clock()
    h = train.fit(models.lenet(), loader, steps=n, lr=fn, weight_decay=5e-4, eval_data=(xt, yt),
                  callbacks=[clock], progress=False, step_path=step_path)
    return h, clock, 0.993, 5.0, len(loader)


def resnet56(step_path: str, steps: int | None):
    cfg = {**experiments.smith_grid("weight_decay", values=[1e-4])[0], "eval_every": 500}
    if steps:
        cfg["steps"] = steps
    clock = Clock()
    h = sweep.run_config(cfg, callbacks=[clock], step_path=step_path)
    c = h.info["config"]
    return h, clock, c["target"], 1.2 * c["steps"] / h.steps_per_epoch, h.steps_per_epoch


EXPERIMENTS = {"mnist": mnist, "resnet56": resnet56}


def summarize(h, clock: Clock, target: float, target_s: float) -> dict:
    """The figures of one run: training seconds (fit's one-off set-up included, evaluations
    left out), seconds to the target accuracy (NaN if never reached), final accuracy, the target
    seconds and their ratio (>= 1 meets it), and the path/precision fit took."""
    setup = h.info.get("setup_s", 0.0)
    train_s = clock.points[-1][0] + setup
    return {"train_s": train_s, "s_to_target": clock.first_reaching(target) + setup,
            "final_accuracy": h.final_accuracy, "target": target, "target_s": target_s,
            "ratio": target_s / train_s, "path": f"{h.info['step_path']}/{h.info['precision']}",
            "setup_s": setup}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=list(EXPERIMENTS), default=list(EXPERIMENTS))
    ap.add_argument("--modes", nargs="+", default=["auto", "eager"],
                    choices=list(train.STEP_PATHS))
    ap.add_argument("--steps", type=int, default=None, help="shorten every run (smoke test)")
    ap.add_argument("--force", action="store_true", help="run resnet56 on a CPU too")
    args = ap.parse_args()
    dev = config.device()
    print(config.report())
    print(f"{'run':<10} {'fit':>7} {'path':>13} {'train s':>8} {'s to target':>11} {'final acc':>9} "
          f"{'target s':>8} {'ratio':>6} {'vs eager':>8}")
    for name in args.only:
        if name == "resnet56" and dev.type != "cuda" and not args.force:
            print(f"{name:<10} skipped: 10,000 iterations of ResNet-56 at batch 1,000 need a GPU "
                  "(--force to run anyway)")
            continue
        eager_s = None
        for mode in sorted(args.modes, key=lambda m: m != "eager"):
            if mode == "auto" and dev.type != "cuda" and "eager" in args.modes:
                print(f"{name:<10} {mode:>7}   = eager on {dev.type} (no CUDA graph to take)")
                continue
            try:
                h, clock, target, target_s, spe = EXPERIMENTS[name](mode, args.steps)
            except ValueError as e:       # e.g. --modes graph on a machine without CUDA
                print(f"{name:<10} {mode:>7}   not run: {e}")
                continue
            except train.TrainingDiverged as e:   # e.g. --steps too few for the warm-up
                print(f"{name:<10} {mode:>7}   diverged at step {e.step} (lr {e.lr:.3g})")
                continue
            r = summarize(h, clock, target, target_s)
            if mode == "eager":
                eager_s = r["train_s"]
            vs = f"{eager_s / r['train_s']:>7.2f}x" if eager_s and mode != "eager" else f"{'':>8}"
            print(f"{name:<10} {mode:>7} {r['path']:>13} {r['train_s']:>8.1f} "
                  f"{r['s_to_target']:>11.1f} {r['final_accuracy']:>9.2%} "
                  f"{target_s:>8.1f} {r['ratio']:>6.2f} {vs}", flush=True)
    print("ratio = target seconds / training seconds (>= 1 meets the target); "
          "vs eager = eager seconds / these seconds.")


if __name__ == "__main__":
    main()
