"""Access control seen through the official SDKs: a project key with a rate
limit makes `openai` raise its RateLimitError (and retry after Retry-After
when retries are on) and `google-genai` raise its ClientError with code 429;
an ephemeral token minted with `client.auth_tokens.create` works as a key;
an end user's token whose issuer cannot be reached yet is a 503 each SDK
raises as a server error, which `openai` retries after Retry-After until
the issuer is back.
"""

import base64
import http.server
import json
import threading
import time
import urllib.request
import uuid

import openai
import pytest
from google import genai
from google.genai import errors, types

from conftest import MASTER_KEY, _free_port, _serve, _stop_and_check, make_genai, make_openai

# The key's request limit. Its bucket starts full and gets one request back
# every 60 / RPM = 6 seconds: the burst, the refused call and the retrying
# client's first attempt (RPM + 2 calls, a fraction of a second) must happen
# within those 6 seconds, many times what they take even on a slow, loaded
# machine. The retry then waits out the rest (at most 6 seconds).
RPM = 10


def _admin(base_url: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{base_url}{path}",
        data=json.dumps(body).encode(),
        headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def limited_key(gateway) -> str:
    project = f"conformance-{uuid.uuid4().hex[:8]}"
    _admin(gateway.url, "/admin/v1/projects", {"name": project})
    created = _admin(gateway.url, f"/admin/v1/projects/{project}/keys", {"limits": {"rpm": RPM}})
    assert created["secret"].startswith("ak_")
    return created["secret"]


def _spend_burst(client) -> None:
    for _ in range(RPM):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def test_openai_raises_rate_limit_error_then_retries_after_retry_after(gateway, limited_key):
    client = make_openai(gateway.url, limited_key)
    _spend_burst(client)
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    headers = raised.value.response.headers
    assert int(headers["retry-after"]) >= 1
    assert headers["x-ratelimit-limit-requests"] == str(RPM)
    assert raised.value.code == "rate_limit_exceeded"

    # With retries on, the SDK waits for Retry-After and then succeeds. What it
    # sent and got is observed on the wire, so the wait is checked against the
    # Retry-After of the very answer it followed.
    exchanges: list[tuple[str, float, int | None, str | None]] = []

    def on_request(request) -> None:
        exchanges.append(("request", time.monotonic(), None, None))

    def on_response(response) -> None:
        exchanges.append(("response", time.monotonic(), response.status_code, response.headers.get("retry-after")))

    retrying = openai.OpenAI(
        api_key=limited_key,
        base_url=f"{gateway.url}/v1",
        max_retries=3,
        timeout=60,
        http_client=openai.DefaultHttpxClient(event_hooks={"request": [on_request], "response": [on_response]}),
    )
    answer = retrying.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    kinds = [kind for kind, *_ in exchanges]
    assert kinds == ["request", "response"] * (len(kinds) // 2), exchanges
    statuses = [status for kind, _, status, _ in exchanges if kind == "response"]
    assert statuses[0] == 429, f"the first attempt is refused: {statuses}"
    assert statuses[-1] == 200, statuses
    assert set(statuses[:-1]) == {429}, statuses
    # Each retry went out no sooner than the Retry-After of the refusal before it.
    for (_, refused_at, _, retry_after), (_, retried_at, _, _) in zip(exchanges[1::2], exchanges[2::2]):
        assert int(retry_after) >= 1
        assert retried_at - refused_at >= int(retry_after), (
            f"retried {retried_at - refused_at:.3f} s after a Retry-After of {retry_after} s"
        )


def test_genai_raises_client_error_429(gateway, limited_key):
    # The key's budget of requests was spent by the OpenAI test or is spent here.
    client = make_genai(gateway.url, limited_key)
    with pytest.raises(errors.ClientError) as raised:
        for _ in range(RPM + 1):
            client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert raised.value.code == 429
    assert raised.value.status == "RESOURCE_EXHAUSTED"


def test_genai_auth_tokens_create_mints_a_usable_token(gateway):
    minting = make_genai(gateway.url, MASTER_KEY, api_version="v1alpha")
    token = minting.auth_tokens.create(config=types.CreateAuthTokenConfig(uses=2))
    assert token.name.startswith("auth_tokens/")
    # google-genai itself sends ephemeral tokens only on Live sessions; over
    # REST, Airlock accepts them wherever a key goes.
    request = urllib.request.Request(
        f"{gateway.url}/v1beta/models/gemini-2.5-flash:generateContent",
        data=json.dumps({"contents": [{"parts": [{"text": "hi"}]}]}).encode(),
        headers={"x-goog-api-key": token.name, "content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read())["candidates"][0]["content"]["parts"][0]["text"]


def test_openai_wrong_key_is_authentication_error_for_project_keys(gateway):
    client = make_openai(gateway.url, "ak_" + "0" * 64)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


# ---------------------------------------------------------------------------
# End users' tokens while their issuer is unreachable

ISSUER = "https://login.conformance.test"
AUDIENCE = "conformance-app"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Issuer:
    """An ES256 signing key, its JWKS, and tokens it signs."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        jwk = {"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
               "x": _b64(numbers.x.to_bytes(32, "big")), "y": _b64(numbers.y.to_bytes(32, "big"))}
        return json.dumps({"keys": [jwk]}).encode()

    def token(self, subject: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        now = int(time.time())
        header = _b64(json.dumps({"alg": "ES256", "kid": "k1", "typ": "JWT"}).encode())
        claims = _b64(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": subject,
                                  "iat": now, "exp": now + 600}).encode())
        signing_input = f"{header}.{claims}".encode()
        r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return f"{header}.{claims}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _serve_jwks(port: int, body: bytes) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_an_unreachable_issuer_is_a_503_the_sdks_raise_and_openai_retries_past(workdir, mock_server):
    issuer = _Issuer()
    jwks_port = _free_port()  # nothing listens there yet: the issuer is down
    config = workdir / "end-users.toml"
    config.write_text(
        f"""
[[end_user_issuers]]
issuer = "{ISSUER}"
audiences = ["{AUDIENCE}"]
jwks_url = "http://127.0.0.1:{jwks_port}/jwks"
"""
    )
    gateway = _serve(workdir, "end-users", mock_server, AIRLOCK_CONFIG=str(config))
    jwks = None
    try:
        headers = {"x-airlock-user-token": issuer.token("alice")}
        once = openai.OpenAI(api_key=MASTER_KEY, base_url=f"{gateway.url}/v1", max_retries=0,
                             timeout=30, default_headers=headers)
        with pytest.raises(openai.InternalServerError) as raised:
            once.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert raised.value.status_code == 503
        assert raised.value.code == "issuer_unavailable"
        assert int(raised.value.response.headers["retry-after"]) >= 1

        gemini = genai.Client(api_key=MASTER_KEY, vertexai=False, http_options=types.HttpOptions(
            base_url=gateway.url, headers=headers, timeout=30_000,
            retry_options=types.HttpRetryOptions(attempts=1)))
        with pytest.raises(errors.ServerError) as raised:
            gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert raised.value.code == 503
        assert raised.value.status == "UNAVAILABLE"

        # The issuer comes back: the SDK's own retries, after Retry-After,
        # get through within seconds (not the 30 s refresh interval).
        jwks = _serve_jwks(jwks_port, issuer.jwks())
        retrying = openai.OpenAI(api_key=MASTER_KEY, base_url=f"{gateway.url}/v1", max_retries=3,
                                 timeout=30, default_headers=headers)
        started = time.monotonic()
        answer = retrying.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
        assert time.monotonic() - started < 10
    finally:
        if jwks is not None:
            jwks.shutdown()
        _stop_and_check(gateway)
