"""Classroom tools: exercise copies of the notebooks, their freshness check, nbgrader sources,
"Open in Colab" links.

The solution notebooks (``notebooks/NN_topic.ipynb``) mark each exercise's answer with
nbgrader's delimiters, inside the body of a function the learner writes::

    def my_triangular(step, base_lr, max_lr, step_size):
        \"\"\"Triangular CLR: the lr at iteration ``step``.\"\"\"
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

and the next code cell is its self-check, e.g. ``checks.triangular(my_triangular)``.
A predict-then-run **written answer** is a Markdown cell tagged ``written-answer`` right after the
Markdown cell that asks the question: its body is the teacher's model answer, its last paragraph
starts ``**Rubric (N points):**``. The exercise copy replaces the whole cell by
``YOUR ANSWER HERE``; the nbgrader source makes it a manually graded answer worth N points; the
teachers' guide (docs/INSTRUCTORS.md) collects the model answers and rubrics.

This is a tool for the course's authors and teachers, not part of the installed library: it needs
nbformat (and nbclient for ``verify``), which ``pip install .`` does not bring.

``python tools/course.py exercises`` writes the learners' copies into ``exercises/``,
named ``NN_topic_exercises.ipynb`` (a tab in JupyterLab says which copy is open): every
solution region becomes ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` at the
marker's indentation (``YOUR ANSWER HERE`` in a Markdown cell), ``### BEGIN HIDDEN TESTS`` ..
``### END HIDDEN TESTS`` regions are removed, outputs are cleared, and a note cell below the title
says which copy this is (linking the solution notebook), and links between lessons point at the
other exercise copies. These are nbgrader's rules (``ClearSolutions``, ``ClearHiddenTests``),
so a teacher can also feed the solution notebooks to nbgrader (``nbgrader`` subcommand below).
The output depends only on the input, byte for byte: running it twice changes nothing.

Subcommands::

    python tools/course.py exercises [--notebooks notebooks/] [--out exercises/]
    python tools/course.py check     [--notebooks notebooks/] [--out exercises/]
    python tools/course.py nbgrader  --out source/superconv [--notebooks notebooks/]
    python tools/course.py verify    [--notebooks notebooks/] [NN ...]
    python tools/course.py colab     --repo OWNER/NAME [--branch main] [--root .]
    python tools/course.py instructors [--notebooks notebooks/] [--doc docs/INSTRUCTORS.md]

``check`` exits 1 when a copy is missing, stale or orphaned, when a notebook breaks the
conventions (see :func:`lint`), or when the generated tables of docs/INSTRUCTORS.md are stale
(``instructors`` rewrites them from the notebooks: prerequisites, learner and run times,
exercises, written questions with model answers and rubrics). ``nbgrader`` writes the solution notebooks with nbgrader's cell
metadata (solution cells, the self-check cells as 1-point autograded test cells that run in
strict mode when graded, the written answers as manually graded cells with their rubric's
points); ``nbgrader generate_assignment`` then releases exactly the cells
``exercises`` writes.
``verify`` executes notebooks (slow: a quick-mode run each): the solution notebook in strict
mode, where every self-check must pass, then each exercise's student version of the cell and
its self-check, which must report "not attempted".
``colab`` switches on "Open in Colab" once the repository is public (see :func:`enable_colab`):
a badge in each notebook's header and in the README's course map, and a first code cell that
installs the library from GitHub when (and only when) the notebook runs in Colab.
"""
from __future__ import annotations

import argparse
import ast
import copy
import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["BEGIN_SOLUTION", "END_SOLUTION", "BEGIN_HIDDEN", "END_HIDDEN", "CODE_STUB",
           "TEXT_STUB", "EXERCISE_SUFFIX", "KERNEL", "MarkerError", "Exercise", "exercise_name",
           "clean_notebook", "strip_source", "student_copy", "exercises_in",
           "lint", "write_exercises", "check_exercises", "nbgrader_source", "verify",
           "COLAB_TAG", "parse_repo", "colab_url", "colab_badge", "colab_cell", "add_colab",
           "readme_with_colab", "enable_colab", "WRITTEN_TAG", "written_answer", "header_facts",
           "check_names", "instructors_tables", "write_instructors", "check_instructors", "main"]

