"""Grading through a real nbgrader (issue 15): the course's nbgrader source goes through
`nbgrader generate_assignment` and `nbgrader autograde` as a teacher runs them.

The assignment is made of the self-contained exercises of notebooks 02-07 (their setup cell, the
exercise and self-check cells whose checks need only the learner's function, and the written
answers with their questions), so nothing trains and the round trip takes about two minutes in
quick mode (18 notebook runs, each mostly torch's import). Notebook 01 is left out: its two code
exercises read a range test that the notebook trains, so only its setup and a written answer
would remain, which the other notebooks already cover. Three submissions:

- the solutions: full marks on every autograded cell;
- the released copy, untouched: zero on every autograded cell, and no cell fails but the graded
  checks;
- answers that call the library function they should re-implement (`schedules.clr`,
  `schedules.one_cycle`, `Indicator.from_points`, `hessian.estimate`, `sweep.schedule_of`,
  `schedules.piecewise`, ...): zero on those cells, because their check caught the shortcut, and
  full marks on the honest ones. Every self-contained exercise whose check switches a library
  function off has such an answer.

Written answers are manually graded cells worth their rubric's points, released as
"YOUR ANSWER HERE".
"""
from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import nbformat
import pytest

from superconv_lib import checks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import course  # noqa: E402

nbgrader_api = pytest.importorskip("nbgrader.api", reason="nbgrader is in requirements.txt")

NOTEBOOKS = ("02_cyclical_lr.ipynb", "03_one_cycle.ipynb", "04_super_convergence_indicator.ipynb",
             "05_hessian_free_lr.ipynb", "06_reproduce_grids.ipynb",
             "07_disciplined_approach.ipynb")
ASSIGNMENT = "superconv"
CELL_TIMEOUT = 300           # seconds per cell; quick mode needs a few
# What a learner who takes the shortcut writes in place of the solution: the library function the
# exercise re-implements (one the exercise's check switches off), with the notebook's imports.
SHORTCUTS = {
    # 02
    "my_triangular": "return schedules.clr(base_lr, max_lr, step_size)(step)",
    # 03: a run of total_steps + 1 iterations with the check's defaults
    "my_one_cycle": "return schedules.one_cycle(total_steps + 1, max_lr)(step)",
    # 04: the indicator's own reading of the curve (a linear sweep 0 -> 3)
    "my_verdict": "return Indicator.from_points(lrs, acc, max_lr=3.0).super_converges",
    "my_bounds": "return Indicator(lrs, acc, max_lr=3.0).bounds",
    # 05
    "my_estimate": "return hessian.estimate(theta0, theta1, theta2, lr)",
    "my_wd_estimate": "t = hessian.quadratic_trajectory(a, 1.0, 0.1, steps=3, "
                      "weight_decay=weight_decay)\nreturn hessian.estimate(t[1], t[2], t[3], 0.1)",
    "my_gap_estimate": "t = hessian.quadratic_trajectory(a, 1.0, lr, steps=2 * gap)\n"
                       "return hessian.estimate(t[0], t[gap], t[2 * gap], lr)",
    # 06: the last iteration of the library's schedule of the config
    "my_final_lr": "return sweep.schedule_of(cfg, 1000)(999)[0]",
    "my_largest_dip": "return checks._largest_dip_ref(acc)",
    # 07: the library's piecewise schedule; the check's own reference for the noise scale
    "my_multistep": "return schedules.piecewise([5 * total_steps // 8, 7 * total_steps // 8], "
                    "[base_lr, base_lr / 10, base_lr / 100])(step)",
    "my_noise_scale": "return checks._noise_ref(lr, batch_size, momentum, n_train)",
}


def _imports(nb) -> str:
    """The import lines of the notebook's setup cell (its first code cell)."""
    setup = next(c for c in nb.cells if c.cell_type == "code")
    return "\n".join(line for line in setup.source.split("\n")
                     if line.startswith(("import ", "from ")))


def _run_check(nb, ex, imports: str) -> tuple | None:
    """Run exercise ``ex``'s solution and self-check with nothing but the notebook's imports:
    None when the check needs more (a NameError: a variable of a cell the small assignment cuts),
    else the library functions its checks switch off while the learner's code runs (the
    ``forbid`` of every check called, recorded at ``checks._without``; empty: none)."""
    ns: dict = {}
    exec(imports, ns)
    exec(nb.cells[ex.cell].source, ns)
    forbidden: list = []
    switch_off = checks._without

    def recording(*functions):
        forbidden.extend(functions)
        return switch_off(*functions)
    try:
        with contextlib.redirect_stdout(io.StringIO()), checks.strict(False), \
                mock.patch.object(checks, "_without", recording):
            exec(nb.cells[ex.check_cell].source, ns)
    except NameError:
        return None
    return tuple(forbidden)


