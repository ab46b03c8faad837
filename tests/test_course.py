"""Exercise copies: no solution code, stubs where the solutions were, self-checks that fail as
written and pass on the solutions, byte-identical on every run; the repository's copies current."""
from __future__ import annotations

import ast
import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from superconv_lib import checks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import course  # noqa: E402 — tools/course.py: the course's tooling, not part of the package
SECRET = "SOLUTION-ONLY"

TRIANGULAR = '''\
def my_triangular(step, base_lr, max_lr, step_size):
    """Triangular CLR: the lr at iteration `step`."""
    ### BEGIN SOLUTION
    tag = "SOLUTION-ONLY"
    pos = step % (2 * step_size)
    return base_lr + (max_lr - base_lr) * (1 - abs(pos - step_size) / step_size)
    ### END SOLUTION'''

ESTIMATE = '''\
def my_estimate(theta0, theta1, theta2, lr):
    ### BEGIN SOLUTION
    num = (theta1 - theta0).abs().sum()  # SOLUTION-ONLY
    return lr * num / (2 * theta1 - theta0 - theta2).abs().sum()
    ### END SOLUTION'''

CHECK_WITH_HIDDEN = '''\
checks.triangular(my_triangular)
### BEGIN HIDDEN TESTS
assert checks.triangular(my_triangular)  # HIDDEN-ONLY
### END HIDDEN TESTS'''


def demo_notebook() -> nbformat.NotebookNode:
    """A solution notebook in the course's shape, with two exercises and a written answer."""
    v4 = nbformat.v4
    cells = [
        v4.new_markdown_cell("# 01 · Demo\nquick mode on CPU, full on GPU"),
        v4.new_code_cell("from superconv_lib import checks, schedules"),
        v4.new_code_cell("x = 6 * 7\nx", execution_count=3,
                         outputs=[v4.new_output("execute_result", {"text/plain": "42"},
                                                execution_count=3)]),
        v4.new_markdown_cell("## Exercises\n1. Write the triangular policy."),
        v4.new_code_cell(TRIANGULAR),
        v4.new_code_cell(CHECK_WITH_HIDDEN),
        v4.new_code_cell(ESTIMATE),
        v4.new_code_cell("checks.hessian_estimate(my_estimate)"),
        v4.new_markdown_cell("Why does 1cycle end with annealing?\n\n### BEGIN SOLUTION\n"
                             "SOLUTION-ONLY: to settle into a minimum.\n### END SOLUTION"),
        v4.new_markdown_cell("**Exercise 4 · Predict, then run.** Will a larger batch smooth the "
                             "range test's curve? Predict, then run the cell below."),
        v4.new_markdown_cell("Smoother: the noise shrinks like 1/sqrt(B). SOLUTION-ONLY\n\n"
                             "**Rubric (2 points):** 1 point for smoother; 1 point for the "
                             "reason.", metadata={"tags": [course.WRITTEN_TAG]}),
        v4.new_code_cell("print('the experiment')"),
    ]
    nb = v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3",
                                                               "display_name": "Python 3",
                                                               "language": "python"}})
    for i, c in enumerate(nb.cells):
        c.id = f"01-{i:03d}"
    return nb


@pytest.fixture
def folders(tmp_path):
    src, out = tmp_path / "notebooks", tmp_path / "exercises"
    src.mkdir()
    nbformat.write(demo_notebook(), src / "01_demo.ipynb")
    return src, out


def run_cells(nb, *, strict: bool) -> str:
    """Execute a notebook's code cells in order in one namespace; return what they printed."""
    ns: dict = {}
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), checks.strict(strict):
        for cell in nb.cells:
            if cell.cell_type == "code":
                exec(compile(cell.source, "<cell>", "exec"), ns)
    return buf.getvalue()


# ------------------------------------------------------------------------------- the copies