ROOT = Path(__file__).resolve().parents[1]
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"   # nbgrader's default code stub
TEXT_STUB = "YOUR ANSWER HERE"                                 # nbgrader's default text stub
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
EXERCISE_SUFFIX = "_exercises"    # exercises/01_lr_range_test_exercises.ipynb
# What JupyterLab writes for the python3 kernel (so opening a notebook does not change it).
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# A Markdown link to a lesson beside this one, e.g. "(02_cyclical_lr.ipynb)".
_LESSON_LINK = re.compile(r"\]\((\d\d_[A-Za-z0-9_-]+?)(?<!" + EXERCISE_SUFFIX + r")\.ipynb\)")
CHECK_CALL = re.compile(r"\bchecks\.\w+\(")
# A line that mentions a marker but is not exactly one: nbgrader would not see it either, and
# the solution would leak into the learners' copy.
_NEAR_MARKER = re.compile(r"(BEGIN|END)\s+(SOLUTION|HIDDEN\s+TESTS)", re.IGNORECASE)
WRITTEN_TAG = "written-answer"    # API.md: a predict-then-run answer cell (Markdown)
_RUBRIC = re.compile(r"\*\*Rubric \((\d+(?:\.\d+)?) points?\):\*\*")
INSTRUCTORS = ROOT / "docs" / "INSTRUCTORS.md"
GENERATED_BEGIN = "<!-- BEGIN GENERATED by `python tools/course.py instructors`: do not edit -->"
GENERATED_END = "<!-- END GENERATED -->"


def exercise_name(name: str) -> str:
    """The exercise copy's file name of solution notebook ``name``:
    ``01_lr_range_test.ipynb`` -> ``01_lr_range_test_exercises.ipynb``."""
    stem = name.removesuffix(".ipynb")
    return f"{stem}{EXERCISE_SUFFIX}.ipynb"


def clean_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` (modified in place and returned) in its committed form, which is what `nbstripout`
    leaves of it: no outputs or execution counts, cell metadata reduced to its tags (and nbgrader's),
    cell ids "0", "1", … and notebook metadata only the kernelspec. A notebook a learner ran and
    saved in JupyterLab has the same committed form as before."""
    nb.metadata = {"kernelspec": dict(KERNEL)}
    for i, cell in enumerate(nb.cells):
        cell.id = str(i)
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags", "nbgrader")}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


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
    written: bool = False          # a ``written-answer`` cell (manually graded, with a rubric)
    points: float = 0.0            # a written answer's points (its rubric's N)


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


def _is_written(cell) -> bool:
    return cell.cell_type == "markdown" and WRITTEN_TAG in cell.get("metadata", {}).get("tags", [])


def written_answer(source: str) -> tuple[str, str, float]:
    """``(model answer, rubric, points)`` of a written-answer cell's source: the rubric is the
    last paragraph, starting ``**Rubric (N points):**``. Raises ``ValueError`` when it has none."""
    paragraphs = source.strip().split("\n\n")
    m = _RUBRIC.match(paragraphs[-1].strip()) if paragraphs else None
    if not m or len(paragraphs) < 2:
        raise ValueError("a written-answer cell needs the model answer, then a last paragraph "
                         "starting '**Rubric (N points):**' that says what earns each point")
    rubric = paragraphs[-1].strip()[m.end():].strip()
    return "\n\n".join(paragraphs[:-1]).strip(), rubric, float(m[1])


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
        if _is_written(cell):
            try:
                points = written_answer(cell.source)[2]
            except ValueError:
                points = 0.0
            found.append(Exercise(i, None, markdown=True, written=True, points=points))
            continue
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
    - the next code cell after a code solution cell calls a ``checks.…(…)`` self-check;
    - a written-answer cell follows its question and ends with its rubric.
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
    for ex in (e for e in exercises_in(nb) if e.written):
        cell = nb.cells[ex.cell]
        try:
            written_answer(cell.source)
        except ValueError as e:
            problems.append(f"cell {ex.cell}: {e}")
        if _has_solution(cell):
            problems.append(f"cell {ex.cell}: a written-answer cell is the model answer as a "
                            "whole; drop its solution markers")
        if ex.cell == 0 or nb.cells[ex.cell - 1].cell_type != "markdown" or \
                _is_written(nb.cells[ex.cell - 1]):
            problems.append(f"cell {ex.cell}: a written-answer cell must follow the Markdown "
                            "cell that asks the question")
    for ex in exercises_in(nb):
        if not ex.markdown and ex.check_cell is None:
            problems.append(f"cell {ex.cell}: exercise without a self-check; the next code cell "
                            "must call one of superconv_lib.checks, e.g. "
                            "checks.triangular(my_triangular).")
    return problems


def _note(nb_name: str, n_exercises: int) -> nbformat.NotebookNode:
    what = (f"its {n_exercises} exercise{'s' if n_exercises != 1 else ''}' solutions are replaced "
            "by `raise NotImplementedError()` (written answers by *YOUR ANSWER HERE*)"
            if n_exercises else "it has no exercises yet")
    text = (f"> **Exercise copy** of [notebooks/{nb_name}](../notebooks/{nb_name}) (the lesson "
            f"with the solutions): {what}. Run the notebook from the "
            "top, write your code where it says `# YOUR CODE HERE` (delete the `raise` line), run "
            "that cell, then the self-check below it: ✅ passed, ❌ failed with a hint, ✏️ not "
            "attempted yet. Checks never show the answer. Where it says *YOUR ANSWER HERE*, "
            "double-click and write your prediction before you run the experiment below it.\n>\n"
            "> *Generated by `python tools/course.py exercises`; edit the solution "
            "notebook's source, not this file.*")
    return nbformat.v4.new_markdown_cell(text)


