"""`python tools/course.py colab`: "Open in Colab" badges and a Colab-only install cell,
switched on once the public repository is known. Always run on a copy of the course in tmp_path:
the repository's own README and notebooks stay without badges until then."""
from __future__ import annotations

import difflib
import re
import runpy
import shutil
import subprocess
import sys
import types
import warnings
from pathlib import Path

import nbformat
import pytest

import test_notebooks                      # its shape test, run on a tree with the Colab cell

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import course  # noqa: E402 — tools/course.py

ROOT = Path(__file__).resolve().parents[1]
NAMES = [p.stem for p in sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))]
REPO, BRANCH = "octo-cat/super.conv", "main"
SVG = "https://colab.research.google.com/assets/colab-badge.svg"


def badge(repo: str, branch: str, path: str) -> str:
    return (f"[![Open In Colab]({SVG})](https://colab.research.google.com/github/{repo}/blob/"
            f"{branch}/{path})")


def install_cell(repo: str, branch: str) -> str:
    return ("# Colab only: install the course library from GitHub (does nothing elsewhere)\n"
            "import subprocess, sys\n"
            'if "google.colab" in sys.modules:\n'
            '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",\n'
            f'                    "superconv @ git+https://github.com/{repo}@{branch}"], '
            "check=True)")


def copy_course(dest: Path) -> Path:
    """The parts of the course the command reads and writes: README, notebook sources, builder."""
    shutil.copy(ROOT / "README.md", dest / "README.md")
    shutil.copy(ROOT / "START_HERE.ipynb", dest / "START_HERE.ipynb")
    (dest / "notebooks" / "src").mkdir(parents=True)
    for name in NAMES:
        shutil.copy(ROOT / "notebooks" / "src" / f"{name}.py", dest / "notebooks" / "src")
    (dest / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "build_notebooks.py", dest / "tools")
    shutil.copy(ROOT / "tools" / "course.py", dest / "tools")
    return dest


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def badges_in(text: str) -> list[str]:
    return re.findall(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", text)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A copy of the course before and after `course colab --repo octo-cat/super.conv`."""
    root = copy_course(tmp_path_factory.mktemp("course"))
    before = {n: (root / "notebooks" / "src" / f"{n}.py").read_text() for n in NAMES}
    readme = (root / "README.md").read_text()
    builder = course._builder(root)
    plain = {n: builder.build(root / "notebooks" / "src" / f"{n}.py") for n in NAMES}
    assert course.main(["colab", "--repo", f"https://github.com/{REPO}.git",
                        "--root", str(root)]) == 0
    return types.SimpleNamespace(root=root, before=before, readme=readme, plain=plain,
                                 builder=builder)


# ------------------------------------------------------------------------------ the notebooks

@pytest.mark.parametrize("name", NAMES)
def test_notebook_and_exercise_copy_get_their_badge_and_the_install_cell(tree, name):
    for folder, file in (("notebooks", f"{name}.ipynb"), ("exercises", f"{name}_exercises.ipynb")):
        nb = nbformat.read(tree.root / folder / file, as_version=4)
        header = nb.cells[0].source
        title = tree.plain[name].cells[0].source.split("\n")[0]
        assert header.split("\n")[:3] == [title, badge(REPO, BRANCH, f"{folder}/{file}"),
                                          ""], "badge right below the title, then a blank line"
        assert badges_in(nbformat.writes(nb)) == [badge(REPO, BRANCH, f"{folder}/{file}")]
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code[0].source == install_cell(REPO, BRANCH) and code[0].metadata.tags == ["colab"]
        assert sum("google.colab" in c.source for c in nb.cells) == 1
        plain_code = [c for c in tree.plain[name].cells if c.cell_type == "code"]
        assert code[1].source == plain_code[0].source, "install cell right before the setup cell"
    # the solution notebook differs from the one without Colab by the badge and the cell only
    nb = nbformat.read(tree.root / "notebooks" / f"{name}.ipynb", as_version=4)
    assert [c.source for c in nb.cells if "google.colab" not in c.source][1:] == \
        [c.source for c in tree.plain[name].cells][1:]
    assert nb.cells[0].source.replace(badge(REPO, BRANCH, f"notebooks/{name}.ipynb") + "\n\n",
                                      "") == tree.plain[name].cells[0].source


@pytest.mark.parametrize("name", NAMES)
def test_source_only_gains_the_badge_and_the_cell(tree, name):
    after = (tree.root / "notebooks" / "src" / f"{name}.py").read_text()
    diff = list(difflib.ndiff(tree.before[name].split("\n"), after.split("\n")))
    assert [d for d in diff if d.startswith("- ")] == []
    added = [d[2:] for d in diff if d.startswith("+ ")]
    assert added == ["# " + badge(REPO, BRANCH, f"notebooks/{name}.ipynb"), "#", "",
                     '# %% tags=["colab"]', *install_cell(REPO, BRANCH).split("\n")]


def test_tree_keeps_the_course_shape(tree):
    """What the repository's tests demand of notebooks still holds with the Colab cell: the shape
    test, the exercise conventions, current exercise copies and notebooks."""
    for name in NAMES:
        path = tree.root / "notebooks" / f"{name}.ipynb"
        test_notebooks.test_notebook_shape(path)
        assert course.lint(nbformat.read(path, as_version=4)) == []
    assert course.check_exercises(tree.root / "notebooks", tree.root / "exercises") == []
    assert tree.builder.main(["--check"]) == 0     # the copy's builder: its ROOT is tree.root


def test_install_cell_installs_only_in_colab(tree, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append((a, k)))
    nb = nbformat.read(tree.root / "exercises" / f"{NAMES[0]}_exercises.ipynb", as_version=4)
    cell = next(c.source for c in nb.cells if "colab" in c.metadata.get("tags", []))
    exec(cell, {})
    assert calls == []                                               # not in Colab: nothing
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(cell, {})
    assert calls == [(([sys.executable, "-m", "pip", "install", "-q",
                        f"superconv @ git+https://github.com/{REPO}@{BRANCH}"],),
                      {"check": True})]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^name = "superconv"$', pyproject, re.M), "the distribution pip installs"


# ------------------------------------------------------------------------------------- README

def test_readme_course_map_rows_get_one_badge_each(tree):
    lines = (tree.root / "README.md").read_text().split("\n")
    for name in NAMES:
        row = next(line for line in lines if line.startswith(f"| {name[:2]} |"))
        assert badges_in(row) == [badge(REPO, BRANCH, f"notebooks/{name}.ipynb")]
        assert f"(exercises/{name}_exercises.ipynb) {badges_in(row)[0]} |" in row   # notebook column
    text = (tree.root / "README.md").read_text()
    assert len(badges_in(text)) == len(NAMES)
    assert re.sub(r" \[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", "", text) == tree.readme


# -------------------------------------------------------------------------------- rerunning

def test_rerun_changes_nothing_and_another_repo_replaces_the_links(tmp_path, capsys):
    root = copy_course(tmp_path)
    changed, problems = course.enable_colab(REPO, BRANCH, root)
    assert problems == [] and len(changed) == 3 * len(NAMES) + 1          # src, nb, copy; README
    first = snapshot(root)
    assert course.enable_colab(f"https://github.com/{REPO}", BRANCH, root) == ([], [])
    assert snapshot(root) == first                                         # byte-identical
    assert course.main(["colab", "--repo", "Other-Org/course_2.git", "--branch", "spring/2025",
                        "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "wrote README.md" in out and f"wrote notebooks/src/{NAMES[0]}.py" in out
    assert "github.com/Other-Org/course_2, branch spring/2025" in out
    second = snapshot(root)
    assert second.keys() == first.keys()
    for path, data in second.items():
        text = data.decode()
        assert "octo-cat" not in text, path                                # the old URL is gone
        if path.endswith(".ipynb") and path != "START_HERE.ipynb":      # the start page: none
            folder = path.split("/")[0]
            assert badges_in(text) == [badge("Other-Org/course_2", "spring/2025",
                                             f"{folder}/{Path(path).name}")]
            assert text.count("google.colab") == 1
            assert "git+https://github.com/Other-Org/course_2@spring/2025" in text
    assert len(badges_in(second["README.md"].decode())) == len(NAMES)
    course.enable_colab(REPO, BRANCH, root)
    assert snapshot(root) == first                                         # and back again


def test_bad_source_leaves_everything_untouched(tmp_path):
    root = copy_course(tmp_path)
    src = root / "notebooks" / "src" / f"{NAMES[-1]}.py"
    src.write_text("# %%\nprint('no header')\n")
    before = snapshot(root)
    changed, problems = course.enable_colab(REPO, BRANCH, root)
    assert changed == [] and snapshot(root) == before
    assert problems == [f"notebooks/src/{NAMES[-1]}.py: {NAMES[-1]}.ipynb: the first cell must be "
                        "the Markdown header (title, run time)"]


# ---------------------------------------------------------------------------------- arguments

@pytest.mark.parametrize("given, want", [
    ("octo-cat/super.conv", "octo-cat/super.conv"),
    ("https://github.com/octo-cat/super.conv", "octo-cat/super.conv"),
    ("https://github.com/octo-cat/super.conv.git", "octo-cat/super.conv"),
    ("http://www.github.com/Octo/repo_1/", "Octo/repo_1"),
    (" octo/repo.git ", "octo/repo"),
])
def test_repo_forms_are_normalised(given, want):
    assert course.parse_repo(given) == want


@pytest.mark.parametrize("bad", ["superconv", "octo/cat/dog", "-octo/repo", "octo-/repo",
                                 "oc--to/repo", "octo/re po", "octo/..", "octo/",
                                 "https://gitlab.com/octo/repo", "https://github.com/octo",
                                 "octo_cat/repo", "a" * 40 + "/repo"])
def test_bad_repo_is_refused_with_the_expected_form(bad, capsys, tmp_path):
    with pytest.raises(ValueError, match=r"repo must be the GitHub repository as OWNER/NAME"):
        course.parse_repo(bad)
    assert course.main(["colab", f"--repo={bad}", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == ("error: --repo must be the GitHub repository as OWNER/NAME or "
                   "https://github.com/OWNER/NAME(.git), e.g. octocat/superconv (OWNER: letters, "
                   "digits, single hyphens; NAME: letters, digits, '.', '_', '-'); "
                   f"got {bad!r}\n")


@pytest.mark.parametrize("bad", ["-x", "a..b", "a b", "main/", "feature//x", "x.lock", "v1@{u}"])
def test_bad_branch_is_refused(bad, capsys, tmp_path):
    assert course.main(["colab", "--repo", REPO, f"--branch={bad}", "--root", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: --branch must be a git branch name")


def test_cli_exit_code_and_root_without_sources(tmp_path, monkeypatch, capsys):
    """`python tools/course.py colab` itself (in this process: a fresh interpreter
    would spend seconds importing torch) exits 2 with one line on stderr."""
    monkeypatch.setattr(sys, "argv", ["course", "colab", "--repo", "not a repo"])
    with pytest.raises(SystemExit) as exit_, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # runpy: module already imported
        runpy.run_path(str(ROOT / "tools" / "course.py"), run_name="__main__")
    out = capsys.readouterr()
    assert exit_.value.code == 2 and out.out == ""
    assert out.err.count("\n") == 1 and out.err.startswith("error: --repo must be")
    with pytest.raises(ValueError, match="has no notebook sources"):
        course.enable_colab(REPO, BRANCH, tmp_path)
    assert not any(tmp_path.iterdir())