def test_student_copy_has_stubs_and_no_solutions(folders):
    src, out = folders
    written, problems = course.write_exercises(src, out)
    assert problems == [] and written == [out / "01_demo_exercises.ipynb"]   # its own tab name
    text = written[0].read_text()
    assert SECRET not in text and "HIDDEN-ONLY" not in text and "schedules.clr" not in text
    nb = nbformat.read(written[0], as_version=4)
    assert [c.id for c in nb.cells] == [str(i) for i in range(len(nb.cells))]   # as nbstripout
    by_id = {c.id: c for c in nb.cells}                # the note cell moved the rest down by one
    assert by_id["5"].source.endswith(
        '    """Triangular CLR: the lr at iteration `step`."""\n'
        "    # YOUR CODE HERE\n    raise NotImplementedError()")            # indented like BEGIN
    assert by_id["6"].source == "checks.triangular(my_triangular)"        # hidden tests gone
    assert by_id["9"].source.endswith("\n\nYOUR ANSWER HERE")               # Markdown stub
    assert by_id["11"].source == "YOUR ANSWER HERE"                       # the written answer
    assert by_id["11"].metadata.tags == [course.WRITTEN_TAG]
    assert "Rubric" not in text                                           # the teacher's only
    assert nb.cells[0].source.startswith("# 01 · Demo")                    # title stays first
    assert "Exercise copy" in nb.cells[1].source and "4 exercises" in nb.cells[1].source
    assert all(c.outputs == [] and c.execution_count is None
               for c in nb.cells if c.cell_type == "code")
    assert len(nb.cells) == len(demo_notebook().cells) + 1
    for c in nb.cells:                                                     # still valid Python
        if c.cell_type == "code":
            ast.parse(c.source)


def test_solutions_pass_and_exercise_copies_fail_their_checks(folders):
    src, out = folders
    course.write_exercises(src, out)
    solution = nbformat.read(src / "01_demo.ipynb", as_version=4)
    printed = run_cells(solution, strict=True)          # strict: a failing check would raise
    assert printed.count("✅") == 3                      # two checks, one hidden re-check
    student = nbformat.read(out / "01_demo_exercises.ipynb", as_version=4)
    printed = run_cells(student, strict=False)          # a learner's "Run All" goes through
    assert printed.count("not attempted yet") == 2 and "✅" not in printed
    with pytest.raises(checks.CheckFailed, match="not attempted"):
        run_cells(student, strict=True)                 # a grader's run fails


def test_filled_in_exercise_copy_passes(folders):
    """What a learner does: replace the stub with code, run the check, see it pass."""
    src, out = folders
    course.write_exercises(src, out)
    student = nbformat.read(out / "01_demo_exercises.ipynb", as_version=4)
    for cell in student.cells:
        cell.source = cell.source.replace(
            "raise NotImplementedError()",
            "return base_lr + (max_lr - base_lr) * (1 - abs(step % (2 * step_size + 2) - "
            "step_size - 1) / (step_size + 1))"
            if "my_triangular(" in cell.source and "def " in cell.source
            else "return lr * (theta1 - theta0).abs().sum() / (2 * theta1 - theta0 - "
                 "theta2).abs().sum()")
    student.cells.insert(0, nbformat.v4.new_code_cell("from superconv_lib import hessian"))
    printed = run_cells(student, strict=False)
    assert "❌ Triangular CLR" in printed and "Hint:" in printed      # off-by-one stepsize
    assert "✅ Hessian-free" in printed