def student_copy(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The learner's copy of solution notebook ``nb`` (file name ``name``; the copy is
    :func:`exercise_name` of it): solution regions stubbed, hidden tests removed, outputs and
    execution counts cleared, a note cell inserted after the title cell, links to the other
    lessons (``02_cyclical_lr.ipynb``) and "Open in Colab" links to ``notebooks/name`` pointed
    at the exercise copies, cell ids renumbered "0", "1", … (as nbstripout does). ``nb`` is not
    modified. Raises :class:`MarkerError` (with the cell index) on bad markers."""
    out = copy.deepcopy(nb)
    for i, cell in enumerate(out.cells):
        if _is_written(cell):             # the model answer and rubric are the teacher's
            cell.source = TEXT_STUB
            continue
        if cell.cell_type in ("code", "markdown"):
            try:
                cell.source, _ = strip_source(cell.source, cell.cell_type)
            except MarkerError as e:
                raise MarkerError(f"{name}, cell {i}: {e}") from None
        if cell.cell_type == "markdown":      # an "Open in Colab" badge opens this copy
            cell.source = _LESSON_LINK.sub(r"](\1" + EXERCISE_SUFFIX + ".ipynb)",
                                           _colab_to_exercises(cell.source, name))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    n = sum(1 for _ in exercises_in(nb))
    at = 1 if out.cells and out.cells[0].cell_type == "markdown" else 0
    out.cells.insert(at, _note(name, n))
    for i, cell in enumerate(out.cells):
        cell.id = str(i)
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
    """Write the exercise copy of every ``NN_*.ipynb`` in ``notebooks`` into ``out``, as
    :func:`exercise_name` (outputs a learner saved in a solution notebook are ignored).

    Returns ``(written, problems)``: the files whose bytes changed, and the convention problems
    (:func:`lint`). A notebook with problems gets no copy; the others are still written.
    """
    notebooks, out = Path(notebooks), Path(out)
    written, problems = [], []
    for src in _sources(notebooks):
        nb = clean_notebook(_read(src))
        issues = lint(nb)
        if issues:
            problems += [f"{src.name}: {p}" for p in issues]
            continue
        text = _text(student_copy(nb, src.name))
        dest = out / exercise_name(src.name)
        if dest.exists() and (dest.read_text(encoding="utf-8") == text
                              or _text(clean_notebook(_read(dest))) == text):
            continue                  # current (a learner's outputs in it are kept)
        out.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
        written.append(dest)
    return written, problems


def check_exercises(notebooks: Path | str = ROOT / "notebooks",
                    out: Path | str = ROOT / "exercises") -> list[str]:
    """Problems that ``exercises`` would fix or report: missing or stale copies, copies without
    a solution notebook, and convention problems. Empty list: everything is current. Outputs
    (and the metadata JupyterLab adds) in either notebook are not differences: running a
    notebook does not make it stale."""
    notebooks, out = Path(notebooks), Path(out)
    problems = []
    names = set()
    for src in _sources(notebooks):
        names.add(exercise_name(src.name))
        nb = clean_notebook(_read(src))
        issues = lint(nb)
        if issues:
            problems += [f"{src.name}: {p}" for p in issues]
            continue
        dest = out / exercise_name(src.name)
        want = _text(student_copy(nb, src.name))
        if not dest.exists():
            problems.append(f"{src.name}: no exercise copy {dest.name} in {out}/")
        elif dest.read_text(encoding="utf-8") != want and \
                _text(clean_notebook(_read(dest))) != want:
            problems.append(f"{src.name}: the exercise copy {dest.name} in {out}/ is stale")
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
    its self-check cell an autograded test cell worth ``points`` (locked), each Markdown
    answer cell a manually graded answer, and each written-answer cell a manually graded answer
    worth its rubric's points (nbgrader releases it as ``YOUR ANSWER HERE``). Outputs are
    cleared.

    Each self-check cell starts with a hidden-test region that switches strict checks on: the
    released copy does not have it (learners see pass/fail messages), ``nbgrader autograde``
    restores it, so a check that does not pass raises and the cell scores 0.
    """
    out = copy.deepcopy(nb)
    prefix = name[:2]
    for k, ex in enumerate(exercises_in(nb), 1):
        cell = out.cells[ex.cell]
        if ex.written:
            cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False,
                                         "points": ex.points, "grade_id": f"ex{prefix}-{k}-written",
                                         "schema_version": 3}
            continue
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
# The teachers' guide: tables generated from the notebooks (they cannot drift)
# ---------------------------------------------------------------------------------------------