@functools.cache
def code_exercises(path: Path) -> list[tuple[course.Exercise, tuple | None]]:
    """The code exercises of solution notebook ``path`` with :func:`_run_check`'s answer."""
    nb = nbformat.read(path, as_version=4)
    imports = _imports(nb)
    return [(ex, _run_check(nb, ex, imports)) for ex in course.exercises_in(nb)
            if not ex.markdown]


def small_assignment(path: Path) -> nbformat.NotebookNode:
    """The nbgrader source of solution notebook ``path`` (course.nbgrader_source), cut down to
    its title, setup cell, self-contained exercises and written answers."""
    nb = nbformat.read(path, as_version=4)
    graded = course.nbgrader_source(nb, path.name)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    keep = {0, setup}
    for ex in course.exercises_in(nb):
        if ex.written:
            keep |= {ex.cell - 1, ex.cell}
    for ex, forbidden in code_exercises(path):
        if forbidden is not None:                    # standalone: its check runs as it is
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
    """The solution cell ``source`` with the solution of each function in SHORTCUTS replaced by
    its shortcut; the cell's other functions keep their solutions (honest answers)."""
    lines, out, fn, k = source.split("\n"), [], None, 0
    while k < len(lines):
        line = lines[k]
        if m := re.match(r"def (\w+)\(", line):
            fn = m[1]
        if line.strip() == course.BEGIN_SOLUTION and fn in SHORTCUTS:
            indent = line[:len(line) - len(line.lstrip())]
            out += [indent + body for body in SHORTCUTS[fn].split("\n")]
            k = next(j for j in range(k, len(lines)) if lines[j].strip() == course.END_SOLUTION)
            k, fn = k + 1, None
            continue
        out.append(line)
        k += 1
    return "\n".join(out)


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
                    # the shortcuts, and honest answers where there is none
                    cell.source = with_shortcuts(answers[meta["grade_id"]].source)
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
    """Every standalone code exercise of the notebook is autograded by its self-check, and every
    written answer of the notebook is a manually graded cell worth its rubric's points."""
    grades, root = graded
    g = grades["solved"][name]
    standalone = [ex for ex, forbidden in code_exercises(ROOT / "notebooks" / name)
                  if forbidden is not None]
    assert standalone and len(autograded(g)) == len(standalone), (g, standalone)
    written = {gid: v for gid, v in g.items() if gid.endswith("-written")}
    full = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    assert len(written) == sum(ex.written for ex in course.exercises_in(full)) > 0, written
    assert all(v["type"] == "markdown" and v["max"] >= 1 for v in written.values())
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
    saying "use your own arithmetic", not a NameError or any other failure). Every standalone
    exercise of the notebook whose check switches library functions off has a shortcut (there is
    at least one per notebook), every shortcut of the notebook is one of those (a shortcut of an
    exercise the small assignment cuts would go untested), and all of them survive the cut."""
    grades, root = graded
    guarded = [ex.functions for ex, forbidden in code_exercises(ROOT / "notebooks" / name)
               if forbidden]                     # None: not standalone; (): nothing switched off
    assert guarded, "each notebook has a standalone exercise whose check switches a library " \
                    "function off"
    for functions in guarded:
        assert any(f in SHORTCUTS for f in functions), f"no shortcut answer for {functions}"
    in_full = {f for ex, _ in code_exercises(ROOT / "notebooks" / name)
               for f in ex.functions if f in SHORTCUTS}
    assert in_full == {f for functions in guarded for f in functions if f in SHORTCUTS}, \
        "a shortcut of an exercise that is not standalone or whose check forbids nothing"
    nb = nbformat.read(root / "source" / ASSIGNMENT / name, as_version=4)
    shortcut_checks, in_small = set(), set()
    for ex in course.exercises_in(nb):
        if not ex.markdown and any(f in SHORTCUTS for f in ex.functions):
            shortcut_checks.add(nb.cells[ex.check_cell].metadata["nbgrader"]["grade_id"])
            in_small |= {f for f in ex.functions if f in SHORTCUTS}
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


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_shortcuts_are_right_answers(name):
    """Each shortcut answer passes its check when nothing is switched off (in this process, no
    nbgrader): it scores 0 above only because the check switched the library function off."""
    path = ROOT / "notebooks" / name
    nb = nbformat.read(path, as_version=4)
    tried = 0
    for ex, forbidden in code_exercises(path):
        if not forbidden or not any(f in SHORTCUTS for f in ex.functions):
            continue
        ns: dict = {}
        exec(_imports(nb), ns)
        exec(with_shortcuts(nb.cells[ex.cell].source), ns)
        with contextlib.redirect_stdout(io.StringIO()), checks.strict(True), \
                mock.patch.object(checks, "_without", lambda *_: contextlib.nullcontext()):
            exec(nb.cells[ex.check_cell].source, ns)        # raises CheckFailed unless it passes
        tried += 1
    assert tried, name
