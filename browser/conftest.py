"""Fixtures for the dashboard's browser suite.

One `airlock serve` (``$AIRLOCK_BIN``) runs for the whole session on a free
127.0.0.1 port, with a temporary data directory, a master key and no
provider configured (so its built-in simulator answers). Tests drive the
dashboard at ``/ui/`` with Playwright in Debian's chromium (``$CHROMIUM``,
default ``/usr/bin/chromium``; Playwright's own browser downloads are never
used) and make real traffic with the official openai SDK.

Every page a test opens is watched: a console error, an uncaught page
error, a Content-Security-Policy violation or a JavaScript dialog fails the
test. The browser's own "Failed to load resource" lines are the only
console errors let through, and only for the HTTP statuses the test said it
provokes (401 always: the dashboard asks for its session on load).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
MASTER_KEY = "airlock-browser-master-key-0123456789"
START_TIMEOUT_S = 30.0
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
UI_TIMEOUT_MS = 10_000

# Variables that would change what the gateway or the SDK does.
_SCRUB_PREFIXES = ("AIRLOCK_", "OPENAI_", "GEMINI_", "GOOGLE_", "ANTHROPIC_")
_SCRUB_EXACT = {
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
    "http_proxy", "https_proxy", "all_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR",
}

_AIRLOCK_BIN = os.environ.get("AIRLOCK_BIN") or str(REPO_ROOT / "target" / "debug" / "airlock")
if os.sep not in _AIRLOCK_BIN:
    _AIRLOCK_BIN = shutil.which(_AIRLOCK_BIN) or _AIRLOCK_BIN
_AIRLOCK_BIN = os.path.abspath(_AIRLOCK_BIN)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOT_DIR = Path(os.environ.get("SCREENSHOT_DIR") or HERE / "screenshots")


def _scrubbed(env: dict[str, str]) -> dict[str, str]:
    out = {k: v for k, v in env.items() if not k.startswith(_SCRUB_PREFIXES) and k not in _SCRUB_EXACT}
    out["NO_PROXY"] = out["no_proxy"] = "127.0.0.1,localhost"
    return out


_clean = _scrubbed(dict(os.environ))
for _k in list(os.environ):
    if _k not in _clean:
        del os.environ[_k]
os.environ.update(_clean)


# ---------------------------------------------------------------------------
# plain HTTP to the admin API (the master key as Bearer)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(method: str, url: str, *, headers: dict | None = None, body=None, timeout: float = 30.0) -> Answer:
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Answer(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


# ---------------------------------------------------------------------------
# the gateway


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Gateway:
    name: str
    port: int
    proc: subprocess.Popen
    stderr_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self, limit: int = 6000) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError as e:
            return f"<{e}>"
        return text if len(text) <= limit else "...\n" + text[-limit:]

    def admin(self, method: str, path: str, body=None) -> Answer:
        """The admin API with the master key as Bearer."""
        return http(method, self.url + path, headers={"authorization": f"Bearer {MASTER_KEY}"}, body=body)

    def admin_ok(self, method: str, path: str, body=None, status: int | None = None):
        answer = self.admin(method, path, body)
        expected = status or (201 if method == "POST" and path.endswith(("/projects", "/keys", "/admins")) else 200)
        assert answer.status == expected, f"{method} {path}: HTTP {answer.status} {answer.body[:500]!r}"
        return answer.json() if answer.body else None

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def start_gateway(workdir: Path, name: str) -> Gateway:
    """`airlock serve` with a master key, no provider (its simulator answers)
    and its own data directory; returns once GET /readyz answers 200."""
    binary = Path(_AIRLOCK_BIN)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"airlock binary not found or not executable: {binary} (set AIRLOCK_BIN)", pytrace=False)
    home = workdir / name
    (home / "data").mkdir(parents=True)
    env = _scrubbed(dict(os.environ))
    env.update(HOME=str(home), RUST_BACKTRACE="1", AIRLOCK_MASTER_KEY=MASTER_KEY)
    for attempt in range(3):
        port = _free_port()
        err = home / f"stderr.{attempt}.log"
        with open(home / f"stdout.{attempt}.log", "wb") as out, open(err, "wb") as errf:
            proc = subprocess.Popen(
                [str(binary), "serve", "--data-dir", str(home / "data"), "--listen", f"127.0.0.1:{port}"],
                env=env, stdout=out, stderr=errf, stdin=subprocess.DEVNULL, cwd=home,
            )
        gw = Gateway(name, port, proc, err)
        deadline = time.monotonic() + START_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline and proc.poll() is None:
            answer = None
            try:
                answer = http("GET", f"{gw.url}/readyz", timeout=2)
            except OSError as e:
                last = repr(e)
            if answer is not None:
                if answer.status == 200:
                    return gw
                last = f"HTTP {answer.status}"
            time.sleep(0.05)
        gw.stop()
        if attempt < 2 and "in use" in gw.stderr().lower():
            continue
        pytest.fail(f"{name}: GET /readyz did not answer 200 within {START_TIMEOUT_S:.0f}s "
                    f"(last: {last}, exit code {proc.returncode}).\n--- stderr ---\n{gw.stderr()}", pytrace=False)
    raise AssertionError("unreachable")


def stop_and_check(gw: Gateway) -> None:
    died = gw.proc.poll()
    gw.stop()
    if died is not None:
        pytest.fail(f"{gw.name} died during the session (exit code {died}).\n{gw.stderr()}", pytrace=False)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("airlock-browser")


@pytest.fixture(scope="session")
def gateway(workdir):
    gw = start_gateway(workdir, "gateway")
    yield gw
    stop_and_check(gw)


@pytest.fixture(scope="session")
def base(gateway) -> str:
    return gateway.url


# ---------------------------------------------------------------------------
# the browser


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)", pytrace=False)
    b = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        # Root in a container has no user namespaces for chromium's sandbox.
        args=["--no-sandbox"] if os.geteuid() == 0 else [],
    )
    yield b
    b.close()


# Reports every CSP violation as a console error, which the watch below
# collects (the page's CSP does not apply to init scripts).
_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI +
                ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""
_FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")


@dataclass
class Watch:
    """What went wrong in the pages a test opened."""

    allowed_statuses: set[int] = field(default_factory=lambda: {401})
    problems: list[str] = field(default_factory=list)
    pages: list = field(default_factory=list)
    contexts: list = field(default_factory=list)

    def allow_status(self, *statuses: int) -> None:
        """The test provokes these HTTP statuses; the browser's console line
        about them is expected."""
        self.allowed_statuses.update(statuses)

    def attach(self, page, tag: str) -> None:
        def on_console(msg):
            if msg.type not in ("error", "warning"):
                return
            failed = _FAILED_LOAD.search(msg.text)
            if failed and int(failed.group(1)) in self.allowed_statuses:
                return
            self.problems.append(f"[{tag}] console.{msg.type}: {msg.text} ({msg.location.get('url', '')})")

        def on_dialog(dialog):
            self.problems.append(f"[{tag}] a JavaScript dialog opened ({dialog.type}): {dialog.message!r}")
            dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", lambda err: self.problems.append(f"[{tag}] uncaught page error: {err}"))
        page.on("dialog", on_dialog)
        self.pages.append(page)

    def flush(self) -> None:
        # A round trip to each open page delivers its pending events.
        for page in self.pages:
            if not page.is_closed():
                try:
                    page.evaluate("0")
                except Exception:  # noqa: BLE001 - a page mid-navigation or closed
                    pass


@pytest.fixture
def watch():
    w = Watch()
    yield w
    for ctx in w.contexts:
        try:
            ctx.close()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def new_page(browser, watch):
    """new_page(viewport=DESKTOP) -> a watched page in a fresh context (its
    own cookies)."""

    def make(viewport: dict = DESKTOP, tag: str | None = None):
        ctx = browser.new_context(viewport=viewport)
        ctx.set_default_timeout(UI_TIMEOUT_MS)
        ctx.add_init_script(script=_CSP_LISTENER)
        watch.contexts.append(ctx)
        page = ctx.new_page()
        watch.attach(page, tag or f"page{len(watch.pages) + 1}")
        return page

    return make


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    w = item.funcargs.get("watch") if hasattr(item, "funcargs") else None
    if w is not None:
        w.flush()
        if w.problems:
            raise AssertionError(
                "the dashboard misbehaved in the browser:\n  " + "\n  ".join(w.problems)
            )
    return result


# ---------------------------------------------------------------------------
# SDK


def make_openai(base_url: str, api_key: str):
    import openai

    return openai.OpenAI(api_key=api_key, base_url=f"{base_url}/v1", max_retries=0, timeout=30.0)