_NAME_ARG = re.compile(r"""\bname=(["'])(.+?)\1""")
_CHECK_FN = re.compile(r"\bchecks\.(\w+)\(")


def _paragraph(text: str, start: str) -> str:
    """The paragraph of ``text`` that starts with ``start`` (joined into one line), or ''."""
    for para in text.split("\n\n"):
        if para.strip().startswith(start):
            return " ".join(line.strip() for line in para.strip()[len(start):].split("\n")).strip()
    return ""


def header_facts(nb: nbformat.NotebookNode) -> dict[str, str]:
    """What a notebook's header cell states for teachers: ``title``, ``prerequisites``,
    ``learner_time`` and ``run_time`` (STYLE.md: cell 1 says them; '' where it does not)."""
    head = nb.cells[0].source if nb.cells else ""
    return {"title": head.split("\n")[0].removeprefix("# ").strip(),
            "prerequisites": _paragraph(head, "**Prerequisites:**"),
            "learner_time": _paragraph(head, "**Learner time:**"),
            "run_time": re.sub(r"^\(.*?\)\s*:\s*|^:\s*", "", _paragraph(head, "**Run time**"))}


def check_names(nb: nbformat.NotebookNode, ex: Exercise) -> list[tuple[str, str]]:
    """``(check function, the name it reports)`` for each self-check call of exercise ``ex``."""
    if ex.check_cell is None:
        return []
    src = nb.cells[ex.check_cell].source
    calls = [(m.start(), m[1]) for m in _CHECK_FN.finditer(src)]
    out = []
    for k, (at, fn) in enumerate(calls):
        end = calls[k + 1][0] if k + 1 < len(calls) else len(src)
        m = _NAME_ARG.search(src, at, end)
        out.append((fn, m[2] if m else ""))
    return out


def _question(nb: nbformat.NotebookNode, ex: Exercise) -> str:
    return nb.cells[ex.cell - 1].source.strip() if ex.cell > 0 else ""


def _label(text: str) -> str:
    """The bold lead of a question (``**Exercise 3 · Predict …**``), else its first line."""
    m = re.search(r"\*\*(.+?)\*\*", text)
    return (m[1] if m else text.split("\n")[0]).strip().rstrip(".")


_MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _relink(text: str) -> str:
    """Markdown links of a notebook (relative to notebooks/) made relative to docs/."""
    def fix(m: re.Match) -> str:
        target = m[1]
        if re.match(r"[a-z]+:|#|/", target):
            return m[0]
        return "](" + os.path.relpath(os.path.normpath(os.path.join("notebooks", target)),
                                      "docs").replace(os.sep, "/") + ")"
    return _MD_LINK.sub(fix, text)


