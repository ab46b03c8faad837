"""Every notebook as a learner runs it: JupyterLab in Chromium, "Run All Cells", then one click on
the panel's Run. What is on the screen is checked: no error output, no widget that failed to
render, no stray object repr, a progress bar while the panel runs, and a new figure from the
panel that is not blank (its pixels are read, not only its <img> tag). Screenshots land in
test-artifacts/browser/.

The notebooks run two at a time, each in its own tab and kernel (one thread each): about a
minute of quick mode per notebook on 2 CPU cores, so the lot takes a few minutes. The runs happen
once, in ``course_runs``; each notebook's test then reports what its run found."""
from __future__ import annotations

import base64
import difflib
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
AT_ONCE = 2                 # notebooks running at the same time (2 cores, 1 thread per kernel)
RUN_ALL_TIMEOUT = 420       # seconds; quick mode needs about 60-120 on 2 busy cores
PANEL_TIMEOUT = 240
KERNEL_TIMEOUT = 120
# Text in an output that means a widget did not render, or an object leaked into the output.
BROKEN = [
    (re.compile(r"Error displaying widget"), "a widget failed to render"),
    (re.compile(r"\b(?:HBox|VBox|Box|Output|Button|HTML|IntProgress|FloatProgress|Dropdown|"
                r"IntSlider|FloatSlider|FloatLogSlider|FloatRangeSlider|ToggleButtons|Checkbox)"
                r"\((?:children|value|layout|outputs|description|options)="),
     "a widget shown as its text repr (the widget manager is missing)"),
    (re.compile(r"<[\w.]+ (?:object )?at 0x[0-9a-fA-F]+>"), "an object's repr printed"),
    (re.compile(r"Traceback \(most recent call last\)"), "a traceback"),
]
# README's "For contributors": nbstripout as git's clean filter, with these extra keys.
NBSTRIPOUT = [sys.executable, "-m", "nbstripout", "--extra-keys", "metadata.language_info"]
PANEL = ".superconv-panel"
RUN_BUTTON = f"{PANEL} button.superconv-run"


# ------------------------------------------------------------------------------- the screen

def _prompts(page) -> list[str]:
    return page.eval_on_selector_all(".jp-Notebook .jp-CodeCell .jp-InputPrompt",
                                     "els => els.map(e => e.textContent.trim())")


def _status(page) -> str:
    found = page.eval_on_selector_all(".jp-Notebook-ExecutionIndicator",
                                      "els => els.map(e => e.dataset.status || '')")
    return found[0] if found else ""


def output_texts(page, root: str = ".jp-Notebook") -> list[str]:
    return page.eval_on_selector_all(f"{root} .jp-OutputArea-output",
                                     "els => els.map(e => e.innerText)")


def broken_outputs(texts: list[str]) -> list[str]:
    found = []
    for text in texts:
        for pattern, what in BROKEN:
            m = pattern.search(text)
            if m:
                found.append(f"{what}: {text[max(0, m.start() - 300):m.end() + 300]!r}")
    return found


def panel_images(page) -> list[str]:
    return page.eval_on_selector_all(f"{PANEL} .superconv-result img",
                                     "els => els.map(e => e.src)")


