"""The notebooks themselves: in sync with their sources, without outputs, and built to the course's
shape. (nbval executes them; these checks are about what a learner opens.)"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOURCES = sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))


def test_every_source_has_its_notebook_and_it_is_current():
    assert [s.stem for s in SOURCES] == [n.stem for n in NOTEBOOKS]
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "build_notebooks.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_shape(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "strip outputs"
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    header = "".join(cells[0]["source"])
    assert "quick" in header.lower() and "GPU" in header, "header states run times (GPU full / CPU quick)"
    tags = [c.get("metadata", {}).get("tags", []) for c in code]
    assert sum("parameters" in t for t in tags) == 1, "exactly one parameters cell"
    assert tags.index(next(t for t in tags if "parameters" in t)) <= 2, "parameters cell comes early"
    widget_cells = [c for c, t in zip(code, tags) if "nbval-ignore-output" in t]
    assert widget_cells, "an interactive panel cell tagged nbval-ignore-output"
    assert any("widgets" in "".join(c["source"]) for c in widget_cells)
    src = "\n".join("".join(c["source"]) for c in code)
    assert "superconv_lib" in src and "config.quick()" in src
    assert ".backward()" not in src, "notebooks call train.fit; no hand-written training loop"
    assert any("assert" in "".join(c["source"]) for c in code), "cells check numbers"
