"""What a learner sees: a real JupyterLab driven by a real Chromium (Playwright).

The lab serves a *copy* of the course (the notebooks, the exercise copies, the start page, README,
docs and assets) from a temporary folder, so running notebooks there never writes outputs into
this checkout. It listens on 127.0.0.1 on a free port with a random token, with its own config,
runtime, settings and workspace folders, and its kernels run in quick mode
(``SUPERCONV_QUICK=1``) with the inline matplotlib backend.

The browser is the system Chromium (``/usr/bin/chromium``, or ``SUPERCONV_CHROMIUM``): Playwright's
own browser download is not used. Without it, or without the offline data, the tests are skipped
with the reason; ``.ci/run`` installs Chromium and sets ``SUPERCONV_REQUIRE_BROWSER=1``, so in CI
they run or fail. Screenshots go to
``test-artifacts/browser/`` (git-ignored).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("SUPERCONV_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
# What the lab serves: the course as a learner opens it (never the sources or the library).
COURSE = ["START_HERE.ipynb", "README.md", "notebooks", "exercises", "docs", "assets"]
# JupyterLab settings for a test run: every cell stays in the page (no windowing), so outputs
# of cells scrolled out of view can be read; no news pop-up over the notebook.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _why_not() -> str | None:
    """The reason the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return (f"no Chromium at {CHROMIUM}: install it (Debian: apt-get install -y chromium; "
                ".ci/run does) or set SUPERCONV_CHROMIUM")
    try:
        import playwright.sync_api  # noqa: F401
        import jupyterlab  # noqa: F401
    except ImportError as e:
        return f"{e.name} is not installed: .venv/bin/pip install -r requirements.txt"
    return None


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


class Lab:
    """A running JupyterLab: its address, token and the folder it serves."""

    def __init__(self, url: str, token: str, root: Path, log: Path):
        self.url, self.token, self.root, self.log = url, token, root, log

    def tree(self, path: str) -> str:
        """The address that opens ``path`` (relative to the served folder) in the lab."""
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"

    def api(self, path: str):
        req = urllib.request.Request(f"{self.url}/api/{path}",
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def save_and_read(self, page, rel: str, timeout: float = 30) -> dict:
        """Save the notebook open in ``page`` (Ctrl+S) and return it as the server stored it."""
        before = self.api(f"contents/{rel}?content=0")["last_modified"]
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.keyboard.press("Control+s")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api(f"contents/{rel}?content=0")["last_modified"] != before:
                page.wait_for_timeout(500)
                return self.api(f"contents/{rel}?type=notebook")["content"]
            page.wait_for_timeout(300)
        raise TimeoutError(f"{rel} was not saved in {timeout} s")


@pytest.fixture(scope="session")
def lab(tmp_path_factory, data_folder) -> Lab:
    why = _why_not()
    if why and os.environ.get("SUPERCONV_REQUIRE_BROWSER") == "1":   # CI (.ci/run)
        pytest.fail(why + " (SUPERCONV_REQUIRE_BROWSER=1: the browser tests must run here)")
    if why:
        pytest.skip(why)
    base = tmp_path_factory.mktemp("lab")
    root = base / "course"
    root.mkdir()
    for name in COURSE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("src", ".*"))
        elif src.exists():
            shutil.copy2(src, root / name)
    settings = base / "settings"
    for rel, value in SETTINGS.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))
    token, port = secrets.token_hex(16), _free_port()
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "MPLBACKEND", "PYTEST", "SUPERCONV_STRICT"))}
    env.update(
        SUPERCONV_QUICK="1", SUPERCONV_DATA=str(data_folder), PYTHONUNBUFFERED="1",
        # the kernelspec runs "python": the one of this venv
        PATH=venv_bin + os.pathsep + env.get("PATH", ""),
        JUPYTER_CONFIG_DIR=str(base / "config"), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_DATA_DIR=str(base / "data"), IPYTHONDIR=str(base / "ipython"),
        JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
    )
    env.setdefault("OMP_NUM_THREADS", "1")      # 2 shared cores: threads only wait on each other
    log = base / "lab.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        cwd=root, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    server = Lab(f"http://127.0.0.1:{port}", token, root, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                server.api("status")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + log.read_text()[-3000:])
                time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser(lab):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(browser, artifacts, request):
    """A fresh browser tab; when the test fails, a screenshot of it as ``*-failed.png``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    try:
        yield pg
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            name = request.node.name.replace("/", "_").replace("[", "-").rstrip("]")
            try:
                pg.screenshot(path=str(artifacts / f"{name}-failed.png"))
            except Exception:   # the page may be gone; the report says why
                pass
        context.close()
