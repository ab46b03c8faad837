"""Grading through a real nbgrader (issue 15): the course's nbgrader source goes through
`nbgrader generate_assignment` and `nbgrader autograde` as a teacher runs them.

The assignment is made of two notebooks' self-contained exercises (their setup cell, the exercise
and self-check cells whose checks need only the learner's function, and the written answers with
their questions), so the round trip takes about a minute in quick mode. Three submissions:

- the solutions: full marks on every autograded cell;
- the released copy, untouched: zero on every autograded cell, and no cell fails but the graded
  checks;
- answers that call the library function they should re-implement (`schedules.clr`,
  `hessian.estimate`, ...): zero on those cells, full marks on the honest ones.

Written answers are manually graded cells worth their rubric's points, released as
"YOUR ANSWER HERE".
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from superconv_lib import checks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import course  # noqa: E402

nbgrader_api = pytest.importorskip("nbgrader.api", reason="nbgrader is in requirements.txt")

NOTEBOOKS = ("02_cyclical_lr.ipynb", "05_hessian_free_lr.ipynb")
ASSIGNMENT = "superconv"
CELL_TIMEOUT = 300           # seconds per cell; quick mode needs a few
# What a learner who takes the shortcut writes: the library function the exercise re-implements.
SHORTCUTS = {
    "my_triangular": "return schedules.clr(base_lr, max_lr, step_size)(step)",
    "my_estimate": "return hessian.estimate(theta0, theta1, theta2, lr)",
    "my_wd_estimate": "t = hessian.quadratic_trajectory(a, 1.0, 0.1, steps=3, "
                      "weight_decay=weight_decay)\nreturn hessian.estimate(t[1], t[2], t[3], 0.1)",
    "my_gap_estimate": "t = hessian.quadratic_trajectory(a, 1.0, lr, steps=2 * gap)\n"
                       "return hessian.estimate(t[0], t[gap], t[2 * gap], lr)",
}


def _standalone(nb, ex, imports: str) -> bool:
    """Whether exercise ``ex``'s self-check runs with nothing but the notebook's imports."""
    ns: dict = {}
    exec(imports, ns)
    exec(nb.cells[ex.cell].source, ns)
    try:
        with contextlib.redirect_stdout(io.StringIO()), checks.strict(False):
            exec(nb.cells[ex.check_cell].source, ns)
    except NameError:
        return False
    return True


def small_assignment(path: Path) -> nbformat.NotebookNode:
    """The nbgrader source of solution notebook ``path`` (course.nbgrader_source), cut down to
    its title, setup cell, self-contained exercises and written answers."""
    nb = nbformat.read(path, as_version=4)
    graded = course.nbgrader_source(nb, path.name)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    imports = "\n".join(line for line in nb.cells[setup].source.split("\n")
                        if line.startswith(("import ", "from ")))
    keep = {0, setup}
    for ex in course.exercises_in(nb):
        if ex.written:
            keep |= {ex.cell - 1, ex.cell}
        elif not ex.markdown and _standalone(nb, ex, imports):
            keep |= {ex.cell, ex.check_cell}
    out = nbformat.v4.new_notebook(metadata=graded.metadata,
                                   cells=[graded.cells[i] for i in sorted(keep)])
    nbformat.validate(out)
    return out


# nbgrader runs `alembic` (its database migrations) from PATH: the environment's bin/ first.
_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != checks.STRICT_ENV}   # graded cells say it
    env.update(SUPERCONV_QUICK="1", SUPERCONV_DEVICE="cpu", MPLBACKEND="Agg", PATH=_PATH)
    exe = Path(sys.executable).with_name("nbgrader")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "nbgrader"]
    out = subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out


def solution_cells(nb) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def with_shortcuts(source: str) -> str:
    """The released cell ``source`` with its stub replaced by the library shortcut (if any)."""
    fn = next((name for name in SHORTCUTS if f"def {name}(" in source), None)
    if fn is None:
        return source
    lines = source.split("\n")
    k = lines.index("    " + course.CODE_STUB.split("\n")[0])
    body = ["    " + line for line in SHORTCUTS[fn].split("\n")]
    return "\n".join(lines[:k] + body + lines[k + 2:])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A course folder, the assignment generated and three submissions autograded; returns the
    gradebook's grades {student: {notebook: {grade_id: Grade fields}}} and the folder."""
    root = tmp_path_factory.mktemp("nbgrader_course")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = 'superconv'\n"
        f"c.ExecutePreprocessor.timeout = {CELL_TIMEOUT}\n"
        "c.ClearSolutions.enforce_metadata = True\n")
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    sources = {}
    for name in NOTEBOOKS:
        sources[name] = small_assignment(ROOT / "notebooks" / name)
        nbformat.write(sources[name], source / name)
    # generate_assignment adds the assignment to the gradebook, autograde the students
    nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=root)
    for name in NOTEBOOKS:
        released = nbformat.read(root / "release" / ASSIGNMENT / name, as_version=4)
        answers = solution_cells(sources[name])
        for student in ("solved", "blank", "shortcut"):
            nb = nbformat.read(root / "release" / ASSIGNMENT / name, as_version=4)
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if not meta.get("solution"):
                    continue
                if student == "solved":
                    cell.source = (answers[meta["grade_id"]].source if cell.cell_type == "code"
                                   else "My prediction, and why.")
                elif student == "shortcut" and cell.cell_type == "code":
                    honest = answers[meta["grade_id"]].source
                    cell.source = with_shortcuts(cell.source)
                    if cell.source == released.cells[nb.cells.index(cell)].source:
                        cell.source = honest      # no shortcut for this one: the honest answer
            folder = root / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / name)
    nbgrader("autograde", ASSIGNMENT, "--force", cwd=root)
    grades: dict = {}
    path, os.environ["PATH"] = os.environ.get("PATH", ""), _PATH
    try:
        gradebook = nbgrader_api.Gradebook(f"sqlite:///{root / 'gradebook.db'}")
    finally:
        os.environ["PATH"] = path
    with gradebook as gb:
        for student in ("solved", "blank", "shortcut"):
            for name in NOTEBOOKS:
                sub = gb.find_submission_notebook(name.removesuffix(".ipynb"), ASSIGNMENT,
                                                  student)
                grades.setdefault(student, {})[name] = {
                    g.name: {"auto": g.auto_score, "max": g.max_score,
                             "manual": g.needs_manual_grade, "type": g.cell.cell_type}
                    for g in sub.grades}
    return grades, root


