"""Build notebooks/*.ipynb from their readable sources in notebooks/src/*.py (jupytext percent format).

Reviewers read and diff the .py sources; learners open the .ipynb. Outputs are never committed.

    python tools/build_notebooks.py          # (re)write every notebook
    python tools/build_notebooks.py 03       # only the notebooks whose name starts with 03
    python tools/build_notebooks.py --check  # exit 1 if any .ipynb is stale or has outputs
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def build(src: Path) -> nbformat.NotebookNode:
    """The notebook a source file describes: no outputs, no execution counts, stable metadata."""
    nb = jupytext.read(src, fmt="py:percent")
    nb.metadata = {"kernelspec": KERNEL, "language_info": {"name": "python"}}
    for i, cell in enumerate(nb.cells):
        cell.id = f"{src.stem[:2]}-{i:03d}"
        meta = {k: v for k, v in cell.metadata.items() if k == "tags"}
        cell.metadata = meta
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(nb)
    return nb


def text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb, version=4) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that notebooks are up to date")
    ap.add_argument("names", nargs="*", help="build only notebooks whose file name starts with these")
    args = ap.parse_args(argv)
    stale = []
    sources = sorted(SRC.glob("[0-9][0-9]_*.py"))
    if args.names:
        sources = [s for s in sources if any(s.name.startswith(n) for n in args.names)]
        if not sources:
            print(f"no notebook source in {SRC} starts with {args.names}")
            return 2
    for src in sources:
        dest = OUT / f"{src.stem}.ipynb"
        want = text(build(src))
        if dest.exists() and dest.read_text() == want:
            continue
        if args.check:
            stale.append(dest.name)
        else:
            dest.write_text(want)
            print(f"wrote {dest.relative_to(ROOT)}")
    if stale:
        print("stale notebooks (run: python tools/build_notebooks.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
