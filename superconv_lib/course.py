"""Classroom tools: exercise copies of the notebooks, their freshness check, nbgrader sources.

The solution notebooks (``notebooks/NN_topic.ipynb``) mark each exercise's answer with
nbgrader's delimiters, inside the body of a function the learner writes::

    def my_triangular(step, base_lr, max_lr, step_size):
        \"\"\"Triangular CLR: the lr at iteration ``step``.\"\"\"
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

and the next code cell is its self-check, e.g. ``checks.triangular(my_triangular)``.

``python -m superconv_lib.course exercises`` writes the learners' copies into ``exercises/``:
every solution region becomes ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` at the
marker's indentation (``YOUR ANSWER HERE`` in a Markdown cell), ``### BEGIN HIDDEN TESTS`` ..
``### END HIDDEN TESTS`` regions are removed, outputs are cleared, and a note cell below the title
says which copy this is. These are nbgrader's rules (``ClearSolutions``, ``ClearHiddenTests``),
so a teacher can also feed the solution notebooks to nbgrader (``nbgrader`` subcommand below).
The output depends only on the input, byte for byte: running it twice changes nothing.

Subcommands::

    python -m superconv_lib.course exercises [--notebooks notebooks/] [--out exercises/]
    python -m superconv_lib.course check     [--notebooks notebooks/] [--out exercises/]
    python -m superconv_lib.course nbgrader  --out source/superconv [--notebooks notebooks/]
    python -m superconv_lib.course verify    [--notebooks notebooks/] [NN ...]

``check`` exits 1 when a copy is missing, stale or orphaned, or when a notebook breaks the
conventions (see :func:`lint`). ``nbgrader`` writes the solution notebooks with nbgrader's cell
metadata (solution cells, and the self-check cells as 1-point autograded test cells that run in
strict mode when graded); ``nbgrader generate_assignment`` then releases exactly the cells
``exercises`` writes.
``verify`` executes notebooks (slow: a quick-mode run each): the solution notebook in strict
mode, where every self-check must pass, then each exercise's student version of the cell and
its self-check, which must report "not attempted".
"""
from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["BEGIN_SOLUTION", "END_SOLUTION", "BEGIN_HIDDEN", "END_HIDDEN", "CODE_STUB",
           "TEXT_STUB", "MarkerError", "Exercise", "strip_source", "student_copy", "exercises_in",
           "lint", "write_exercises", "check_exercises", "nbgrader_source", "verify", "main"]

ROOT = Path(__file__).resolve().parents[1]
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"   # nbgrader's default code stub
TEXT_STUB = "YOUR ANSWER HERE"                                 # nbgrader's default text stub
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
CHECK_CALL = re.compile(r"\bchecks\.\w+\(")
# A line that mentions a marker but is not exactly one: nbgrader would not see it either, and
# the solution would leak into the learners' copy.
_NEAR_MARKER = re.compile(r"(BEGIN|END)\s+(SOLUTION|HIDDEN\s+TESTS)", re.IGNORECASE)


class MarkerError(ValueError):
    """A notebook's solution or hidden-test markers are unbalanced, nested or misspelt."""


@dataclass
class Exercise:
    """One exercise of a solution notebook: the cell holding solution regions, its self-check
    cell (the next code cell; ``None`` for a written Markdown answer), and the names of the
    functions the learner completes."""
    cell: int
    check_cell: int | None
    functions: list[str] = field(default_factory=list)
    markdown: bool = False


# ---------------------------------------------------------------------------------------------
# One cell
# ---------------------------------------------------------------------------------------------

def strip_source(source: str, cell_type: str = "code") -> tuple[str, int]:
    """The learner's version of one cell's source and how many solution regions it replaced.

    Lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (a line matches when it equals the
    marker after stripping whitespace, as in nbgrader) become :data:`CODE_STUB` (code cells) or
    :data:`TEXT_STUB` (Markdown), indented like the BEGIN line; hidden-test regions are dropped.
    Raises :class:`MarkerError` for unbalanced, nested or misspelt markers.
    """
    stub = (CODE_STUB if cell_type == "code" else TEXT_STUB).split("\n")
    out: list[str] = []
    region: str | None = None     # "solution" or "hidden" while inside one
    replaced = 0
    for n, line in enumerate(source.split("\n"), 1):
        key = line.strip()
        if key in (BEGIN_SOLUTION, BEGIN_HIDDEN):
            if region is not None:
                raise MarkerError(f"line {n}: {key!r} inside an open {region} region; close it "
                                  "first (regions cannot nest).")
            region = "solution" if key == BEGIN_SOLUTION else "hidden"
            if region == "solution":
                indent = line[: len(line) - len(line.lstrip())]
                out += [indent + s for s in stub]
                replaced += 1
        elif key in (END_SOLUTION, END_HIDDEN):
            want = "solution" if key == END_SOLUTION else "hidden"
            if region != want:
                raise MarkerError(f"line {n}: {key!r} without a matching BEGIN line.")
            region = None
        elif _NEAR_MARKER.search(line):
            raise MarkerError(f"line {n}: {line.strip()!r} looks like a marker but is not exactly "
                              f"{BEGIN_SOLUTION!r}, {END_SOLUTION!r}, {BEGIN_HIDDEN!r} or "
                              f"{END_HIDDEN!r} on a line of its own; nbgrader would not see it.")
        elif region is None:
            out.append(line)
    if region is not None:
        raise MarkerError(f"a {region} region is never closed (missing "
                          f"{END_SOLUTION if region == 'solution' else END_HIDDEN!r}).")
    return "\n".join(out), replaced


