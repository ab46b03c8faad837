"""ipywidgets panels for the notebooks: thin layers over the same functions a cell calls.

Each notebook's panel lives in its own small module here (``range_test``, ``cyclical``,
``one_cycle``, ``indicator``, ``hessian``, ``sweep``) and is built from the pieces in ``_base``: controls, a
Run button, a progress bar, and an ``Output`` the figure is redrawn into. Nothing is computed in
a widget that a cell could not compute by calling the library directly. Every panel behaves the
same way (see ``_base``): same settings, same result; the old result cleared and a progress bar
while it runs; a diverged run reported in one line.
"""
from ._base import log_slider, run_panel  # noqa: F401