def autograded(grades: dict) -> dict:
    return {gid: g for gid, g in grades.items() if g["type"] == "code"}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_assignment_has_checks_and_written_answers(graded, name):
    grades, root = graded
    g = grades["solved"][name]
    assert len(autograded(g)) >= 2, g
    written = {gid: v for gid, v in g.items() if gid.endswith("-written")}
    assert written and all(v["type"] == "markdown" and v["max"] >= 1 for v in written.values())
    released = nbformat.read(root / "release" / ASSIGNMENT / name, as_version=4)
    text = nbformat.writes(released)
    assert "### BEGIN SOLUTION" not in text and "Rubric" not in text and "HIDDEN" not in text
    assert sum(c.source == course.TEXT_STUB for c in released.cells) == len(written)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solutions_get_full_marks(graded, name):
    grades, _ = graded
    for gid, g in autograded(grades["solved"][name]).items():
        assert g["auto"] == g["max"] > 0, (gid, g)
    for gid, g in grades["solved"][name].items():
        if gid.endswith("-written"):
            assert g["manual"], gid                  # a teacher grades it with the rubric


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_untouched_copy_scores_zero_without_errors(graded, name):
    grades, root = graded
    for gid, g in autograded(grades["blank"][name]).items():
        assert g["auto"] == 0, (gid, g)
    # no cell failed but the graded self-checks (the notebook itself runs to the end)
    nb = json.loads((root / "autograded" / "blank" / ASSIGNMENT / name).read_text())
    for cell in nb["cells"]:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            meta = cell["metadata"].get("nbgrader", {})
            assert meta.get("grade") and not meta.get("solution"), cell["source"]
            assert errors[0]["ename"] == "CheckFailed" and "not attempted" in errors[0]["evalue"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_library_shortcuts_score_zero(graded, name):
    """Each shortcut answer scores 0 *because its check caught the shortcut* (a CheckFailed
    saying "use your own arithmetic", not a NameError or any other failure), and every shortcut
    of the notebook survived the cut to the small assignment."""
    grades, root = graded
    full = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    in_full = {f for ex in course.exercises_in(full) if not ex.markdown
               for f in ex.functions if f in SHORTCUTS}
    nb = nbformat.read(root / "source" / ASSIGNMENT / name, as_version=4)
    shortcut_checks, in_small = set(), set()
    for ex in course.exercises_in(nb):
        if not ex.markdown and any(f in SHORTCUTS for f in ex.functions):
            shortcut_checks.add(nb.cells[ex.check_cell].metadata["nbgrader"]["grade_id"])
            in_small |= {f for f in ex.functions if f in SHORTCUTS}
    assert in_full, "each notebook has an exercise with a library shortcut"
    assert in_small == in_full, f"shortcuts lost in the small assignment: {in_full - in_small}"
    for gid, g in autograded(grades["shortcut"][name]).items():
        if gid in shortcut_checks:
            assert g["auto"] == 0, (gid, g)
        else:                                        # honest answers still get their marks
            assert g["auto"] == g["max"], (gid, g)
    out = json.loads((root / "autograded" / "shortcut" / ASSIGNMENT / name).read_text())
    for gid in shortcut_checks:
        cell = next(c for c in out["cells"]
                    if c["metadata"].get("nbgrader", {}).get("grade_id") == gid)
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert errors, (gid, cell.get("outputs"))
        assert errors[0]["ename"] == "CheckFailed", (gid, errors[0]["ename"], errors[0]["evalue"])
        assert "use your own arithmetic" in errors[0]["evalue"], (gid, errors[0]["evalue"])