def _has_solution(cell) -> bool:
    return any(line.strip() == BEGIN_SOLUTION for line in cell.source.split("\n"))


def _python(source: str) -> str:
    """Cell source with IPython-only lines (magics, shell escapes) blanked, for ``ast``."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.split("\n"))


# ---------------------------------------------------------------------------------------------
# One notebook
# ---------------------------------------------------------------------------------------------

def exercises_in(nb: nbformat.NotebookNode) -> list[Exercise]:
    """The exercises of a solution notebook, in order (see :class:`Exercise`)."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type not in ("code", "markdown") or not _has_solution(cell):
            continue
        if cell.cell_type == "markdown":
            found.append(Exercise(i, None, markdown=True))
            continue
        nxt = next((j for j in range(i + 1, len(nb.cells)) if nb.cells[j].cell_type == "code"),
                   None)
        check = nxt if nxt is not None and CHECK_CALL.search(nb.cells[nxt].source) else None
        try:
            tree = ast.parse(_python(cell.source))
            names = [d.name for d in tree.body if isinstance(d, (ast.FunctionDef,
                                                                  ast.AsyncFunctionDef))]
        except SyntaxError:
            names = []
        found.append(Exercise(i, check, names))
    return found


def lint(nb: nbformat.NotebookNode) -> list[str]:
    """Convention problems that would spoil the exercise copy (empty list: none).

    - markers must be exact and balanced (else the solution would leak);
    - a code solution region sits inside a function body (indented), so the exercise copy
      still defines the function and "Run All" reaches its self-check;
    - the learner's copy of the cell still parses as Python;
    - the next code cell after a code solution cell calls a ``checks.…(…)`` self-check.
    """
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type not in ("code", "markdown"):
            continue
        try:
            student, replaced = strip_source(cell.source, cell.cell_type)
        except MarkerError as e:
            problems.append(f"cell {i}: {e}")
            continue
        if cell.cell_type != "code" or not replaced:
            continue
        top = [n for n, line in enumerate(cell.source.split("\n"), 1)
               if line.strip() == BEGIN_SOLUTION and not line[:1].isspace()]
        if top:
            problems.append(f"cell {i}: solution region at the top level (line {top[0]}); put it "
                            "inside the body of a function the learner completes, so the "
                            "exercise copy runs to its self-check.")
        try:
            ast.parse(_python(student))
        except SyntaxError as e:
            problems.append(f"cell {i}: the learner's copy is not valid Python ({e.msg}, line "
                            f"{e.lineno}); check the markers' indentation.")
    for ex in exercises_in(nb):
        if not ex.markdown and ex.check_cell is None:
            problems.append(f"cell {ex.cell}: exercise without a self-check; the next code cell "
                            "must call one of superconv_lib.checks, e.g. "
                            "checks.triangular(my_triangular).")
    return problems


def _note(nb_name: str, n_exercises: int) -> nbformat.NotebookNode:
    what = (f"its {n_exercises} exercise{'s' if n_exercises != 1 else ''}' solutions are replaced "
            "by `raise NotImplementedError()`" if n_exercises else "it has no exercises yet")
    text = (f"> **Exercise copy** of `notebooks/{nb_name}`: {what}. Run the notebook from the "
            "top, write your code where it says `# YOUR CODE HERE` (delete the `raise` line), run "
            "that cell, then the self-check below it: ✅ passed, ❌ failed with a hint, ✏️ not "
            "attempted yet. Checks never show the answer.\n>\n"
            "> *Generated by `python -m superconv_lib.course exercises`; edit the solution "
            "notebook's source, not this file.*")
    cell = nbformat.v4.new_markdown_cell(text)
    cell.id = f"{nb_name[:2]}-exercise-note"
    return cell