def test_generation_is_idempotent_and_deterministic(folders):
    src, out = folders
    course.write_exercises(src, out)
    first = (out / "01_demo_exercises.ipynb").read_bytes()
    assert course.write_exercises(src, out) == ([], [])                 # nothing to rewrite
    (out / "01_demo_exercises.ipynb").unlink()
    cli = subprocess.run([sys.executable, str(ROOT / "tools" / "course.py"), "exercises",
                          "--notebooks", str(src), "--out", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    assert cli.returncode == 0, cli.stderr
    assert (out / "01_demo_exercises.ipynb").read_bytes() == first     # same bytes, fresh run
    assert first.endswith(b"}\n") and b'"outputs": []' in first


def test_check_reports_stale_missing_and_orphaned_copies(folders, capsys):
    src, out = folders
    assert course.check_exercises(src, out) == [
        f"01_demo.ipynb: no exercise copy 01_demo_exercises.ipynb in {out}/"]
    course.write_exercises(src, out)
    assert course.check_exercises(src, out) == []
    nb = nbformat.read(src / "01_demo.ipynb", as_version=4)
    nb.cells[3].source += "\n2. One more."
    nbformat.write(nb, src / "01_demo.ipynb")
    (out / "07_gone.ipynb").write_text("{}")
    problems = course.check_exercises(src, out)
    assert any("stale" in p for p in problems) and any("07_gone" in p for p in problems)
    assert course.main(["check", "--notebooks", str(src), "--out", str(out)]) == 1
    assert "stale" in capsys.readouterr().err


def test_copies_link_copies_and_a_learners_run_does_not_make_them_stale(folders):
    """Links between lessons lead from one exercise copy to the next; the note links the
    solution notebook. Outputs and metadata that JupyterLab saves into either notebook (a
    learner ran it) are not a change: `check` still passes."""
    src, out = folders
    nb = nbformat.read(src / "01_demo.ipynb", as_version=4)
    nb.cells[0].source += ("\n\n← [course map](../README.md) · next: [02 · CLR](02_cyclical_lr.ipynb)"
                           " · [its copy](02_cyclical_lr_exercises.ipynb)")
    nbformat.write(nb, src / "01_demo.ipynb")
    course.write_exercises(src, out)
    copy = nbformat.read(out / "01_demo_exercises.ipynb", as_version=4)
    assert copy.cells[0].source.endswith(
        "← [course map](../README.md) · next: [02 · CLR](02_cyclical_lr_exercises.ipynb) · "
        "[its copy](02_cyclical_lr_exercises.ipynb)")
    assert "[notebooks/01_demo.ipynb](../notebooks/01_demo.ipynb)" in copy.cells[1].source
    for path in (src / "01_demo.ipynb", out / "01_demo_exercises.ipynb"):
        ran = nbformat.read(path, as_version=4)
        ran.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
        for i, cell in enumerate(ran.cells):
            if cell.cell_type == "code":
                cell.execution_count = i
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
                cell.metadata["scrolled"] = True
        nbformat.write(ran, path)
    assert course.check_exercises(src, out) == []
    assert course.write_exercises(src, out) == ([], [])          # and nothing is rewritten


def test_verify_executes_solutions_strictly_and_probes_the_stubs(folders):
    """`course verify` in a real kernel: the solution passes in strict mode, each stubbed
    exercise reports "not attempted"; a wrong solution is reported with its hint."""
    src, _ = folders
    assert course.verify(src / "01_demo.ipynb", timeout=120) == []
    nb = nbformat.read(src / "01_demo.ipynb", as_version=4)
    nb.cells[4].source = nb.cells[4].source.replace(     # a stepsize off by one
        "    pos = step % (2 * step_size)\n", "    step_size += 1\n    pos = step % (2 * step_size)\n")
    nbformat.write(nb, src / "02_wrong.ipynb")
    problems = course.verify(src / "02_wrong.ipynb", timeout=120)
    assert len(problems) == 1 and "cell 5 raised CheckFailed" in problems[0]
    assert "off-by-one" in problems[0]


# ------------------------------------------------------------------------------- conventions

@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "cannot nest"),
    ("x = 1\n### END SOLUTION", "without a matching BEGIN"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1", "never closed"),
    ("def f():\n    ## BEGIN SOLUTION\n    return 1\n    ## END SOLUTION", "looks like a marker"),
    ("def f():\n    ### BEGIN SOLUTION:\n    return 1\n    ### END SOLUTION",
     "looks like a marker"),
    ("### BEGIN HIDDEN TESTS\nassert True\n### END SOLUTION", "without a matching BEGIN"),
])
def test_bad_markers_are_refused(source, message):
    with pytest.raises(course.MarkerError, match=message):
        course.strip_source(source)