def _cell(text: str) -> str:
    """Text for one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|") or "—"


def instructors_tables(notebooks: Path | str = ROOT / "notebooks", *, points: float = 1.0
                       ) -> str:
    """The generated part of docs/INSTRUCTORS.md, from the solution notebooks' own text: per
    notebook its prerequisites, learner time and run times (header cell), its exercises with
    the check and the name each reports, and every written question with its model answer and
    rubric. ``points``: what ``nbgrader --points`` gives each self-check."""
    overview = ["| # | notebook | prerequisites | learner time | run time (compute) |",
                "|---|---|---|---|---|"]
    graded = ["| # | exercise | kind | graded by | points |", "|---|---|---|---|---|"]
    answers: list[str] = []
    for src in _sources(Path(notebooks)):
        nb = _read(src)
        facts, num = {k: _relink(v) for k, v in header_facts(nb).items()}, src.name[:2]
        title = facts["title"].split("·", 1)[-1].strip()
        overview.append(f"| {num} | [{_cell(title)}](../notebooks/{src.name}) | "
                        f"{_cell(facts['prerequisites'])} | {_cell(facts['learner_time'])} | "
                        f"{_cell(facts['run_time'])} |")
        for ex in exercises_in(nb):
            if ex.written:
                label = _label(_question(nb, ex))
                graded.append(f"| {num} | {_cell(label)} | written (predict, then run), graded "
                              f"by hand | the rubric below | {ex.points:g} |")
                try:
                    model, rubric, pts = written_answer(nb.cells[ex.cell].source)
                except ValueError:
                    model, rubric, pts = "(missing)", "(missing)", 0
                model, rubric = _relink(model), _relink(rubric)
                quoted = "\n".join("> " + line if line else ">"
                                    for line in _relink(_question(nb, ex)).split("\n"))
                answers += [f"### {num} · {label}", "", quoted, "", "**Model answer.** " + model,
                            "", f"**Rubric ({pts:g} points).** {rubric}", ""]
            elif ex.markdown:
                graded.append(f"| {num} | {_cell(_label(_question(nb, ex)))} | written, graded "
                              f"by hand | — | {points:g} |")
            else:
                for fn, name in check_names(nb, ex) or [("", "")]:
                    graded.append(f"| {num} | {_cell(name or ', '.join(ex.functions))} | code, "
                                  f"autograded | `checks.{fn}` | {points:g} |")
    return "\n".join([GENERATED_BEGIN, "", "### Notebooks: prerequisites and time", "",
                      "*Learner time*: reading, exercises and written answers, for a learner "
                      "who has the prerequisites. *Run time*: the computer's time for \"Restart & "
                      "Run All\" at each size, as each notebook's first cell states it.", "",
                      *overview, "", "### Exercises and how they are graded", "", *graded, "",
                      "### Model answers and rubrics for the written questions", "",
                      *answers, GENERATED_END])


def _with_tables(doc: str, tables: str) -> str:
    start, end = doc.find(GENERATED_BEGIN), doc.find(GENERATED_END)
    if start < 0 or end < start:
        raise ValueError(f"the guide has no generated section: add a line {GENERATED_BEGIN!r} "
                         f"and a line {GENERATED_END!r} where the tables go")
    return doc[:start] + tables + doc[end + len(GENERATED_END):]


def write_instructors(notebooks: Path | str = ROOT / "notebooks",
                      doc: Path | str = INSTRUCTORS) -> bool:
    """Rewrite the generated section of ``doc`` from the notebooks; True when it changed."""
    doc = Path(doc)
    return _write(doc, _with_tables(doc.read_text(encoding="utf-8"),
                                    instructors_tables(notebooks)))


def check_instructors(notebooks: Path | str = ROOT / "notebooks",
                      doc: Path | str = INSTRUCTORS) -> list[str]:
    """Problems with the guide's generated section (empty: it matches the notebooks)."""
    doc = Path(doc)
    if not doc.exists():
        return [f"{doc}: missing"]
    text = doc.read_text(encoding="utf-8")
    try:
        want = _with_tables(text, instructors_tables(notebooks))
    except ValueError as e:
        return [f"{doc.name}: {e}"]
    return [] if want == text else [f"{doc.name}: the generated tables are stale (they disagree "
                                    "with the notebooks); run: python tools/course.py instructors"]


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
# Open in Colab (switched on once the public repository is known)
# ---------------------------------------------------------------------------------------------

