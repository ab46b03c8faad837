"""The notebooks themselves: in sync with their sources, committed without outputs, built to the
course's shape, and unchanged by the nbstripout filter contributors install. (nbval executes
them; tests/browser/ runs them in JupyterLab; these checks are about what a learner opens.)

Outputs a learner's own runs saved into the working copies are not failures: what must be free
of outputs is what git commits (its index)."""
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from course import clean_notebook  # noqa: E402 — tools/course.py, the course's tooling
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOURCES = sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
START = ROOT / "START_HERE.ipynb"
GENERATED = NOTEBOOKS + EXERCISES + [START]
# README's "For contributors": nbstripout as the clean filter, with these extra keys.
NBSTRIPOUT = [sys.executable, "-m", "nbstripout", "--extra-keys", "metadata.language_info"]


def committed_text(path: Path) -> str:
    """The file as git's index holds it (what a commit records; with nbstripout installed, already
    stripped). A file outside a git checkout, or not added yet, is read from the disk."""
    try:
        rel = path.resolve().relative_to(ROOT)
        out = subprocess.run(["git", "show", f":{rel.as_posix()}"], cwd=ROOT,
                             capture_output=True, text=True, encoding="utf-8")
    except (ValueError, OSError):      # not in this checkout, or no git
        return path.read_text(encoding="utf-8")
    return out.stdout if out.returncode == 0 else path.read_text(encoding="utf-8")


def working_form(path: Path) -> str:
    """The notebook in the working tree as it will be committed: what a learner's run added
    (outputs, execution counts, JupyterLab's metadata) stripped."""
    return nbformat.writes(clean_notebook(nbformat.read(path, as_version=4)), version=4) + "\n"


def test_every_source_has_its_notebook_and_it_is_current():
    assert [s.stem for s in SOURCES] == [n.stem for n in NOTEBOOKS]
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "build_notebooks.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", GENERATED, ids=[p.name for p in GENERATED])
def test_committed_notebook_has_no_outputs(path):
    nb = json.loads(committed_text(path))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), \
        f"{path.name}: the committed notebook carries outputs (README: nbstripout --install)"


def test_nbstripout_leaves_the_notebooks_unchanged(tmp_path):
    """With the filter of README's "For contributors", running a notebook and saving it changes
    nothing git sees: every generated notebook is a fixed point of nbstripout."""
    for path in GENERATED:
        (tmp_path / path.name).write_text(working_form(path), encoding="utf-8")
    out = subprocess.run(NBSTRIPOUT + ["--verify", *sorted(str(p) for p in tmp_path.iterdir())],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"nbstripout would change: {out.stdout}"


def test_gitattributes_names_the_nbstripout_filter():
    lines = (ROOT / ".gitattributes").read_text().splitlines()
    assert "*.ipynb filter=nbstripout" in lines and "*.ipynb diff=ipynb" in lines


def test_start_page_and_readme_links_resolve():
    """START_HERE.ipynb (JupyterLab's first page) and README's course map link lessons, exercise
    copies and docs that exist, relative to the repository root where JupyterLab starts."""
    start = "".join(json.loads(working_form(START))["cells"][0]["source"])
    readme = (ROOT / "README.md").read_text()
    for where, text in (("START_HERE.ipynb", start), ("README.md", readme)):
        links = re.findall(r"\]\(((?:notebooks|exercises|docs)/[^)\s]+|README\.md)\)", text)
        assert links, where
        missing = [link for link in links if not (ROOT / link).exists()]
        assert not missing, f"{where} links to missing files: {missing}"
        for nb in NOTEBOOKS:
            assert f"(notebooks/{nb.name})" in text, f"{where} does not link {nb.name}"
            assert f"(exercises/{nb.stem}_exercises.ipynb)" in text, \
                f"{where} does not link the exercise copy of {nb.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_shape(path):
    nb = json.loads(working_form(path))
    cells = nb["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
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
    params = "".join(next(c for c, t in zip(code, tags) if "parameters" in t)["source"])
    assert "superconv_lib" in src
    assert re.search(r"config\.(quick|mode)\(\)|experiments\.sizes\(", params), \
        "the parameters cell reads the run size from the library"
    assert ".backward()" not in src, "notebooks call train.fit; no hand-written training loop"
    assert any("assert" in "".join(c["source"]) for c in code), "cells check numbers"
    # the setup cell prints its report and shows no value: its last statement is not an
    # expression like `config.seed_everything(0)`, whose result (a Generator) would be shown
    setup = next(c for c in code if "colab" not in c.get("metadata", {}).get("tags", []))
    last = ast.parse("".join(setup["source"])).body[-1]
    shows_value = isinstance(last, ast.Expr) and not (
        isinstance(last.value, ast.Call) and getattr(last.value.func, "id", "") == "print")
    assert not shows_value, f"the setup cell ends with an expression: {ast.unparse(last)}"
