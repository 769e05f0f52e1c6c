"""Session fixtures for the Airlock conformance suites.

The suites drive a real `airlock` binary (``$AIRLOCK_BIN``, default
``target/debug/airlock`` at the repository root) with the official Python
SDKs, exactly as an application would: only the SDK's base URL changes.

Processes started per session:

* ``airlock mock``  - the provider simulator (Gemini + OpenAI wire formats);
* ``airlock serve`` - the gateway, configured with simulator provider keys and
  base URLs pointing at that mock, plus a master (client) key;
* ``airlock serve`` with no provider keys at all - the zero-config mode, which
  starts its built-in simulator (only when a test asks for it).

Every process gets a free 127.0.0.1 port, a scrubbed environment and its own
temporary data directory. Readiness is detected by polling ``GET /healthz``
(short poll interval, overall timeout); a process that dies or never becomes
healthy fails the session with its stderr attached.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "airlock"

# The key every client must present to the gateway (Bearer / x-goog-api-key).
MASTER_KEY = "airlock-conformance-master-key"
# A syntactically fine key the gateway must reject.
WRONG_KEY = "airlock-conformance-wrong-key"
# Provider keys handed to the gateway: the simulator accepts any non-empty key
# that does not start with "bad-" or "limited-".
SIM_GEMINI_KEY = "sim-gemini-conformance"
SIM_OPENAI_KEY = "sim-openai-conformance"

START_TIMEOUT_S = float(os.environ.get("AIRLOCK_CONFORMANCE_START_TIMEOUT", "30"))
POLL_INTERVAL_S = 0.05
# Per-request timeout for SDK clients, so a hung stream fails instead of
# hanging the suite.
REQUEST_TIMEOUT_S = 30.0

# Environment variables that would silently change what the gateway, the
# simulator or the SDKs do. They are removed both from the children's
# environment and from this (pytest) process, whose SDK clients read them.
_SCRUB_PREFIXES = ("AIRLOCK_", "OPENAI_", "GEMINI_", "GOOGLE_", "ANTHROPIC_")
_SCRUB_EXACT = {
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
    "http_proxy", "https_proxy", "all_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR",
}


def _scrubbed(env: dict[str, str]) -> dict[str, str]:
    out = {
        k: v
        for k, v in env.items()
        if not k.startswith(_SCRUB_PREFIXES) and k not in _SCRUB_EXACT
    }
    out["NO_PROXY"] = out["no_proxy"] = "127.0.0.1,localhost"
    return out


# $AIRLOCK_BIN is read before the scrub below removes every AIRLOCK_* variable.
_AIRLOCK_BIN = os.environ.get("AIRLOCK_BIN") or str(DEFAULT_BIN)
if os.sep not in _AIRLOCK_BIN:  # a bare command name: look it up on PATH
    _AIRLOCK_BIN = shutil.which(_AIRLOCK_BIN) or _AIRLOCK_BIN
_AIRLOCK_BIN = os.path.abspath(_AIRLOCK_BIN)  # children run in their own cwd

# Scrub this process too (before any SDK client is built): e.g. a developer's
# GOOGLE_GENAI_API_VERSION or OPENAI_BASE_URL must not leak into the tests.
_clean = _scrubbed(dict(os.environ))
for _k in list(os.environ):
    if _k not in _clean:
        del os.environ[_k]
os.environ.update(_clean)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        data = path.read_text(errors="replace")
    except OSError as e:  # pragma: no cover - diagnostics only
        return f"<could not read {path}: {e}>"
    return data if len(data) <= limit else "...\n" + data[-limit:]


@dataclass
class AirlockProcess:
    """One running `airlock` child process and where it listens."""

    name: str
    argv: list[str]
    port: int
    proc: subprocess.Popen
    stdout_path: Path
    stderr_path: Path
    env: dict[str, str] = field(repr=False)

    # Set for a gateway serving TLS: the CA file its certificate verifies with.
    ca_file: Path | None = None

    @property
    def url(self) -> str:
        if self.ca_file is not None:
            return f"https://localhost:{self.port}"
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return _tail(self.stderr_path)

    def describe(self) -> str:
        rc = self.proc.poll()
        state = "running" if rc is None else f"exited with code {rc}"
        return (
            f"{self.name} ({' '.join(self.argv)}) on port {self.port}: {state}\n"
            f"--- stderr ---\n{self.stderr()}\n"
            f"--- stdout ---\n{_tail(self.stdout_path, 2000)}"
        )

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        last_err = "no attempt"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"{self.name} exited before becoming healthy.\n{self.describe()}",
                    pytrace=False,
                )
            try:
                context = (
                    ssl.create_default_context(cafile=str(self.ca_file))
                    if self.ca_file is not None
                    else None
                )
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2, context=context) as r:
                    if r.status == 200:
                        return
                    last_err = f"HTTP {r.status}"
            except urllib.error.HTTPError as e:
                last_err = f"HTTP {e.code}"
            except OSError as e:
                last_err = repr(e)
            time.sleep(POLL_INTERVAL_S)
        details = self.describe()  # before stopping it, to show it was still running
        self.stop()
        pytest.fail(
            f"{self.name} did not answer 200 on GET /healthz within {timeout:.0f}s "
            f"(last: {last_err}); stopped it.\n{details}",
            pytrace=False,
        )

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def _start(
    name: str,
    args: list[str],
    env: dict[str, str],
    workdir: Path,
    ca_file: Path | None = None,
) -> AirlockProcess:
    binary = _resolved_bin()
    # Retry on the (rare) race where another process grabs the port between
    # _free_port() and the child's bind: only when the child exits early
    # complaining about the address.
    for attempt in range(3):
        port = _free_port()
        argv = [str(binary), *args, "--listen", f"127.0.0.1:{port}"]
        out = workdir / f"{name}.{attempt}.stdout.log"
        err = workdir / f"{name}.{attempt}.stderr.log"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            proc = subprocess.Popen(
                argv,
                env=env,
                stdout=fo,
                stderr=fe,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
            )
        p = AirlockProcess(name, argv, port, proc, out, err, env, ca_file)
        try:
            p.wait_healthy()
            return p
        except pytest.fail.Exception:
            if attempt < 2 and "in use" in p.stderr().lower():
                p.stop()
                continue
            raise
    raise AssertionError("unreachable")


def _resolved_bin() -> Path:
    binary = Path(_AIRLOCK_BIN)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(
            f"airlock binary not found or not executable: {binary}\n"
            "Build it with `cargo build -p airlock` or set AIRLOCK_BIN.",
            pytrace=False,
        )
    return binary


def _base_env(data_dir: Path) -> dict[str, str]:
    env = _scrubbed(dict(os.environ))
    env.setdefault("RUST_BACKTRACE", "1")
    env["HOME"] = str(data_dir)  # nothing is read from the real home directory
    return env


# ---------------------------------------------------------------------------
# process fixtures


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("airlock")


@pytest.fixture(scope="session")
def mock_server(workdir):
    d = workdir / "mock"
    d.mkdir()
    p = _start("airlock-mock", ["mock"], _base_env(d), d)
    yield p
    _stop_and_check(p)


def _serve(
    workdir: Path,
    name: str,
    mock: AirlockProcess | None,
    ca_file: Path | None = None,
    **env_overrides: str,
) -> AirlockProcess:
    d = workdir / name
    (d / "data").mkdir(parents=True)
    env = _base_env(d)
    if mock is not None:
        env.update(
            GEMINI_API_KEY=SIM_GEMINI_KEY,
            OPENAI_API_KEY=SIM_OPENAI_KEY,
            AIRLOCK_GEMINI_BASE_URL=mock.url,
            AIRLOCK_OPENAI_BASE_URL=f"{mock.url}/v1",
        )
    env["AIRLOCK_MASTER_KEY"] = MASTER_KEY
    env.update(env_overrides)
    return _start(
        f"airlock-serve-{name}", ["serve", "--data-dir", str(d / "data")], env, d, ca_file
    )


@pytest.fixture(scope="session")
def gateway(workdir, mock_server):
    """`airlock serve` in front of `airlock mock`, with a master key."""
    p = _serve(workdir, "gateway", mock_server)
    yield p
    _stop_and_check(p)


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for localhost and 127.0.0.1 and its key."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="session")
def tls_gateway(workdir, mock_server):
    """The gateway serving TLS with a self-signed certificate (google-genai
    opens Live sessions over wss:// whatever its base URL's scheme)."""
    directory = workdir / "tls-certificate"
    directory.mkdir()
    cert, key = _self_signed_certificate(directory)
    p = _serve(
        workdir,
        "tls",
        mock_server,
        ca_file=cert,
        AIRLOCK_TLS_CERT=str(cert),
        AIRLOCK_TLS_KEY=str(key),
    )
    yield p
    _stop_and_check(p)


@pytest.fixture(scope="session")
def limited_gateway(workdir, mock_server):
    """A gateway whose provider keys the simulator rate-limits (429 with
    Retry-After: 1 for keys starting with `limited-`)."""
    p = _serve(
        workdir,
        "limited",
        mock_server,
        GEMINI_API_KEY="limited-gemini-conformance",
        OPENAI_API_KEY="limited-openai-conformance",
    )
    yield p
    _stop_and_check(p)


@pytest.fixture(scope="session")
def zero_config_gateway(workdir):
    """`airlock serve` with no provider key and no base URL: it must start its
    built-in simulator. The client (master) key is still set, since the point
    here is "no provider credentials", not "no client auth"."""
    p = _serve(workdir, "zero-config", None)
    yield p
    _stop_and_check(p)


def _stop_and_check(p: AirlockProcess) -> None:
    # A child that died during the session is a bug even if every test that
    # ran before the crash passed: report it as a teardown error.
    died = p.proc.poll()
    p.stop()
    if died is not None:
        pytest.fail(
            f"{p.name} died during the session.\n{p.describe()}", pytrace=False
        )


# ---------------------------------------------------------------------------
# SDK client fixtures


def make_openai(base_url: str, api_key: str = MASTER_KEY):
    import openai

    return openai.OpenAI(
        api_key=api_key,
        base_url=f"{base_url}/v1",
        max_retries=0,  # surface the gateway's first answer, fast
        timeout=REQUEST_TIMEOUT_S,
    )


def make_genai(base_url: str, api_key: str = MASTER_KEY, api_version: str | None = None):
    from google import genai

    http_options: dict = {"base_url": base_url, "timeout": int(REQUEST_TIMEOUT_S * 1000)}
    if api_version is not None:
        http_options["api_version"] = api_version
    return genai.Client(api_key=api_key, vertexai=False, http_options=http_options)


@pytest.fixture(scope="session")
def openai_client(gateway):
    return make_openai(gateway.url)


@pytest.fixture(scope="session")
def genai_client(gateway):
    """google-genai with its default API version (v1 in google-genai 3.x)."""
    return make_genai(gateway.url)


@pytest.fixture(scope="session")
def genai_client_v1beta(gateway):
    return make_genai(gateway.url, api_version="v1beta")


@pytest.fixture(scope="session", params=["v1", "v1beta"])
def genai_any(request, gateway):
    """Parametrised over the API versions the Gemini surface must serve."""
    return make_genai(gateway.url, api_version=request.param)