DISTRIBUTION = "superconv"        # pyproject.toml's [project] name: what pip installs in Colab
COLAB_TAG = "colab"               # the install cell's tag (with its first line, how it is found)
COLAB_COMMENT = "# Colab only: install the course library from GitHub (does nothing elsewhere)"
_BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
_COLAB = "https://colab.research.google.com/github/"
# Any badge this command writes, whatever repository and branch: how a rerun finds it again.
_BADGE = re.compile(r"\[!\[Open In Colab\]\(" + re.escape(_BADGE_SVG) + r"\)\]\("
                    + re.escape(_COLAB) + r"[^\s)]+\)")
# GitHub's rules: an owner is letters, digits and single inner hyphens (at most 39); a
# repository name letters, digits, '.', '_' and '-' (at most 100).
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_GITHUB_URL = re.compile(r"(?:https?://)?(?:www\.)?github\.com/([^/\s]+/[^/\s]+?)/?")
# A branch that is safe inside both a URL path and pip's "git+https://…@BRANCH".
_BRANCH = re.compile(r"(?!-)(?!.*\.\.)(?!.*//)(?!.*\.lock(?:/|$))[A-Za-z0-9._/-]+(?<![./])")
_PERCENT_CELL = re.compile(r"# %%(?:[ \t].*)?")              # a percent-format cell marker
_TEXT_CELL = re.compile(r"# %%.*\[(?:markdown|md|raw)\]")
_COURSE_MAP_ROW = re.compile(r"\]\(notebooks/(\d\d_[^)/\s]+\.ipynb)\)")


def parse_repo(repo: str) -> str:
    """``OWNER/NAME`` of the GitHub repository given as ``OWNER/NAME`` or as its address
    ``https://github.com/OWNER/NAME`` (``.git`` and a trailing slash are dropped). Raises
    ``ValueError`` saying the expected form."""
    text = repo.strip()
    m = _GITHUB_URL.fullmatch(text)
    owner, _, name = (m[1] if m else text).partition("/")
    name = name[:-4] if name.endswith(".git") else name
    if not (_OWNER.fullmatch(owner) and _NAME.fullmatch(name) and name not in (".", "..")):
        raise ValueError("repo must be the GitHub repository as OWNER/NAME or "
                         "https://github.com/OWNER/NAME(.git), e.g. octocat/superconv (OWNER: "
                         "letters, digits, single hyphens; NAME: letters, digits, '.', '_', '-'); "
                         f"got {repo!r}")
    return f"{owner}/{name}"


def _check_branch(branch: str) -> str:
    if not _BRANCH.fullmatch(branch):
        raise ValueError("branch must be a git branch name of letters, digits, '.', '_', '-' "
                         f"and '/', e.g. main; got {branch!r}")
    return branch


def colab_url(repo: str, branch: str, path: str) -> str:
    """Colab's address of notebook ``path`` (relative to the repository root) on GitHub."""
    return f"{_COLAB}{repo}/blob/{branch}/{path}"


def colab_badge(repo: str, branch: str, path: str) -> str:
    """The "Open In Colab" badge (Markdown) that opens notebook ``path`` in Colab."""
    return f"[![Open In Colab]({_BADGE_SVG})]({colab_url(repo, branch, path)})"


def colab_cell(repo: str, branch: str) -> str:
    """Source of the cell that installs the library from GitHub when the notebook runs in Colab
    (and does nothing elsewhere). Plain Python, so nbval, ``ast`` and linters read it."""
    spec = f"{DISTRIBUTION} @ git+https://github.com/{repo}@{branch}"
    return (f"{COLAB_COMMENT}\n"
            "import subprocess, sys\n"
            "if \"google.colab\" in sys.modules:\n"
            "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",\n"
            f"                    \"{spec}\"], check=True)")


def _percent_cells(text: str) -> list[list[str]]:
    """A percent-format source as blocks of lines: the preamble, then one block per cell (its
    marker line first, the blank lines before the next marker last). Joining gives it back."""
    blocks: list[list[str]] = [[]]
    for line in text.split("\n"):
        if _PERCENT_CELL.fullmatch(line):
            blocks.append([])
        blocks[-1].append(line)
    return blocks


def _is_colab_cell(block: list[str]) -> bool:
    if not block or not _PERCENT_CELL.fullmatch(block[0]):
        return False                                        # the preamble
    tags = re.search(r"tags=(\[[^\]]*\])", block[0])
    return (tags is not None and f'"{COLAB_TAG}"' in tags[1]) or \
        (len(block) > 1 and block[1] == COLAB_COMMENT)