def test_lint_finds_convention_problems(folders):
    src, out = folders
    nb = nbformat.read(src / "01_demo.ipynb", as_version=4)
    assert course.lint(nb) == []
    ex = course.exercises_in(nb)
    assert [(e.cell, e.check_cell, e.functions, e.markdown) for e in ex] == [
        (4, 5, ["my_triangular"], False), (6, 7, ["my_estimate"], False), (8, None, [], True),
        (10, None, [], True)]
    assert ex[3].written and ex[3].points == 2
    nb.cells[7].source = "print('no check here')"                     # exercise without a check
    nb.cells.append(nbformat.v4.new_code_cell("### BEGIN SOLUTION\nanswer = 3\n### END SOLUTION"))
    nb.cells.append(nbformat.v4.new_code_cell("checks.close(answer, 3)"))
    nb.cells.append(nbformat.v4.new_code_cell("def f():\n### BEGIN SOLUTION\n    return 1\n"
                                              "### END SOLUTION"))
    nb.cells.append(nbformat.v4.new_code_cell("checks.close(f, 1)"))
    problems = course.lint(nb)
    assert any("cell 6: exercise without a self-check" in p for p in problems)
    assert any("cell 12: solution region at the top level" in p for p in problems)
    assert any("cell 14" in p and "not valid Python" in p for p in problems)
    nbformat.write(nb, src / "01_demo.ipynb")
    written, problems = course.write_exercises(src, out)
    assert written == [] and problems and not out.exists()             # nothing half-written


def test_nbgrader_source_metadata(folders, monkeypatch):
    src, _ = folders
    nb = course.nbgrader_source(nbformat.read(src / "01_demo.ipynb", as_version=4),
                                "01_demo.ipynb", points=2)
    meta = {i: c.metadata.get("nbgrader") for i, c in enumerate(nb.cells)}
    assert meta[4] == {"grade": False, "solution": True, "locked": False, "grade_id": "ex01-1",
                       "schema_version": 3}
    assert meta[5] == {"grade": True, "solution": False, "locked": True, "points": 2,
                       "grade_id": "ex01-1-check", "schema_version": 3}
    assert meta[8]["grade"] and meta[8]["solution"] and meta[8]["points"] == 2
    assert meta[10] == {"grade": True, "solution": True, "locked": False, "points": 2.0,
                        "grade_id": "ex01-4-written", "schema_version": 3}   # its rubric's N
    assert [i for i, m in meta.items() if m] == [4, 5, 6, 7, 8, 10]
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")
    assert SECRET in nbformat.writes(nb)                                # still the teacher's copy
    # graded runs are strict through a hidden-test region that the released copy drops, so
    # nbgrader releases exactly our exercise copy (checked with nbgrader 0.9.6 by hand)
    assert nb.cells[7].source.startswith(course.BEGIN_HIDDEN + "\nimport os")
    released = course.student_copy(nb, "01_demo.ipynb")
    ours = course.student_copy(demo_notebook(), "01_demo.ipynb")
    assert [c.source for c in released.cells] == [c.source for c in ours.cells]
    # the graded check cell raises on an unfilled answer even without SUPERCONV_STRICT_CHECKS
    monkeypatch.setenv(checks.STRICT_ENV, "0")        # restored after the test
    ns: dict = {}
    exec("from superconv_lib import checks, schedules", ns)
    exec(ours.cells[7].source, ns)                    # the learner's unfilled my_estimate
    with pytest.raises(checks.CheckFailed), contextlib.redirect_stdout(io.StringIO()):
        exec(nb.cells[7].source, ns)