def student_copy(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The learner's copy of solution notebook ``nb`` (file name ``name``): solution regions
    stubbed, hidden tests removed, outputs and execution counts cleared, a note cell inserted
    after the title cell. ``nb`` is not modified. Raises :class:`MarkerError` (with the cell
    index) on bad markers."""
    out = copy.deepcopy(nb)
    for i, cell in enumerate(out.cells):
        if cell.cell_type in ("code", "markdown"):
            try:
                cell.source, _ = strip_source(cell.source, cell.cell_type)
            except MarkerError as e:
                raise MarkerError(f"{name}, cell {i}: {e}") from None
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    n = sum(1 for _ in exercises_in(nb))
    at = 1 if out.cells and out.cells[0].cell_type == "markdown" else 0
    out.cells.insert(at, _note(name, n))
    nbformat.validate(out)
    return out


def _text(nb: nbformat.NotebookNode) -> str:
    """Deterministic JSON: nbformat sorts keys and indents by one; one trailing newline."""
    return nbformat.writes(nb, version=4) + "\n"


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


# ---------------------------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------------------------

def _sources(notebooks: Path) -> list[Path]:
    return sorted(Path(notebooks).glob(NOTEBOOK_GLOB))


def write_exercises(notebooks: Path | str = ROOT / "notebooks",
                    out: Path | str = ROOT / "exercises") -> tuple[list[Path], list[str]]:
    """Write the exercise copy of every ``NN_*.ipynb`` in ``notebooks`` into ``out``.

    Returns ``(written, problems)``: the files whose bytes changed, and the convention problems
    (:func:`lint`). A notebook with problems gets no copy; the others are still written.
    """
    notebooks, out = Path(notebooks), Path(out)
    written, problems = [], []
    for src in _sources(notebooks):
        nb = _read(src)
        issues = lint(nb)
        if issues:
            problems += [f"{src.name}: {p}" for p in issues]
            continue
        text = _text(student_copy(nb, src.name))
        dest = out / src.name
        if dest.exists() and dest.read_text(encoding="utf-8") == text:
            continue
        out.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
        written.append(dest)
    return written, problems


def check_exercises(notebooks: Path | str = ROOT / "notebooks",
                    out: Path | str = ROOT / "exercises") -> list[str]:
    """Problems that ``exercises`` would fix or report: missing or stale copies, copies without
    a solution notebook, and convention problems. Empty list: everything is current."""
    notebooks, out = Path(notebooks), Path(out)
    problems = []
    names = set()
    for src in _sources(notebooks):
        names.add(src.name)
        nb = _read(src)
        issues = lint(nb)
        if issues:
            problems += [f"{src.name}: {p}" for p in issues]
            continue
        dest = out / src.name
        if not dest.exists():
            problems.append(f"{src.name}: no exercise copy in {out}/")
        elif dest.read_text(encoding="utf-8") != _text(student_copy(nb, src.name)):
            problems.append(f"{src.name}: the exercise copy in {out}/ is stale")
    for extra in sorted(Path(out).glob(NOTEBOOK_GLOB)):
        if extra.name not in names:
            problems.append(f"{extra.name}: exercise copy without a solution notebook; delete it")
    return problems


_GRADING_STRICT = (f"{BEGIN_HIDDEN}\n"
                   "import os; os.environ['SUPERCONV_STRICT_CHECKS'] = '1'  # graded: fail=raise\n"
                   f"{END_HIDDEN}\n")


def nbgrader_source(nb: nbformat.NotebookNode, name: str, *, points: float = 1.0
                    ) -> nbformat.NotebookNode:
    """The solution notebook with nbgrader cell metadata (schema 3), ready for
    ``nbgrader generate_assignment``: each code cell with solution regions is a solution cell,
    its self-check cell an autograded test cell worth ``points`` (locked), and each Markdown
    answer cell a manually graded answer. Outputs are cleared.

    Each self-check cell starts with a hidden-test region that switches strict checks on: the
    released copy does not have it (learners see pass/fail messages), ``nbgrader autograde``
    restores it, so a check that does not pass raises and the cell scores 0.
    """
    out = copy.deepcopy(nb)
    prefix = name[:2]
    for k, ex in enumerate(exercises_in(nb), 1):
        cell = out.cells[ex.cell]
        if ex.markdown:
            cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False,
                                         "points": points, "grade_id": f"ex{prefix}-{k}-answer",
                                         "schema_version": 3}
            continue
        cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                     "grade_id": f"ex{prefix}-{k}", "schema_version": 3}
        if ex.check_cell is not None:
            out.cells[ex.check_cell].source = _GRADING_STRICT + out.cells[ex.check_cell].source
            out.cells[ex.check_cell].metadata["nbgrader"] = {
                "grade": True, "solution": False, "locked": True, "points": points,
                "grade_id": f"ex{prefix}-{k}-check", "schema_version": 3}
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(out)
    return out


# ---------------------------------------------------------------------------------------------
# Executing: solutions pass, stubs are "not attempted"
# ---------------------------------------------------------------------------------------------

_STRICT_ON = "import os as _os; _os.environ['SUPERCONV_STRICT_CHECKS'] = '1'"
_STRICT_OFF = "import os as _os; _os.environ['SUPERCONV_STRICT_CHECKS'] = '0'"


def verify(path: Path | str, *, timeout: int = 600, kernel: str = "python3") -> list[str]:
    """Execute solution notebook ``path`` (slow: one full run; set ``SUPERCONV_QUICK=1``).

    With strict checks, every cell must run and so every self-check must pass. Then, in the same
    kernel, each exercise's cell is replaced by the learner's version (solution stubbed) and its
    self-check re-run without strict mode: it must report "not attempted". Returns the problems
    (empty list: the notebook behaves as the course promises).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = _read(path)
    problems = lint(nb)
    if problems:
        return [f"{path.name}: {p}" for p in problems]
    exes = [e for e in exercises_in(nb) if not e.markdown]
    # Run the solution notebook in strict mode, then append the probes as extra cells.
    run = copy.deepcopy(nb)
    run.cells.insert(0, nbformat.v4.new_code_cell(_STRICT_ON))
    probes = []
    run.cells.append(nbformat.v4.new_code_cell(_STRICT_OFF))
    for ex in exes:
        stub, _ = strip_source(nb.cells[ex.cell].source)
        run.cells.append(nbformat.v4.new_code_cell(stub))
        check, _ = strip_source(nb.cells[ex.check_cell].source)   # as learners have it
        run.cells.append(nbformat.v4.new_code_cell(check))
        probes.append((ex, len(run.cells) - 1))
    client = NotebookClient(run, timeout=timeout, kernel_name=kernel,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as e:
        where = next((i for i, c in enumerate(run.cells) if c.cell_type == "code"
                      and any(o.get("output_type") == "error" for o in c.outputs)), None)
        cell = "a probe cell" if where is None or where > len(nb.cells) else f"cell {where - 1}"
        return [f"{path.name}: {cell} raised {e.ename}: {e.evalue}"]
    for ex, idx in probes:
        text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                       for o in run.cells[idx].outputs)
        if "not attempted" not in text:
            problems.append(f"{path.name}: cell {ex.check_cell}: with the solution stubbed, the "
                            f"self-check did not report 'not attempted' (it printed {text!r:.200})")
    return problems


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m superconv_lib.course",
                                 description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for cmd, helptext in (("exercises", "write the learners' copies"),
                          ("check", "exit 1 if a copy is missing or stale, or a notebook breaks "
                                    "the exercise conventions")):
        p = sub.add_parser(cmd, help=helptext)
        p.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
        p.add_argument("--out", type=Path, default=ROOT / "exercises")
    p = sub.add_parser("nbgrader", help="write the solution notebooks with nbgrader metadata")
    p.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    p.add_argument("--out", type=Path, required=True,
                   help="e.g. source/superconv inside an nbgrader course folder")
    p.add_argument("--points", type=float, default=1.0, help="points per self-check")
    p = sub.add_parser("verify", help="execute solution notebooks: checks pass, stubs do not "
                                      "(one quick-mode run each)")
    p.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    p.add_argument("only", nargs="*", help="notebook numbers or names (default: all)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = ap.parse_args(argv)

    if args.cmd == "exercises":
        written, problems = write_exercises(args.notebooks, args.out)
        for w in written:
            print(f"wrote {w}")
        if not written and not problems:
            print(f"exercise copies in {args.out} are up to date")
    elif args.cmd == "check":
        problems = check_exercises(args.notebooks, args.out)
        if problems:
            problems.append("to fix: correct the notebook problems listed (in notebooks/src/), "
                            "then run: python -m superconv_lib.course exercises")
    elif args.cmd == "nbgrader":
        args.out.mkdir(parents=True, exist_ok=True)
        problems = []
        for src in _sources(args.notebooks):
            nb = _read(src)
            issues = lint(nb)
            if issues:
                problems += [f"{src.name}: {p}" for p in issues]
                continue
            (args.out / src.name).write_text(_text(nbgrader_source(nb, src.name,
                                                                   points=args.points)),
                                             encoding="utf-8")
            print(f"wrote {args.out / src.name}")
    else:
        problems = []
        for src in _sources(args.notebooks):
            if args.only and not any(src.name.startswith(o) or src.stem == o for o in args.only):
                continue
            print(f"verifying {src.name} ...", flush=True)
            problems += verify(src, timeout=args.timeout)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