def add_colab(source: str, name: str, repo: str, branch: str = "main") -> str:
    """Notebook source ``source`` (jupytext percent format) of ``notebooks/name`` with the Colab
    badge below the title of its header cell and the install cell (:func:`colab_cell`, tagged
    :data:`COLAB_TAG`) right before its setup cell (the first code cell). A badge or install cell
    written before, for any repository or branch, is replaced: applying it twice changes
    nothing. Raises ``ValueError`` when the first cell is not Markdown or there is no code cell.
    """
    blocks = [b for b in _percent_cells(source) if not _is_colab_cell(b)]
    if len(blocks) < 2 or not _TEXT_CELL.match(blocks[1][0]):
        raise ValueError(f"{name}: the first cell must be the Markdown header (title, run time)")
    header: list[str] = []
    lines = blocks[1]
    i = 0
    while i < len(lines):                                   # drop an earlier badge line
        if lines[i].startswith("# ") and _BADGE.fullmatch(lines[i][2:]):
            i += 2 if i + 1 < len(lines) and lines[i + 1] == "#" else 1
            continue
        header.append(lines[i])
        i += 1
    title = next((k for k, line in enumerate(header) if line.startswith("# # ")), 0)
    header[title + 1:title + 1] = ["# " + colab_badge(repo, branch, f"notebooks/{name}"), "#"]
    blocks[1] = header
    setup = next((k for k in range(2, len(blocks)) if not _TEXT_CELL.match(blocks[k][0])),
                 None)
    if setup is None:
        raise ValueError(f"{name}: no code cell; the setup cell should follow the header")
    blocks.insert(setup, [f'# %% tags=["{COLAB_TAG}"]', *colab_cell(repo, branch).split("\n"),
                          ""])
    return "\n".join("\n".join(b) for b in blocks if b)


def _colab_to_exercises(source: str, name: str) -> str:
    """Markdown ``source`` with Colab links to ``notebooks/name`` pointed at its exercise copy,
    ``exercises/`` + :func:`exercise_name`."""
    return re.sub(f"({re.escape(_COLAB)}" + r"[^\s)]+?/blob/[^\s)]+?/)notebooks/"
                  + re.escape(name) + r"\)", r"\1exercises/" + exercise_name(name) + ")",
                  source)


def readme_with_colab(text: str, repo: str, branch: str = "main") -> tuple[str, list[str]]:
    """README ``text`` with a Colab badge at the end of the notebook column of each row of the
    "Course map" table (the column linking ``notebooks/NN_name.ipynb``; the badge opens that
    solution notebook), replacing a badge written before. Returns the text and the notebook
    names of the rows it marked."""
    lines = text.split("\n")
    rows, in_map = [], False
    for i, line in enumerate(lines):
        if line.startswith("## "):
            in_map = line[3:].strip().lower() == "course map"
            continue
        m = _COURSE_MAP_ROW.search(line)
        if not (in_map and line.startswith("|") and m):
            continue
        cells = re.split(r"(?<!\\)\|", re.sub(" ?" + _BADGE.pattern, "", line))
        k = next(j for j, c in enumerate(cells) if _COURSE_MAP_ROW.search(c))
        cells[k] = f"{cells[k].rstrip()} {colab_badge(repo, branch, 'notebooks/' + m[1])} "
        lines[i] = "|".join(cells)
        rows.append(m[1])
    return "\n".join(lines), rows


