"""Does every notebook's phenomenon show at a run size, for several seeds? The study behind the
sizes in ``superconv_lib/experiments.py``.

    python tools/phenomena.py --mode laptop --seeds 0 1 2
    python tools/phenomena.py --mode quick --seeds 0 --only 04 05

Each phenomenon runs outside the notebooks, through the same ``experiments`` functions the
notebooks call, at the sizes ``experiments.sizes(notebook, mode)`` gives. Prints (and with
``--out`` writes as Markdown) one table: phenomenon, the measured value per seed, the threshold,
whether it holds for every seed, and whether that size asserts it. Exit status 1 if a check that
the size asserts fails for any seed.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from superconv_lib import (config, data, experiments, hessian, lr_finder,  # noqa: E402
                           models, schedules, train)
from superconv_lib.indicator import indicator  # noqa: E402


def nb01(S: dict, seed: int) -> list:
    x, y = data.load("mnist", "train", limit=S["mnist_limit"])
    xt, yt = data.load("mnist", "test", limit=S["mnist_test"])
    loader = data.Loader(x, y, batch_size=64, stats=((0.0,), (1.0,)))
    config.seed_everything(seed)
    model = models.lenet()
    lr = lr_finder.range_test(model, loader, progress=False).suggestions()["min_div_10"]
    _, check = experiments.suggestion_vs_neighbours(model, loader, (xt, yt), lr,
                                                    steps=S["fit_steps"], seed=seed)
    return [check]


def nb02(S: dict, seed: int) -> list:
    x, y = data.load("mnist", "train", limit=S["train_limit"])
    xt, yt = data.load("mnist", "test", limit=S["test_limit"])
    loader = data.Loader(x, y, batch_size=64, stats=((0.0,), (1.0,)))
    steps, stepsize = S["epochs"] * len(loader), S["stepsize_epochs"] * len(loader)
    lrs = {"fixed 0.01": 0.01,
           "triangular": schedules.clr(0.01, 0.1, stepsize, mode="triangular")}
    out = train.runs(models.lenet, loader, lrs, seed=seed, steps=steps, momentum=0.9,
                     weight_decay=5e-4, eval_data=(xt, yt), eval_every=steps, progress=False)
    return [experiments.clr_vs_fixed(out, "fixed 0.01")]


def nb03(S: dict, seed: int) -> list:
    x, y = data.load("mnist", "train", limit=S["train_limit"])
    xt, yt = data.load("mnist", "test", limit=S["test_limit"])
    loader = data.Loader(x, y, batch_size=64, stats=((0.0,), (1.0,)))
    steps = round(S["one_cycle_epochs"] * len(loader))
    inv = schedules.inv(0.01, gamma=1e-4, power=0.75)
    lrs = {"1cycle": schedules.one_cycle(steps, 0.1, div=10), "inv": inv}
    n = {"1cycle": steps, "inv": steps}
    if S["inv_factor"] > 1:
        lrs["inv long"], n["inv long"] = inv, round(S["inv_factor"] * steps)
    out = train.runs(models.lenet, loader, lrs, seed=seed, steps=n, momentum=0.9,
                     weight_decay=5e-4, eval_data=(xt, yt), eval_every=10 ** 9, progress=False)
    return experiments.mnist_claim(out["1cycle"], out["inv"], out.get("inv long"))


def nb04(S: dict, seed: int) -> list:
    loader, ev = experiments.cifar(S, "train_limit", "batch", "flip")
    build = functools.partial(models.build, S["model"])
    kw = dict(max_lr=3.0, num_iter=S["num_iter"], eval_every=S["eval_every"], momentum=0.9,
              seed=seed, progress=False)
    ref = indicator(build, loader, ev, weight_decay=1e-4, **kw)
    setups = {"no BN": (lambda: models.build(S["model"], bn=False), 1e-4),
              "wd 0.001": (build, 1e-3),
              "plain CNN": (lambda: models.plain_cnn(width=S["plain_width"]), 1e-4)}
    contrasts = [indicator(setups[c][0], loader, ev, weight_decay=setups[c][1], label=c, **kw)
                 for c in S["contrasts"]]
    checks = [experiments.indicator_plateau(ref), experiments.indicator_contrasts(ref, contrasts)]
    sc_loader, ev = experiments.cifar(S, "sc_train_limit", "sc_batch", "flip")
    sc_runs, sc = experiments.one_cycle_vs_piecewise(build, sc_loader, ev, steps=S["sc_iters"],
                                                     long=S["sc_long"], seed=seed)
    _, cl = experiments.cycle_length(build, sc_loader, ev, steps=S["sc_iters"],
                                     fractions=S["cycle_fractions"], seed=seed,
                                     done=next(iter(sc_runs.values())))
    return checks + sc + [cl]


def nb05(S: dict, seed: int) -> list:
    x, y = data.load("mnist", "train", limit=S["mnist_limit"])
    mnist = data.Loader(x, y, batch_size=64, stats=((0.0,), (1.0,)))
    xt, yt = data.load("mnist", "test", limit=S["test_limit"])
    P = experiments.HESSIAN_PRESETS["mnist"]
    lrs = experiments.comparison_schedules(S["lenet_steps"], cycle=P["cycle"],
                                           standard=P["standard"])
    lrs = {k: v for k, v in lrs.items() if not k.startswith("piecewise")}
    est = hessian.runs("lenet", mnist, lrs, steps=S["lenet_steps"], every=S["every"],
                       seed=seed, weight_decay=P["weight_decay"], eval_data=(xt, yt),
                       eval_every=S["lenet_steps"], progress=False)
    checks = experiments.hessian_ordering(est, "hessian_mnist", burn_in=S["lenet_steps"] // 5,
                                          ratio=2.5)
    est = experiments.hessian_cifar(S, seed=seed)
    return checks + experiments.hessian_ordering(est, "hessian_cifar",
                                                 burn_in=S["cifar_steps"] // 10, ratio=2.0)


STUDIES = {"01": nb01, "02": nb02, "03": nb03, "04": nb04, "05": nb05}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=config.MODES, default="laptop")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--only", nargs="+", choices=sorted(STUDIES), default=sorted(STUDIES))
    ap.add_argument("--out", type=Path, help="also write the table here (Markdown)")
    ap.add_argument("--no-long", action="store_true",
                    help="skip the measured-only 4x piecewise run of 04 (saves about a third of 04)")
    args = ap.parse_args(argv)
    rows: dict[tuple, dict] = {}
    times: dict[str, list[float]] = {}
    for nb in args.only:
        S = experiments.sizes(nb, args.mode)
        if args.no_long:
            S["sc_long"] = False
        for seed in args.seeds:
            t = time.perf_counter()
            for c in STUDIES[nb](S, seed):
                row = rows.setdefault((c.notebook, c.phenomenon), dict(check=c, values={}))
                row["values"][seed] = c
                print(f"[{args.mode}, seed {seed}] {nb} {c}", flush=True)
            times.setdefault(nb, []).append(time.perf_counter() - t)
    table = _table(rows, args, times)
    print("\n" + table)
    if args.out:
        args.out.write_text(table + "\n")
    failed = [r for r in rows.values() if r["check"].name in
              experiments.sizes(r["check"].notebook, args.mode)["asserts"]
              and not all(c.holds for c in r["values"].values())]
    return 1 if failed else 0


def _table(rows: dict, args, times: dict) -> str:
    seeds = args.seeds
    head = ("| nb | phenomenon | " + " | ".join(f"seed {s}" for s in seeds)
            + " | threshold | holds (all seeds) | asserted at this size |")
    lines = [f"mode {args.mode}, {config.report()}", "", head,
             "|" + "---|" * (len(seeds) + 5)]
    for (nb, phen), r in rows.items():
        c = r["check"]
        vals = " | ".join(f"{r['values'][s].value:+.3g}" if s in r["values"] else "-" for s in seeds)
        asserted = c.name in experiments.sizes(nb, args.mode)["asserts"]
        if c.measured_only:
            thr, holds, asserted_s = "(measured)", "-", "-"
        else:
            thr = f">= {c.threshold:+.3g} {c.unit}"
            holds = "yes" if all(v.holds for v in r["values"].values()) else "NO"
            asserted_s = "yes" if asserted else "no"
        lines.append(f"| {nb} | {phen} | {vals} | {thr} | {holds} | {asserted_s} |")
    lines.append("")
    lines.append("seconds per seed: " + ", ".join(
        f"{nb}: {sum(t) / len(t):.0f}" for nb, t in times.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