def image_stats(src: str) -> dict:
    """Ink in a PNG data URL: the fraction of clearly non-white pixels, overall and in the
    middle of the image (where a plot's data is), and the grey-level spread. A transparent
    pixel counts as white, as the page shows it."""
    from PIL import Image
    if not src.startswith("data:image/png;base64,"):
        return {"src": src[:60], "ink": 0.0, "ink_mid": 0.0, "std": 0.0}
    img = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGBA")
    white = Image.new("RGBA", img.size, "white")
    a = np.asarray(Image.alpha_composite(white, img).convert("L"), dtype=float)
    h, w = a.shape
    mid = a[h // 5: h - h // 5, w // 5: w - w // 5]
    return {"size": (w, h), "ink": round(float((a < 200).mean()), 4),
            "ink_mid": round(float((mid < 200).mean()), 4), "std": round(float(a.std()), 1)}


def not_blank(stats: dict) -> bool:
    """A plot, not an empty canvas with at most a title: axes, ticks, labels and curves put
    ink on a few percent of the pixels, also in the middle."""
    return stats["ink"] > 0.02 and stats["ink_mid"] > 0.01 and stats["std"] > 15


# ------------------------------------------------------------------------ one notebook's run

class NotebookRun:
    """A notebook going through open → Run All → checks → panel Run → done, one step per
    ``poll()`` so that several can run side by side. ``problems`` collects what went wrong."""

    def __init__(self, name: str, lab, browser, artifacts: Path):
        self.name, self.lab, self.artifacts = name, lab, artifacts
        self.rel, self.stem = f"notebooks/{name}", name.removesuffix(".ipynb")
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.problems: list[str] = []
        self.times: dict[str, float] = {}
        self.notes: list[str] = []
        self.phase, self.since = "kernel", time.monotonic()
        self.started = self.quiet = 0.0
        self.original = (lab.root / self.rel).read_text(encoding="utf-8")
        self.page.goto(lab.tree(self.rel))

    @property
    def done(self) -> bool:
        return self.phase == "done"

    def fail(self, what: str) -> None:
        self.problems.append(what)
        self.shot("failed")
        self.finish()

    def shot(self, what: str) -> None:
        try:
            self.page.screenshot(path=str(self.artifacts / f"{self.stem}-{what}.png"))
        except Exception:   # a closed page: the problems say why
            pass

    def finish(self) -> None:
        self.phase = "done"
        self.context.close()

    def poll(self) -> None:
        try:
            getattr(self, f"_{self.phase}")()
        except Exception as e:            # a step that raised: this notebook failed
            self.fail(f"{self.phase}: {type(e).__name__}: {e}")

    def _timeout(self, limit: float) -> bool:
        if time.monotonic() - self.since > limit:
            self.fail(f"{self.phase}: nothing happened in {limit:.0f} s; prompts "
                      f"{_prompts(self.page)}")
            return True
        return False

    def _next(self, phase: str) -> None:
        self.times[self.phase] = round(time.monotonic() - self.since, 1)
        self.phase, self.since = phase, time.monotonic()

    def _kernel(self) -> None:
        """Wait until the kernel has started and is idle (a Run All before that would ask which
        kernel to start), then Run > Run All Cells."""
        sessions = [s for s in self.lab.api("sessions")
                    if s["path"] == self.rel and s.get("kernel")]
        if not (sessions and sessions[0]["kernel"]["execution_state"] == "idle"
                and _status(self.page) == "idle"):
            self._timeout(KERNEL_TIMEOUT)
            return
        self.page.get_by_role("menuitem", name="Run", exact=True).click()
        self.page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        self._next("run_all")

    def _run_all(self) -> None:
        """Done when no cell is queued and the kernel has been idle for 3 s."""
        prompts, status = _prompts(self.page), _status(self.page)
        busy = status != "idle" or any("*" in p for p in prompts)
        self.started = self.started or busy or any(re.search(r"\d", p) for p in prompts)
        now = time.monotonic()
        if busy or not self.started:
            self.quiet = now
            self._timeout(RUN_ALL_TIMEOUT)
            return
        if now - self.quiet < 3:
            return
        self.shot("1-run-all")
        saved = self.lab.save_and_read(self.page, self.rel)
        errors = [f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
                  for i, c in enumerate(saved["cells"]) if c["cell_type"] == "code"
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            return self.fail(f"Run All: error output {errors}")
        if not all(re.search(r"\[\d+\]", p) for p in prompts):
            return self.fail(f"Run All: cells did not run: {prompts}")
        # what git sees with README's nbstripout filter: the notebook as committed
        stripped = subprocess.run(NBSTRIPOUT, input=(self.lab.root / self.rel).read_text(),
                                  capture_output=True, text=True, encoding="utf-8")
        if stripped.stdout != self.original:
            return self.fail("a notebook run and saved in JupyterLab, cleaned by nbstripout, "
                             "differs from the committed one: " + "".join(difflib.unified_diff(
                                 self.original.splitlines(True), stripped.stdout.splitlines(True),
                                 n=1))[:1500] + stripped.stderr)
        found = broken_outputs(output_texts(self.page))
        if found:
            return self.fail("Run All:\n" + "\n".join(found))
        # the panel: one Run with its defaults
        self.before = set(panel_images(self.page))
        button = self.page.locator(RUN_BUTTON).first
        button.scroll_into_view_if_needed()
        button.click()
        self.progress_seen = False
        self._next("panel")

    def _panel(self) -> None:
        page = self.page
        bar = page.eval_on_selector_all(f"{PANEL} .superconv-progress",
                                        "els => els.map(e => getComputedStyle(e).visibility)")
        note = " ".join(page.eval_on_selector_all(f"{PANEL} .superconv-note",
                                                  "els => els.map(e => e.innerText)"))
        # fit reports "label: k/N iterations" to the bar while it trains
        self.progress_seen = self.progress_seen or ("visible" in bar and "iterations" in note)
        running = page.eval_on_selector(RUN_BUTTON, "b => b.disabled || "
                                                    "b.textContent.includes('Running')")
        if running or time.monotonic() - self.since < 2:
            self._timeout(PANEL_TIMEOUT)
            return
        page.wait_for_timeout(1000)          # the last outputs arrive after the button resets
        page.locator(PANEL).first.screenshot(path=str(self.artifacts / f"{self.stem}-2-panel.png"))
        texts = output_texts(page, f"{PANEL} .superconv-result")
        status = page.eval_on_selector_all(f"{PANEL} .superconv-status",
                                           "els => els.map(e => e.innerText)")
        found = broken_outputs(texts)
        if found:
            return self.fail("the panel's Run:\n" + "\n".join(found))
        new = [src for src in panel_images(page) if src not in self.before]
        if not new:
            return self.fail(f"no new image after the panel's Run; it showed {status} {texts}")
        stats = [image_stats(src) for src in new]
        if not all(not_blank(s) for s in stats):
            return self.fail(f"a blank figure after the panel's Run: {stats}")
        # a short run can finish between two looks: the final note keeps what the bar counted
        final = " ".join(page.eval_on_selector_all(f"{PANEL} .superconv-note",
                                                   "els => els.map(e => e.innerText)"))
        if not (self.progress_seen or "iterations" in final):
            return self.fail("no progress bar counting iterations while the panel ran")
        self.notes.append(f"panel figures {stats}")
        self._next("done")
        self.finish()


@pytest.fixture(scope="session")
def course_runs(request, lab, browser, artifacts) -> dict[str, NotebookRun]:
    """The run of every notebook whose test was selected, ``AT_ONCE`` at a time."""
    chosen = {item.callspec.params["name"] for item in request.session.items
              if getattr(item, "originalname", "") == "test_notebook_in_the_browser"}
    waiting, running, finished = [n for n in NOTEBOOKS if n in chosen], [], {}
    start = time.monotonic()
    while waiting or running:
        while waiting and len(running) < AT_ONCE:
            running.append(NotebookRun(waiting.pop(0), lab, browser, artifacts))
        for run in running:
            run.poll()
        for run in [r for r in running if r.done]:
            running.remove(run)
            finished[run.name] = run
            print(f"{run.name}: {run.times} {run.notes} {run.problems or 'ok'}", flush=True)
        time.sleep(0.5)
    print(f"all notebooks: {time.monotonic() - start:.0f} s", flush=True)
    return finished


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_in_the_browser(name, course_runs):
    run = course_runs[name]
    assert not run.problems, "\n".join(run.problems)


def test_start_page_links_open_the_exercise_copies(lab, page, artifacts):
    """JupyterLab starts on START_HERE.ipynb at the repository root: its links open the lessons'
    exercise copies, in tabs whose names say so."""
    page.goto(lab.tree("START_HERE.ipynb"))
    link = page.locator(".jp-RenderedMarkdown a", has_text="01_lr_range_test_exercises.ipynb")
    link.first.click()
    tab = page.locator(".lm-TabBar-tab", has_text="01_lr_range_test_exercises.ipynb")
    tab.first.wait_for(timeout=30_000)
    page.locator(".jp-RenderedMarkdown strong:visible", has_text="Exercise copy").first.wait_for(
        timeout=60_000)
    page.screenshot(path=str(artifacts / "start-page-exercise-link.png"))
    assert page.locator(".lm-TabBar-tab", has_text="START_HERE.ipynb").count() == 1