# --------------------------------------------------------------------- the course's notebooks

NOTEBOOKS = sorted((ROOT / "notebooks").glob(course.NOTEBOOK_GLOB))


def test_repository_exercise_copies_are_current():
    """`exercises/` holds exactly the current copies (regenerate: python tools/course.py
    exercises)."""
    assert course.check_exercises(ROOT / "notebooks", ROOT / "exercises") == []


def _imports(nb) -> str:
    """Every top-level import statement of the notebook's code cells."""
    lines = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(course._python(cell.source))
        except SyntaxError:
            continue
        lines += [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return "\n".join(lines)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_course_notebook_exercises(path):
    """2-5 exercises (at most 4 code exercises), each code exercise with a self-check; where a check needs nothing but the learner's
    function (the usual case), run it: the solution passes, the stub is "not attempted".
    Checks that need the notebook's state are covered by nbval (solutions, strict mode) and by
    `python tools/course.py verify`."""
    nb = nbformat.read(path, as_version=4)
    assert course.lint(nb) == []
    exercises = course.exercises_in(nb)
    code = [e for e in exercises if not e.markdown]
    assert 2 <= len(exercises) <= 5 and len(code) <= 4, \
        f"{len(exercises)} exercises, {len(code)} of them code; the course wants 2-5, at most " \
        "4 of them code (the rest predict-then-run written answers)"
    # no line of solution code that appears nowhere else in the notebook reaches the copy
    inside, outside = set(), []
    for cell in nb.cells:
        region = False
        for line in cell.source.split("\n"):
            key = line.strip()
            if key in (course.BEGIN_SOLUTION, course.END_SOLUTION):
                region = key == course.BEGIN_SOLUTION
            elif region and key and not key.startswith("#"):
                inside.add(key)
            else:
                outside.append(key)
    copy_lines = {line.strip() for c in course.student_copy(nb, path.name).cells
                  for line in c.source.split("\n")}
    leaked = sorted((inside - set(outside)) & copy_lines)
    assert not leaked, f"solution code in the exercise copy: {leaked}"
    imports = _imports(nb)
    for ex in (e for e in exercises if not e.markdown):
        check = nb.cells[ex.check_cell].source
        stub, _ = course.strip_source(nb.cells[ex.cell].source)
        for source, passes in ((nb.cells[ex.cell].source, True), (stub, False)):
            ns: dict = {}
            exec(imports, ns)
            exec(source, ns)
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out), checks.strict(True):
                    exec(check, ns)
            except NameError:
                break          # needs the notebook's state: nbval and `course verify` run it
            except checks.CheckFailed as e:
                assert not passes, f"cell {ex.check_cell}: the solution fails its check: {e}"
                assert "not attempted" in str(e), f"cell {ex.check_cell}: {e}"
            else:
                assert passes, f"cell {ex.check_cell}: the exercise copy passes its check"


def test_written_answers_are_linted(folders):
    src, _ = folders
    nb = nbformat.read(src / "01_demo.ipynb", as_version=4)
    nb.cells[10].source = "A model answer without a rubric."
    nb.cells.insert(3, nbformat.v4.new_markdown_cell("orphan", metadata={"tags": [
        course.WRITTEN_TAG]}))
    problems = course.lint(nb)
    assert any("cell 11" in p and "Rubric (N points)" in p for p in problems)
    assert any("cell 3" in p and "follow the Markdown cell that asks" in p for p in problems)
    assert course.written_answer("Answer.\n\n**Rubric (3 points):** a; b; c") == (
        "Answer.", "a; b; c", 3.0)


