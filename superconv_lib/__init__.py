"""superconv_lib: the small library behind the superconv course notebooks.

Modules, one idea each: ``config`` (device, quick mode, seeds, data folder), ``data`` (datasets as
device tensors, the augmenting ``Loader``), ``models``, ``schedules`` (CLR, 1cycle, baselines),
``train`` (``fit`` and ``History``: the one training loop), ``lr_finder`` (the LR range test),
``indicator`` (the super-convergence indicator), ``hessian`` (the Hessian-free optimal-LR
estimate), ``experiments`` (the papers' named recipes and grids, the notebooks' run sizes),
``sweep`` (config -> run -> durable store), ``plots`` (every figure), ``widgets``, and ``checks``
(self-checks for exercises). Course tooling (exercise copies, nbgrader) lives in ``tools/``.
"""
from . import config, data, models, schedules, train, plots  # noqa: F401
from . import lr_finder, indicator, hessian  # noqa: F401
from .train import fit, evaluate, History  # noqa: F401

__version__ = "0.1.0"