def _builder(root: Path):
    """tools/build_notebooks.py (the one in ``root``, else this checkout's) as a module."""
    path = root / "tools" / "build_notebooks.py"
    path = path if path.exists() else ROOT / "tools" / "build_notebooks.py"
    spec = importlib.util.spec_from_file_location("_superconv_build_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, text: str) -> bool:
    """Write ``text`` unless the file already holds it; True when the bytes changed."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def enable_colab(repo: str, branch: str = "main", root: Path | str = ROOT
                 ) -> tuple[list[Path], list[str]]:
    """Switch on "Open in Colab" for the course in ``root`` once its GitHub repository ``repo``
    (``OWNER/NAME`` or its https address) is public, linking to branch ``branch``:

    1. each ``notebooks/src/NN_*.py`` gets :func:`add_colab` (badge in the header, a Colab-only
       install cell before the setup cell);
    2. ``notebooks/NN_*.ipynb`` are rebuilt from them with ``tools/build_notebooks.py``;
    3. ``exercises/`` are regenerated (:func:`write_exercises`; their badges open the copy);
    4. README.md's course map gets a badge in each notebook row (:func:`readme_with_colab`).

    Rerunning, with the same or another repository or branch, replaces what it wrote. Returns
    ``(changed, problems)``: the files whose bytes changed, and what stopped part of the work
    (a notebook source not in the course's shape leaves every file untouched). Raises
    ``ValueError`` for a malformed ``repo`` or ``branch`` or a ``root`` without sources.
    """
    repo, branch, root = parse_repo(repo), _check_branch(branch), Path(root)
    sources = sorted((root / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
    if not sources:
        raise ValueError(f"root {root} has no notebook sources (notebooks/src/NN_*.py); it must "
                         "be the course folder")
    new, problems = {}, []
    for src in sources:
        try:
            new[src] = add_colab(src.read_text(encoding="utf-8"), f"{src.stem}.ipynb", repo,
                                 branch)
        except ValueError as e:
            problems.append(f"{src.relative_to(root)}: {e}")
    if problems:
        return [], problems
    changed = [src for src, text in new.items() if _write(src, text)]
    builder = _builder(root)
    for src in sources:
        dest = root / "notebooks" / f"{src.stem}.ipynb"
        if _write(dest, builder.text(builder.build(src))):
            changed.append(dest)
    written, problems = write_exercises(root / "notebooks", root / "exercises")
    changed += written
    readme = root / "README.md"
    if not readme.exists():
        problems.append(f"no README.md in {root}: no course-map badges written")
        return changed, problems
    text, rows = readme_with_colab(readme.read_text(encoding="utf-8"), repo, branch)
    problems += [f"README.md: no course-map row links notebooks/{src.stem}.ipynb; add the row, "
                 "then rerun" for src in sources if f"{src.stem}.ipynb" not in rows]
    if _write(readme, text):
        changed.append(readme)
    return changed, problems


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/course.py",
                                 description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for cmd, helptext in (("exercises", "write the learners' copies"),
                          ("check", "exit 1 if a copy is missing or stale, or a notebook breaks "
                                    "the exercise conventions")):
        p = sub.add_parser(cmd, help=helptext)
        p.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
        p.add_argument("--out", type=Path, default=ROOT / "exercises")
    p = sub.add_parser("instructors", help="rewrite the generated tables of the teachers' guide "
                                           "from the notebooks")
    p.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    p.add_argument("--doc", type=Path, default=INSTRUCTORS)
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
    p = sub.add_parser("colab", help="switch on 'Open in Colab' once the GitHub repository is "
                                     "public: badges in notebooks, exercises and README, and a "
                                     "Colab-only install cell")
    p.add_argument("--repo", required=True, help="OWNER/NAME or https://github.com/OWNER/NAME")
    p.add_argument("--branch", default="main", help="the branch Colab opens and pip installs")
    p.add_argument("--root", type=Path, default=ROOT,
                   help="the course folder (default: %(default)s)")
    args = ap.parse_args(argv)

    if args.cmd == "exercises":
        written, problems = write_exercises(args.notebooks, args.out)
        for w in written:
            print(f"wrote {w}")
        if not written and not problems:
            print(f"exercise copies in {args.out} are up to date")
    elif args.cmd == "check":
        problems = check_exercises(args.notebooks, args.out)
        if Path(args.notebooks).resolve() == (ROOT / "notebooks").resolve():
            problems += check_instructors(args.notebooks)
        if problems:
            problems.append("to fix: correct the notebook problems listed (in notebooks/src/), "
                            "then run: python tools/course.py exercises (and instructors)")
    elif args.cmd == "instructors":
        try:
            changed = write_instructors(args.notebooks, args.doc)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"wrote {args.doc}" if changed else f"{args.doc} is up to date")
        problems = []
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
    elif args.cmd == "colab":
        try:
            changed, problems = enable_colab(args.repo, args.branch, args.root)
        except ValueError as e:       # the message starts with the argument's name
            print(f"error: --{e}", file=sys.stderr)
            return 2
        for path in changed:
            print(f"wrote {path.relative_to(args.root)}")
        print(f"'Open in Colab' links point to github.com/{parse_repo(args.repo)}, branch "
              f"{args.branch}" + ("" if changed else "; nothing changed"))
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