def test_instructors_tables_come_from_the_notebooks(folders, tmp_path):
    src, _ = folders
    nb = nbformat.read(src / "01_demo.ipynb", as_version=4)
    nb.cells[0].source += ("\n\n**Prerequisites:** [02](02_x.ipynb) and algebra.\n\n"
                           "**Learner time:** ≈ 40 min.\n\n**Run time** (sizes): **quick** ≈ 1 min")
    nb.cells[5].source = "checks.triangular(my_triangular, name='Exercise 1 · triangle')"
    nbformat.write(nb, src / "01_demo.ipynb")
    text = course.instructors_tables(src)
    assert "| 01 | [Demo](../notebooks/01_demo.ipynb) | [02](../notebooks/02_x.ipynb) and " \
           "algebra. | ≈ 40 min. | **quick** ≈ 1 min |" in text
    assert "| 01 | Exercise 1 · triangle | code, autograded | `checks.triangular` | 1 |" in text
    assert "| 01 | Exercise 4 · Predict, then run | written (predict, then run)" in text
    assert "**Model answer.** Smoother" in text and "**Rubric (2 points).** 1 point" in text
    doc = tmp_path / "GUIDE.md"
    doc.write_text(f"# Guide\n\n{course.GENERATED_BEGIN}\nold\n{course.GENERATED_END}\nafter\n")
    assert course.check_instructors(src, doc) != []                       # drift is found
    assert course.write_instructors(src, doc) and course.check_instructors(src, doc) == []
    assert doc.read_text().endswith("after\n") and not course.write_instructors(src, doc)


def test_repository_guide_matches_the_notebooks():
    """docs/INSTRUCTORS.md's tables are generated from the notebooks (regenerate:
    python tools/course.py instructors); any drift fails here."""
    assert course.check_instructors(ROOT / "notebooks", ROOT / "docs" / "INSTRUCTORS.md") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_states_prerequisites_times_and_has_a_graded_written_answer(path):
    """Issue 15: prerequisites and learner time in the header; at least one predict-then-run
    written answer with a rubric; every self-check names its exercise."""
    nb = nbformat.read(path, as_version=4)
    facts = course.header_facts(nb)
    assert facts["prerequisites"] and facts["learner_time"] and facts["run_time"], facts
    exercises = course.exercises_in(nb)
    written = [e for e in exercises if e.written]
    assert written and all(e.points > 0 for e in written)
    for e in written:                   # the experiment follows the answer, in library calls
        after = nb.cells[e.cell + 1]
        assert after.cell_type == "code" and not course._has_solution(after)
    for e in (e for e in exercises if not e.markdown):
        names = course.check_names(nb, e)
        assert names and all(n.startswith("Exercise ") for _, n in names), names


def test_package_does_not_need_the_course_tooling():
    """`pip install .` brings no notebook packages: the library never imports nbformat,
    jupytext, nbgrader or the course tooling."""
    out = subprocess.run([sys.executable, "-c", "import sys, superconv_lib, superconv_lib.checks; "
                          "bad = [m for m in ('nbformat', 'jupytext', 'nbgrader', 'course') "
                          "if m in sys.modules]; print(bad)"],
                         capture_output=True, text=True, cwd=ROOT / "tests")
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr + out.stdout
    assert not (ROOT / "superconv_lib" / "course.py").exists()


# ------------------------------------------------------------------------------------ figures

def test_make_assets_draws_the_schedule_figures(tmp_path):
    """The figures that need no data are drawn from the library into small PNGs; every committed
    figure is one that tools/make_assets.py draws, under 100 KB."""
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "make_assets.py"), "--no-runs",
                          "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "MPLBACKEND": "Agg"})
    assert out.returncode == 0, out.stderr
    drawn = sorted(p.name for p in tmp_path.glob("*.png"))
    assert drawn == ["clr_policies.png", "one_cycle.png", "seed_targets.png"]
    for p in tmp_path.glob("*.png"):
        head = p.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        assert (width, height) == (440, 288) and p.stat().st_size < 100_000
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_assets
    finally:
        sys.path.remove(str(ROOT / "tools"))
    for p in (ROOT / "assets").glob("*.png"):
        assert p.stem in make_assets.FIGURES and p.stat().st_size < 100_000, p.name
