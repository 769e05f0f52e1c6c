"""The admin dashboard (`/ui/`) in a real browser, against a real gateway.

Traffic comes from the official openai SDK through Airlock; the dashboard
must show it. Tests run in file order: the audit test reads the changes the
project/key lifecycle test made in the UI, and the sign-in lockout test uses
a gateway of its own (its limit is also per client address).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import math
import struct
import time
import uuid

import pytest

from conftest import (
    DESKTOP,
    MASTER_KEY,
    PHONE,
    SCREENSHOT_DIR,
    http,
    make_openai,
    start_gateway,
    stop_and_check,
)

CHAT_MODEL = "gpt-4o-mini"
# Another model the built-in simulator serves (the Gemini provider's default
# route), for a key scoped to CHAT_MODEL to be refused and then allowed.
OTHER_MODEL = "gemini-2.5-flash"
REALTIME_MODEL = "gpt-realtime"
IMAGE_MODEL = "gpt-image-1"
CONVERSATION_OPENER = "My boat is called the Heron."
CONVERSATION_QUESTION = "What is my boat called?"
PREGEN_PROMPT = "Describe the harbour at dawn."
BULK_ITEMS = 3000
SEED_REQUESTS = 5
XSS_KEY_NAME = """<img src=x onerror="document.title='pwned'">"""
XSS_PROJECT_NAME = """<img src=x onerror="document.title='pwned'">"""
# 16 kHz 16-bit mono: a 440 Hz tone, 500 ms (what the realtime session hears).
SPEECH = b"".join(
    struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 16000))) for i in range(8000)
)

# What the project/key lifecycle test made in the UI (read by the audit test).
made_in_ui: dict = {}


# ---------------------------------------------------------------------------
# helpers


def wait_js(page, expr: str, timeout_s: float = 10.0, what: str | None = None):
    """Polls a JS expression until truthy. (wait_for_function would eval a
    string, which the dashboard's CSP rightly forbids.)"""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expr)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or expr}")
        page.wait_for_timeout(50)


def settle(page):
    """Waits for the page's heading and for every loading state to end."""
    page.wait_for_selector("h1[data-page]")
    wait_js(page, "!document.querySelector('[aria-busy=true]')", what="the page to finish loading")


def goto(page, base: str, route: str, page_name: str):
    page.goto(f"{base}/ui/#/{route}")
    page.wait_for_selector(f"h1[data-page='{page_name}']")
    settle(page)


def sign_in(page, base: str, password: str = MASTER_KEY, username: str | None = None):
    page.goto(f"{base}/ui/")
    page.wait_for_selector("#signin-form")
    if username:
        page.fill("#signin-username", username)
    page.fill("#signin-password", password)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("h1[data-page='overview']")
    settle(page)


def alert_text(page) -> str:
    page.wait_for_selector("[role=alert]:not(:empty)")
    return page.inner_text("[role=alert]:not(:empty)")


def in_page_fetch(page, method: str, path: str, body: dict, csrf: str | None):
    """fetch() from the page (its session cookie goes along); returns
    {status, body}."""
    return page.evaluate(
        """async ([method, path, body, csrf]) => {
            const headers = {'content-type': 'application/json'};
            if (csrf !== null) headers['x-csrf-token'] = csrf;
            const res = await fetch(path, {method, headers, body: JSON.stringify(body), credentials: 'same-origin'});
            let json = null;
            try { json = await res.json(); } catch (e) {}
            return {status: res.status, body: json};
        }""",
        [method, path, body, csrf],
    )


def session_csrf(page) -> str:
    got = page.evaluate(
        "async () => { const r = await fetch('/admin/v1/session', {credentials: 'same-origin'}); return [r.status, await r.json()]; }"
    )
    assert got[0] == 200, got
    return got[1]["csrf_token"]


def new_project(gateway, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    gateway.admin_ok("POST", "/admin/v1/projects", {"name": name})
    return name


def new_key(gateway, project: str, name: str = "seed", kind: str = "secret") -> dict:
    return gateway.admin_ok("POST", f"/admin/v1/projects/{project}/keys", {"kind": kind, "name": name})


def new_admin(gateway, role: str) -> tuple[str, str]:
    username = f"{role}-{uuid.uuid4().hex[:6]}"
    password = f"correct horse {uuid.uuid4().hex}"
    gateway.admin_ok("POST", "/admin/v1/admins", {"username": username, "password": password, "role": role})
    return username, password


def screenshot(page, name: str, full_page: bool = False):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


# ---------------------------------------------------------------------------
# data made with the SDK


@pytest.fixture(scope="session")
def traffic(gateway):
    """A project `shop`, a secret key and a handful of chat completions made
    with the openai SDK through Airlock."""
    project = new_project(gateway, "shop")
    created = new_key(gateway, project, "backend")
    client = make_openai(gateway.url, created["secret"])
    ids = []
    for i in range(SEED_REQUESTS):
        raw = client.chat.completions.with_raw_response.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": f"Say hello number {i}."}]
        )
        completion = raw.parse()
        assert completion.choices[0].message.content.strip()
        ids.append(raw.headers.get("x-request-id"))
    # The request log is written in batches: wait until every record is in.
    deadline = time.monotonic() + 10
    while True:
        listed = gateway.admin_ok("GET", f"/admin/v1/requests?project={project}&limit=50")["data"]
        if len(listed) >= SEED_REQUESTS:
            break
        assert time.monotonic() < deadline, f"only {len(listed)} of {SEED_REQUESTS} requests were logged"
        time.sleep(0.1)
    return {"project": project, "key": created["key"], "secret": created["secret"], "request_ids": ids,
            "records": listed}


@pytest.fixture(scope="session")
def realtime_session(gateway, traffic):
    """An OpenAI Realtime audio turn through Airlock with the openai SDK; its
    session record (with the transcript) is written when it closes."""
    import openai

    client = openai.AsyncOpenAI(api_key=traffic["secret"], base_url=f"{gateway.url}/v1", max_retries=0)

    async def scenario():
        async with client.realtime.connect(model=REALTIME_MODEL) as connection:
            created = await connection.recv()
            assert created.type == "session.created", created.type
            for start in range(0, len(SPEECH), 4800):
                await connection.input_audio_buffer.append(
                    audio=base64.b64encode(SPEECH[start : start + 4800]).decode()
                )
            await connection.input_audio_buffer.commit()
            await connection.response.create()
            events = []
            async for event in connection:
                events.append(event)
                if event.type == "response.done":
                    return events
            raise AssertionError("the connection ended before response.done")

    before = {s["id"] for s in gateway.admin_ok("GET", "/admin/v1/realtime/sessions?limit=50")["data"]}
    # In a thread of its own: Playwright's sync API holds this thread's event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        events = pool.submit(lambda: asyncio.run(asyncio.wait_for(scenario(), 30))).result()
    said = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta").strip()
    assert said, "the simulator said nothing"
    deadline = time.monotonic() + 10
    while True:
        fresh = [s for s in gateway.admin_ok("GET", "/admin/v1/realtime/sessions?limit=50")["data"]
                 if s["id"] not in before]
        if fresh:
            break
        assert time.monotonic() < deadline, "the realtime session was not recorded within 10 s"
        time.sleep(0.1)
    session_id = fresh[0]["id"]
    record = gateway.admin_ok("GET", f"/admin/v1/realtime/sessions/{session_id}")
    assert record.get("transcript"), f"the session was recorded without a transcript: {record}"
    return {"id": session_id, "said": said, "transcript": record["transcript"]}


@pytest.fixture(scope="session")
def content(gateway):
    """A project `content` with what its users made through the openai SDK:
    a Conversations API conversation with a Responses turn in it, a stored
    response (store=True), and a generated image kept as a URL (stored
    media)."""
    project = new_project(gateway, "content")
    client = make_openai(gateway.url, new_key(gateway, project, "app")["secret"])
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": CONVERSATION_OPENER}],
        metadata={"topic": "harbour"},
    )
    turn = client.responses.create(model=CHAT_MODEL, conversation=conversation.id, input=CONVERSATION_QUESTION)
    assert turn.output_text.strip()
    stored = client.responses.create(model=CHAT_MODEL, input="A one-line poem, please.", store=True)
    assert stored.output_text.strip()
    image = client.images.generate(
        model=IMAGE_MODEL, prompt="A lantern-lit harbour at night", size="1024x1024",
        extra_headers={"x-airlock-media": "url"},
    )
    assert "/media/" in image.data[0].url
    listed = gateway.admin_ok("GET", f"/admin/v1/projects/{project}/conversations")["data"]
    assert {conversation.id} <= {c["id"] for c in listed}, listed
    # The media record is written after the answer: wait until it is listed.
    deadline = time.monotonic() + 10
    while not (media := gateway.admin_ok("GET", f"/admin/v1/projects/{project}/media")["data"]):
        assert time.monotonic() < deadline, "the generated image was not recorded within 10 s"
        time.sleep(0.1)
    assert len(media) == 1 and media[0]["kind"] == "image", media
    return {"project": project, "conversation": conversation.id, "answer": turn.output_text,
            "stored_response": stored.id, "media": media[0]}


def pregenerate(gateway, project: str, items: list[dict], **query) -> dict:
    """A pre-generation job through the admin API (the items as a JSON array)."""
    params = "&".join(f"{k}={v}" for k, v in {"project": project, **query}.items())
    return gateway.admin_ok("POST", f"/admin/v1/pregenerate?{params}", items, status=202)


def chat_item(custom_id: str, content: str, model: str = CHAT_MODEL) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": model, "temperature": 0, "messages": [{"role": "user", "content": content}]}}


@pytest.fixture(scope="session")
def pregen_job(gateway):
    """A finished pre-generation job of a project `pregen`: one answer
    cached, one item failed (a model nobody serves); then the cached answer
    served again to the openai SDK (a cache hit)."""
    project = new_project(gateway, "pregen")
    job = pregenerate(gateway, project, [chat_item("hello", PREGEN_PROMPT), chat_item("broken", "x", "no-such-model")])
    deadline = time.monotonic() + 15
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"the pre-generation job did not finish: {job}"
        time.sleep(0.1)
        job = gateway.admin_ok("GET", f"/admin/v1/jobs/{job['id']}")
    assert (job["done"], job["failed"], job["total"]) == (1, 1, 2), job
    client = make_openai(gateway.url, new_key(gateway, project, "reader")["secret"])
    raw = client.chat.completions.with_raw_response.create(
        model=CHAT_MODEL, temperature=0, messages=[{"role": "user", "content": PREGEN_PROMPT}],
        extra_headers={"x-airlock-cache": "use"},
    )
    assert raw.headers.get("x-airlock-cache") == "hit", raw.headers
    # Hits are counted in batches: wait until the stats have it.
    deadline = time.monotonic() + 10
    while (stats := gateway.admin_ok("GET", f"/admin/v1/cache?project={project}"))["hits"] < 1:
        assert time.monotonic() < deadline, f"the cache hit was not counted: {stats}"
        time.sleep(0.1)
    return {"id": job["id"], "project": project, "job": job, "stats": stats}


@pytest.fixture(scope="session")
def resumable_job(gateway):
    """A big pre-generation job (one item at a time) cancelled right after
    it started: it can be resumed, and it runs long enough to be cancelled
    again from the page."""
    project = new_project(gateway, "bulk")
    items = [chat_item(f"line-{i}", f"Bulk prompt number {i}.") for i in range(BULK_ITEMS)]
    job = pregenerate(gateway, project, items, concurrency=1)
    job = gateway.admin_ok("POST", f"/admin/v1/pregenerate/{job['id']}/cancel")
    assert job["state"] == "cancelled" and job["pending"] > BULK_ITEMS // 2, job
    yield {"id": job["id"], "project": project}
    gateway.admin("POST", f"/admin/v1/pregenerate/{job['id']}/cancel")


# ---------------------------------------------------------------------------
# signing in


def test_sign_in_with_the_master_key(page, base):
    page.goto(f"{base}/ui/")
    page.wait_for_selector("#signin-form")
    assert page.url.endswith("#/signin")
    page.fill("#signin-password", MASTER_KEY)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("h1[data-page='overview']")
    assert page.inner_text("#whorole") == "admin"
    assert page.inner_text("#whoami") == "master key"
    nav = page.eval_on_selector_all("a[data-nav]", "els => els.map(e => e.dataset.nav)")
    assert nav == ["overview", "projects", "spend", "requests", "realtime", "conversations", "media", "cache", "jobs",
                   "providers", "audit", "admins"], nav
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["airlock_session"]["httpOnly"], "the session cookie must be HttpOnly"
    assert cookies["airlock_session"]["sameSite"] == "Strict"


def test_sign_in_as_a_dashboard_user(page, gateway):
    username, password = new_admin(gateway, "admin")
    sign_in(page, gateway.url, password, username)
    assert page.inner_text("#whoami") == username
    assert page.inner_text("#whorole") == "admin"
    goto(page, gateway.url, "admins", "admins")
    row = page.locator(f"tr[data-admin='{username}']")
    assert "(you)" in row.inner_text()


def test_sign_out_ends_the_session(page, base):
    sign_in(page, base)
    page.click("#signout")
    page.wait_for_selector("#signin-form")
    assert "signed out" in page.inner_text("[role=status]")
    page.goto(f"{base}/ui/#/projects")
    page.wait_for_selector("#signin-form")
    assert page.evaluate("fetch('/admin/v1/session').then(r => r.status)") == 401


# ---------------------------------------------------------------------------
# overview


def tile_value(page, label: str) -> str:
    return page.evaluate(
        """(label) => {
            for (const t of document.querySelectorAll('.tile')) {
                if (t.querySelector('.tile-label').textContent === label) return t.querySelector('.tile-value').textContent;
            }
            return null;
        }""",
        label,
    )


def test_overview_charts_show_sdk_traffic(page, gateway, traffic):
    sign_in(page, gateway.url)
    page.click(".segmented button[data-value='1h']")
    settle(page)
    page.wait_for_selector(".chart canvas")
    charts = page.evaluate(
        "[...document.querySelectorAll('.chart')].map(c => [c.dataset.chart, !!c.querySelector('canvas')])"
    )
    assert [c[0] for c in charts] == ["requests", "latency", "tokens", "spend"], charts
    assert all(has for _, has in charts), f"a chart without a canvas: {charts}"
    # Every chart drew something: its canvas is not blank.
    drawn = page.evaluate(
        """[...document.querySelectorAll('.chart canvas')].map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
            return false;
        })"""
    )
    assert all(drawn), f"blank chart canvas: {drawn}"

    api = gateway.admin_ok("GET", "/admin/v1/stats/overview?window=1h")
    totals = api["totals"]
    assert totals["requests"] >= SEED_REQUESTS, totals
    assert tile_value(page, "Requests") == f"{totals['requests']:,}"
    assert tile_value(page, "Tokens") == f"{totals['tokens_in'] + totals['tokens_out']:,}"
    # The by-project table has the project the SDK traffic went to.
    row = page.locator("section.breakdown tr", has=page.locator(f"a[href='#/projects/{traffic['project']}']"))
    by_project = {p["project"]: p for p in api["by_project"]}
    assert row.locator("td").nth(1).inner_text() == f"{by_project[traffic['project']]['requests']:,}"
    # The chart's series sums to the same total.
    assert sum(p["requests"] for p in api["series"]) == totals["requests"]


# ---------------------------------------------------------------------------
# projects, keys, requests


def test_project_and_key_lifecycle(page, gateway):
    base = gateway.url
    project = f"ui-made-{uuid.uuid4().hex[:6]}"
    sign_in(page, base)
    goto(page, base, "projects", "projects")
    page.fill("#project-name", project)
    page.click("#create-project button[type=submit]")
    page.wait_for_selector(f"tr[data-project='{project}']")
    assert project in page.inner_text("[role=status]")
    page.click(f"tr[data-project='{project}'] a")
    page.wait_for_selector("h1[data-page='project']")
    page.wait_for_selector("#create-key")
    settle(page)

    page.fill("#key-name", "ui key")
    page.select_option("#key-kind", "secret")
    page.click("#create-key button[type=submit]")
    page.wait_for_selector("#new-key-secret")
    secret = page.input_value("#new-key-secret")
    assert secret, "no secret shown"
    page.wait_for_selector("tr[data-key-id]")
    key_id = page.get_attribute("tr[data-key-id]", "data-key-id")
    assert "ui key" in page.inner_text(f"tr[data-key-id='{key_id}']")

    # The new key works from the SDK.
    client = make_openai(base, secret)
    raw = client.chat.completions.with_raw_response.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "Hello from the dashboard test."}]
    )
    assert raw.parse().choices[0].message.content.strip()
    request_id = raw.headers.get("x-request-id")
    assert request_id, "no x-request-id on the answer"

    # The Requests page, filtered to the project, lists it (the log is
    # written in batches: apply the filter again until it shows).
    goto(page, base, "requests", "requests")
    page.wait_for_selector(f"#filter-project option[value='{project}']", state="attached")
    page.select_option("#filter-project", project)
    deadline = time.monotonic() + 10
    while True:
        page.click("#request-filters button[type=submit]")
        settle(page)
        if page.locator(f"tr[data-request-id='{request_id}']").count():
            break
        assert time.monotonic() < deadline, f"request {request_id} not listed for project {project}"
        page.wait_for_timeout(200)
    rows = page.locator("tr[data-request-id]")
    assert rows.count() == 1, "the filter lets other projects' requests through"
    row_text = page.inner_text(f"tr[data-request-id='{request_id}']")
    assert project in row_text and CHAT_MODEL in row_text and "200" in row_text
    screenshot(page, "requests-filtered")

    page.click(f"tr[data-request-id='{request_id}'] a")
    page.wait_for_selector("h1[data-page='request']")
    settle(page)
    assert request_id in page.inner_text(".page")
    record = page.inner_text("dl.fields")
    assert project in record and CHAT_MODEL in record and key_id in record

    # Revoke in the UI, then the SDK is refused.
    goto(page, base, f"projects/{project}", "project")
    page.click(f"button[data-revoke='{key_id}']")
    page.click(f"button[data-confirm-revoke='{key_id}']")
    page.wait_for_selector(f"tr[data-key-id='{key_id}'] .badge.bad")
    assert "Revoked" in page.inner_text(f"tr[data-key-id='{key_id}']")
    assert page.locator(f"button[data-revoke='{key_id}']").count() == 0

    import openai

    deadline = time.monotonic() + 3
    while True:
        try:
            client.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "again"}])
        except openai.AuthenticationError:
            break
        assert time.monotonic() < deadline, "the revoked key still works after 3 s"
        time.sleep(0.1)
    made_in_ui.update(project=project, key_id=key_id)


def test_audit_log_shows_the_dashboard_changes(page, gateway):
    assert made_in_ui, "needs test_project_and_key_lifecycle to have run first (run the whole file)"
    project, key_id = made_in_ui["project"], made_in_ui["key_id"]
    sign_in(page, gateway.url)
    goto(page, gateway.url, "audit", "audit")

    def entries():
        return page.eval_on_selector_all(
            "tr[data-audit-seq]",
            "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.textContent.trim()))",
        )

    # Oldest first, a page at a time: "More" until the revocation shows.
    rows = entries()
    while not any(r[2] == "key.revoke" and r[3] == key_id for r in rows):
        page.click("#audit-more")
        settle(page)
        page.wait_for_selector("#audit-more")
        more = entries()
        assert len(more) > len(rows), f"the audit log has no key.revoke for {key_id}"
        rows = more
    # columns: time, actor, action, target, remote address, changes
    mine = [(r[1], r[2], r[3]) for r in rows if project in r[3] or key_id in r[3]]
    assert all(r[4] == "127.0.0.1" for r in rows if project in r[3] or key_id in r[3]), "remote address"
    actor = "dashboard:master key"
    assert (actor, "project.create", project) in mine, mine
    assert (actor, "key.create", f"{project}/{key_id}") in mine, mine
    assert (actor, "key.revoke", key_id) in mine, mine
    # The revocation's details show the before and after.
    revoke = page.locator("tr[data-audit-seq]", has_text="key.revoke").filter(has_text=key_id)
    revoke.locator("button[aria-expanded]").click()
    details = page.locator(f"#{revoke.locator('button[aria-expanded]').get_attribute('aria-controls')}")
    assert details.is_visible()
    assert "revoked_at_ms" in details.inner_text()



def audit_entries(gateway, action: str, target_has: str) -> list[dict]:
    """Every audit entry with this action whose target names target_has
    (the audit API, oldest first, a page at a time)."""
    found, after = [], 0
    while True:
        batch = gateway.admin_ok("GET", f"/admin/v1/audit?after={after}&limit=500")["data"]
        found += [e for e in batch if e["action"] == action and target_has in (e.get("target") or "")]
        if not batch:
            return found
        after = batch[-1]["seq"]


def test_a_keys_scopes_and_limits_are_edited_in_the_ui(new_page, gateway, watch):
    import openai

    watch.allow_status(400, 403)
    base = gateway.url
    project = new_project(gateway, "scoped")
    created = gateway.admin_ok("POST", f"/admin/v1/projects/{project}/keys",
                               {"kind": "secret", "name": "scoped", "models": [CHAT_MODEL]})
    key_id = created["key"]["id"]
    client = make_openai(base, created["secret"])

    def ask(model: str):
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello."}])

    assert ask(CHAT_MODEL).choices[0].message.content.strip()
    with pytest.raises(openai.PermissionDeniedError) as refused:
        ask(OTHER_MODEL)
    assert refused.value.status_code == 403

    # An operator opens the key's form: it shows the key's settings.
    username, password = new_admin(gateway, "operator")
    page = new_page(DESKTOP, "operator")
    sign_in(page, base, password, username)
    goto(page, base, f"projects/{project}", "project")
    edit = f"button[data-edit-key='{key_id}']"
    assert page.get_attribute(edit, "aria-expanded") == "false"
    page.click(edit)
    page.wait_for_selector(f"#edit-key[data-key-id='{key_id}']")
    assert page.get_attribute(edit, "aria-expanded") == "true"
    assert "scoped" in page.inner_text("#edit-key-title")
    assert page.input_value("#edit-key-models") == CHAT_MODEL
    assert page.input_value("#edit-key-operations") == ""
    assert page.input_value("#edit-key-rpm") == ""
    assert page.evaluate("document.activeElement.id") == "edit-key-models"
    # Escape closes it and gives the focus back to its Edit button; Enter
    # on that button opens it again.
    page.keyboard.press("Escape")
    page.wait_for_selector("#edit-key", state="detached")
    assert page.evaluate("document.activeElement.dataset.editKey") == key_id
    assert page.get_attribute(edit, "aria-expanded") == "false"
    page.keyboard.press("Enter")
    page.wait_for_selector("#edit-key")
    assert page.evaluate("document.activeElement.id") == "edit-key-models"

    # Allow the other model, and set a rate limit.
    page.fill("#edit-key-models", f"{CHAT_MODEL}, {OTHER_MODEL}")
    page.fill("#edit-key-rpm", "120")
    screenshot(page, "key-edit")
    page.click("#edit-key button[type=submit]")
    page.wait_for_selector("#edit-key", state="detached")
    assert "updated" in page.inner_text("[role=status]")
    row = page.inner_text(f"tr[data-key-id='{key_id}']")
    assert OTHER_MODEL in row and "120 requests/min" in row, row
    assert page.evaluate("document.activeElement.dataset.editKey") == key_id
    settings = next(k for k in gateway.admin_ok("GET", f"/admin/v1/projects/{project}/keys")["data"]
                    if k["id"] == key_id)["settings"]
    assert settings["models"] == [CHAT_MODEL, OTHER_MODEL] and settings["limits"] == {"rpm": 120}, settings
    assert not settings.get("operations"), settings

    # The SDK may now use it (the gateway reloads its keys: allow a moment).
    deadline = time.monotonic() + 2
    while True:
        try:
            assert ask(OTHER_MODEL).choices[0].message.content.strip()
            break
        except openai.PermissionDeniedError:
            assert time.monotonic() < deadline, f"{OTHER_MODEL} is still refused 2 s after the edit"
            time.sleep(0.1)

    # An unknown operation: the server's message is shown, nothing changes.
    page.click(edit)
    page.wait_for_selector("#edit-key")
    page.fill("#edit-key-operations", "teleport")
    page.click("#edit-key button[type=submit]")
    assert "unknown operation" in alert_text(page)
    assert page.inner_text("#edit-key-error").strip()
    assert page.locator("#edit-key").count() == 1, "the form closed on an error"
    page.click("#edit-key-cancel")
    page.wait_for_selector("#edit-key", state="detached")
    assert "teleport" not in page.inner_text(f"tr[data-key-id='{key_id}']")
    assert ask(OTHER_MODEL).choices[0].message.content.strip()

    # The audit log has the change, by the operator, with before and after.
    updates = audit_entries(gateway, "key.update", key_id)
    assert len(updates) == 1, updates
    assert updates[0]["actor"] == f"dashboard:{username}", updates
    assert updates[0]["before"]["settings"]["models"] == [CHAT_MODEL], updates
    assert updates[0]["after"]["settings"]["models"] == [CHAT_MODEL, OTHER_MODEL], updates

    # A viewer sees the key but no Edit button, and the API refuses them.
    username, password = new_admin(gateway, "viewer")
    viewer = new_page(DESKTOP, "viewer")
    sign_in(viewer, base, password, username)
    goto(viewer, base, f"projects/{project}", "project")
    viewer.wait_for_selector(f"tr[data-key-id='{key_id}']")
    assert viewer.locator("button[data-edit-key], #edit-key").count() == 0
    tried = in_page_fetch(viewer, "PATCH", f"/admin/v1/keys/{key_id}", {"models": []}, session_csrf(viewer))
    assert tried["status"] == 403 and tried["body"]["error"]["code"] == "forbidden_role", tried
    assert len(audit_entries(gateway, "key.update", key_id)) == 1


def test_project_settings_and_budget_on_the_spend_page(page, gateway, traffic):
    base = gateway.url
    project = new_project(gateway, "settings")
    sign_in(page, base)
    goto(page, base, f"projects/{project}", "project")
    page.fill("#limit-rpm", "900")
    page.fill("#budget-usd", "25")
    page.select_option("#budget-period", "day")
    page.fill("#allowed-origins", "https://a.example\nhttps://*.b.example")
    page.click("#project-settings button[type=submit]")
    page.wait_for_selector("[role=status]:has-text('Settings saved')")
    assert page.input_value("#limit-rpm") == "900"
    saved = gateway.admin_ok("GET", f"/admin/v1/projects/{project}")["settings"]
    assert saved["limits"]["rpm"] == 900, saved
    assert saved["limits"]["budget"] == {"usd": 25.0, "period": "day"}, saved
    assert saved["allowed_origins"] == ["https://a.example", "https://*.b.example"], saved
    # A value the form cannot take is refused in the page (the browser's own
    # validation: step 1), and nothing is sent.
    page.fill("#limit-rpm", "1.5")
    page.click("#project-settings button[type=submit]")
    assert page.evaluate("document.querySelector('#limit-rpm').validity.stepMismatch")
    page.wait_for_timeout(200)
    assert gateway.admin_ok("GET", f"/admin/v1/projects/{project}")["settings"]["limits"]["rpm"] == 900

    goto(page, base, "spend", "spend")
    budget = page.locator(f"li[data-budget='{project}']")
    assert budget.count() == 1, "the new budget is not on the Spend page"
    assert "$25.00" in budget.inner_text() and "per day" in budget.inner_text()
    api = gateway.admin_ok("GET", "/admin/v1/stats/spend?window=7d&by=project")
    shown_total = page.inner_text("#spend-total")
    assert shown_total.startswith("$") and shown_total != "—"
    assert any(r["label"] == traffic["project"] for r in api["data"])
    assert page.locator(f"a[href='#/projects/{traffic['project']}']").count() >= 1


def test_logged_content_is_shown_as_text(page, gateway):
    project = f"logged-{uuid.uuid4().hex[:6]}"
    gateway.admin_ok("POST", "/admin/v1/projects", {"name": project, "log_content": True})
    assert gateway.admin_ok("GET", f"/admin/v1/projects/{project}")["settings"].get("log_content") is True
    secret = new_key(gateway, project)["secret"]
    prompt = f"Mail jane.doe@example.com about {XSS_KEY_NAME} please."
    raw = make_openai(gateway.url, secret).chat.completions.with_raw_response.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": prompt}]
    )
    request_id = raw.headers.get("x-request-id")
    deadline = time.monotonic() + 10
    while gateway.admin("GET", f"/admin/v1/requests/{request_id}").status != 200:
        assert time.monotonic() < deadline, "the request was not logged"
        time.sleep(0.1)
    sign_in(page, gateway.url)
    goto(page, gateway.url, f"requests/{request_id}", "request")
    page.click("#show-content")
    page.wait_for_selector("#request-content")
    content = page.inner_text("#request-content")
    assert "jane.doe@example.com" not in content, "the e-mail address was not redacted"
    assert "please" in content
    assert page.locator("main img").count() == 0
    assert "pwned" not in page.title()


def test_admin_users_are_managed_in_the_ui(page, gateway, watch):
    username = f"new-viewer-{uuid.uuid4().hex[:6]}"
    sign_in(page, gateway.url)
    goto(page, gateway.url, "admins", "admins")
    # Too short a password: the server's message is shown.
    watch.allow_status(400)
    page.fill("#admin-username", username)
    page.fill("#admin-password", "short")
    page.click("#create-admin button[type=submit]")
    assert "12" in alert_text(page)
    page.fill("#admin-password", "a long enough password")
    page.select_option("#admin-role", "viewer")
    page.click("#create-admin button[type=submit]")
    page.wait_for_selector(f"tr[data-admin='{username}']")
    assert "viewer" in page.inner_text(f"tr[data-admin='{username}']")
    listed = {u["username"]: u["role"] for u in gateway.admin_ok("GET", "/admin/v1/admins")["data"]}
    assert listed.get(username) == "viewer"
    page.click(f"button[data-delete-admin='{username}']")
    page.click(f"button[data-confirm-delete-admin='{username}']")
    page.wait_for_selector(f"tr[data-admin='{username}']", state="detached")
    assert username not in {u["username"] for u in gateway.admin_ok("GET", "/admin/v1/admins")["data"]}


# ---------------------------------------------------------------------------
# realtime


def test_realtime_session_transcript(page, gateway, realtime_session):
    sid = realtime_session["id"]
    sign_in(page, gateway.url)
    goto(page, gateway.url, "realtime", "realtime")
    page.wait_for_selector(f"tr[data-session-id='{sid}']")
    page.click(f"tr[data-session-id='{sid}'] a")
    page.wait_for_selector("h1[data-page='session']")
    settle(page)
    page.wait_for_selector(".transcript-entry")
    shown = page.eval_on_selector_all(".transcript-entry .transcript-text", "els => els.map(e => e.textContent)")
    expected = [t["text"] for t in realtime_session["transcript"]]
    assert shown == expected
    assert any(realtime_session["said"] in text for text in shown), (realtime_session["said"], shown)


def test_providers_show_key_states_and_the_last_hours_upstream_numbers(page, gateway, traffic):
    sign_in(page, gateway.url)
    goto(page, gateway.url, "providers", "providers")
    settle(page)
    api = gateway.admin_ok("GET", "/admin/v1/stats/overview?window=1h")
    served = [p for p in api["by_provider"] if p["provider"] and p["requests"] > 0]
    assert served, api["by_provider"]
    for provider in served:
        card = page.locator(f"section.provider[data-provider='{provider['provider']}']")
        text = card.inner_text()
        assert f"{provider['requests']:,} requests" in text, text
        assert "latency p50" in text and "p95" in text, text
        # Each key's state is shown.
        assert card.locator("li[data-key-id]").count() >= 1


# ---------------------------------------------------------------------------
# jobs, conversations, media, cache


def job_row(page, job_id: str):
    return page.locator(f"tr[data-job-id='{job_id}']")


def test_jobs_page_lists_a_pregeneration_job_and_its_failures(page, gateway, pregen_job):
    base = gateway.url
    job_id = pregen_job["id"]
    sign_in(page, base)
    # To the Jobs page by keyboard: Tab through the main navigation.
    for _ in range(40):
        page.keyboard.press("Tab")
        if focused(page)["nav"] == "jobs":
            break
    else:
        raise AssertionError("Tab never reached the Jobs link")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1[data-page='jobs']")
    settle(page)
    row = job_row(page, job_id)
    text = row.inner_text()
    assert "pregenerate" in text and pregen_job["project"] in text and "completed" in text, text
    assert "1 / 1 / 2" in text, text
    bar = row.locator("[role=progressbar]")
    assert bar.get_attribute("aria-valuenow") == "100"
    assert bar.get_attribute("aria-valuetext") == "1 done, 1 failed of 2"
    # The kind filter asks the API for that kind only.
    page.select_option("#jobs-kind", "reseal")
    settle(page)
    assert job_row(page, job_id).count() == 0
    reseals = gateway.admin_ok("GET", "/admin/v1/jobs?kind=reseal")["data"]
    assert page.locator("tr[data-job-id]").count() == len(reseals)
    if not reseals:
        assert "No jobs of this kind" in page.inner_text(".page")
    page.select_option("#jobs-kind", "pregenerate")
    settle(page)
    kinds = page.eval_on_selector_all("tr[data-job-id]", "rows => [...new Set(rows.map(r => r.dataset.jobKind))]")
    assert kinds == ["pregenerate"], kinds
    assert job_row(page, job_id).count() == 1

    job_row(page, job_id).locator("a").click()
    page.wait_for_selector("h1[data-page='job']")
    settle(page)
    assert job_id in page.inner_text(".page")
    assert page.inner_text("#job-state") == "completed"
    record = page.inner_text("dl.fields")
    assert pregen_job["project"] in record and "pregenerate" in record
    failure = page.locator("tr[data-failure='2']")
    assert "broken" in failure.inner_text() and "no-such-model" in failure.inner_text()
    assert page.locator("tr[data-failure]").count() == 1
    # A finished job has nothing to cancel or resume.
    assert page.locator("#job-cancel, #job-resume").count() == 0
    screenshot(page, "job-failures")


def test_a_pregeneration_job_is_resumed_and_cancelled_in_the_ui(page, gateway, resumable_job):
    base = gateway.url
    job_id = resumable_job["id"]
    sign_in(page, base)
    goto(page, base, f"jobs/{job_id}", "job")
    assert page.inner_text("#job-state") == "cancelled"
    assert page.locator("#job-cancel").count() == 0
    # By keyboard: Enter on Resume; focus moves to the Cancel button it turns into.
    page.focus("#job-resume")
    page.keyboard.press("Enter")
    page.wait_for_selector("#job-cancel")
    assert "Job resumed" in page.inner_text("[role=status]")
    assert page.evaluate("document.activeElement.id") == "job-cancel"
    assert gateway.admin_ok("GET", f"/admin/v1/jobs/{job_id}")["state"] in ("running", "queued")
    assert page.inner_text("#job-state") in ("running", "queued")
    page.keyboard.press("Enter")
    page.wait_for_selector("#job-resume")
    assert "Job cancelled" in page.inner_text("[role=status]")
    assert page.inner_text("#job-state") == "cancelled"
    assert gateway.admin_ok("GET", f"/admin/v1/jobs/{job_id}")["state"] == "cancelled"
    # Both changes are audited under the dashboard's user.
    audit = gateway.admin_ok("GET", "/admin/v1/audit?limit=1000")["data"]
    mine = [(e["actor"], e["action"]) for e in audit if e["target"] == job_id]
    assert ("dashboard:master key", "pregenerate.resume") in mine, mine
    assert mine[-1] == ("dashboard:master key", "pregenerate.cancel"), mine


def test_conversations_page_shows_a_projects_conversations(page, gateway, content):
    base = gateway.url
    project, conversation = content["project"], content["conversation"]
    sign_in(page, base)
    goto(page, base, "conversations", "conversations")
    page.wait_for_selector(f"#conversations-project option[value='{project}']", state="attached")
    page.select_option("#conversations-project", project)
    page.wait_for_selector(f"tr[data-conversation-id='{conversation}']")
    settle(page)
    listed = gateway.admin_ok("GET", f"/admin/v1/projects/{project}/conversations")["data"]
    rows = page.eval_on_selector_all("tr[data-conversation-id]", "rows => rows.map(r => r.dataset.conversationId)")
    assert rows == [c["id"] for c in listed], (rows, listed)
    assert len(rows) == 2, "the conversation and the stored response's chain"
    row = page.inner_text(f"tr[data-conversation-id='{conversation}']")
    assert "Conversations" in row
    # The address keeps the project: a reload shows the same list.
    assert page.url.endswith(f"#/conversations?project={project}"), page.url
    page.reload()
    page.wait_for_selector(f"tr[data-conversation-id='{conversation}']")

    page.click(f"tr[data-conversation-id='{conversation}'] a")
    page.wait_for_selector("h1[data-page='conversation']")
    settle(page)
    entries = page.eval_on_selector_all(
        "#conversation-transcript .transcript-entry",
        "els => els.map(e => [e.dataset.itemRole, e.querySelector('.transcript-text, pre').textContent])",
    )
    assert entries == [["user", CONVERSATION_OPENER], ["user", CONVERSATION_QUESTION], ["assistant", content["answer"]]], entries
    record = page.inner_text("dl.fields")
    assert project in record and "harbour" in record
    turns = page.locator("tr[data-turn-id]")
    assert turns.count() == 1 and CHAT_MODEL in turns.inner_text()
    page.click("a.back")
    page.wait_for_selector(f"tr[data-conversation-id='{conversation}']")
    assert page.input_value("#conversations-project") == project

    # The stored response's chain shows its turn's input and output.
    other = next(r for r in rows if r != conversation)
    goto(page, base, f"conversations/{other}", "conversation")
    said = page.inner_text("#conversation-transcript")
    assert "A one-line poem, please." in said
    assert page.locator("#conversation-transcript [data-item-role=assistant]").count() == 1


def test_media_page_shows_a_stored_image(page, gateway, content):
    base = gateway.url
    project, media = content["project"], content["media"]
    sign_in(page, base)
    goto(page, base, f"media?project={project}", "media")
    assert page.input_value("#media-project") == project
    row = page.locator(f"tr[data-media-id='{media['id']}']")
    text = row.inner_text()
    assert "image" in text and "image/png" in text, text
    assert page.locator("tr[data-media-id]").count() == 1
    row.locator("a").click()
    page.wait_for_selector("h1[data-page='media-item']")
    settle(page)
    # Its URL is on this origin: the picture is shown (and decoded).
    page.wait_for_selector("#media-preview")
    wait_js(page, "document.querySelector('#media-preview').complete && document.querySelector('#media-preview').naturalWidth > 0",
            what="the image preview to load")
    assert page.evaluate("new URL(document.querySelector('#media-preview').src).origin === location.origin")
    assert page.evaluate("document.querySelector('#media-preview').naturalWidth") == 1024
    record = page.inner_text("dl.fields")
    assert media["sha256"] in record and project in record and "image/png" in record
    assert page.locator(f"a[href='#/requests/{media['request_id']}']").count() == 1
    screenshot(page, "media-item")


def test_cache_page_shows_stats_and_clears_a_project(page, gateway, pregen_job):
    base = gateway.url
    project = pregen_job["project"]
    sign_in(page, base)
    goto(page, base, "cache", "cache")
    # Every project's entries first (the bulk job may still be adding some).
    assert page.inner_text("#cache-entries").replace(",", "").isdigit()
    assert page.input_value("#cache-project") == ""
    page.wait_for_selector(f"#cache-project option[value='{project}']", state="attached")
    page.select_option("#cache-project", project)
    settle(page)
    stats = gateway.admin_ok("GET", f"/admin/v1/cache?project={project}")
    assert stats["entries"] == 1 and stats["hits"] >= 1, stats
    assert page.inner_text("#cache-entries") == "1"
    assert page.inner_text("#cache-hits") == f"{stats['hits']:,}"
    assert page.inner_text("#cache-saved").startswith("$") and stats["saved_usd"] > 0
    assert page.inner_text("#cache-bytes").endswith(("B", "KiB"))

    # Clear asks first; Cancel leaves everything as it was.
    page.click("#cache-clear")
    assert page.evaluate("document.activeElement.id") == "cache-clear-confirm"
    page.click("#cache-clear-cancel")
    assert page.evaluate("document.activeElement.id") == "cache-clear"
    assert gateway.admin_ok("GET", f"/admin/v1/cache?project={project}")["entries"] == 1
    # Confirmed by keyboard: only this project's entries go.
    others = gateway.admin_ok("GET", "/admin/v1/cache")["entries"] - 1
    page.click("#cache-clear")
    page.keyboard.press("Enter")
    page.wait_for_selector("[role=status]:has-text('Cleared')")
    assert page.inner_text("[role=status]") == f"Cleared 1 cached answer of project {project}."
    settle(page)
    assert page.inner_text("#cache-entries") == "0"
    assert gateway.admin_ok("GET", f"/admin/v1/cache?project={project}")["entries"] == 0
    assert gateway.admin_ok("GET", "/admin/v1/cache")["entries"] >= others
    audit = gateway.admin_ok("GET", "/admin/v1/audit?limit=1000")["data"]
    assert any(e["action"] == "cache.clear" and e["target"] == project and e["actor"] == "dashboard:master key"
               for e in audit)


# ---------------------------------------------------------------------------
# every page: screenshots and labels


def page_routes(traffic, realtime_session, content, pregen_job):
    return [
        ("overview", "overview", "overview"),
        ("projects", "projects", "projects"),
        ("project", f"projects/{traffic['project']}", "project"),
        ("spend", "spend", "spend"),
        ("requests", "requests", "requests"),
        ("request", f"requests/{traffic['records'][0]['id']}", "request"),
        ("realtime", "realtime", "realtime"),
        ("session", f"realtime/{realtime_session['id']}", "session"),
        ("conversations", f"conversations?project={content['project']}", "conversations"),
        ("conversation", f"conversations/{content['conversation']}", "conversation"),
        ("media", f"media?project={content['project']}", "media"),
        ("media-item", f"media/{content['media']['id']}", "media-item"),
        ("cache", "cache", "cache"),
        ("jobs", "jobs", "jobs"),
        ("job", f"jobs/{pregen_job['id']}", "job"),
        ("providers", "providers", "providers"),
        ("audit", "audit", "audit"),
        ("admins", "admins", "admins"),
    ]


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""


def test_screenshots_of_every_page(new_page, gateway, traffic, realtime_session, content, pregen_job):
    base = gateway.url
    signed_out = new_page(DESKTOP, "signin")
    signed_out.goto(f"{base}/ui/")
    signed_out.wait_for_selector("#signin-form")
    screenshot(signed_out, "signin")

    page = new_page(DESKTOP, "desktop")
    sign_in(page, base)
    # The requests filters remember the last choice: start from none.
    for name, route, heading in page_routes(traffic, realtime_session, content, pregen_job):
        goto(page, base, route, heading)
        if name == "overview":
            page.wait_for_selector(".chart canvas")
        assert page.locator("[role=alert]:not(:empty)").count() == 0, page.inner_text("[role=alert]")
        shot = screenshot(page, name)
        assert shot.stat().st_size > 10_000, f"{shot} is suspiciously small"

    phone = new_page(PHONE, "phone")
    sign_in(phone, base)
    phone.wait_for_selector(".chart canvas")
    screenshot(phone, "overview-phone", full_page=True)
    # Nothing wider than the phone's screen (tables scroll in their own box).
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for name, route, heading in page_routes(traffic, realtime_session, content, pregen_job):
        if name not in ("conversations", "conversation", "media-item", "cache", "jobs", "job"):
            continue
        goto(phone, base, route, heading)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} is {width}px wide on a phone"
        if name in ("jobs", "conversation"):
            screenshot(phone, f"{name}-phone", full_page=True)


# ---------------------------------------------------------------------------
# accessibility


def test_every_form_control_has_a_label(new_page, gateway, traffic, realtime_session, content, pregen_job):
    base = gateway.url
    signed_out = new_page()
    signed_out.goto(f"{base}/ui/")
    signed_out.wait_for_selector("#signin-form")
    problems = {"signin": signed_out.evaluate(UNLABELLED)}
    page = new_page()
    sign_in(page, base)
    for name, route, heading in page_routes(traffic, realtime_session, content, pregen_job):
        goto(page, base, route, heading)
        problems[name] = page.evaluate(UNLABELLED)
    # The secret shown after creating a key, too.
    goto(page, base, f"projects/{traffic['project']}", "project")
    page.fill("#key-name", "label check")
    page.click("#create-key button[type=submit]")
    page.wait_for_selector("#new-key-secret")
    problems["new key secret"] = page.evaluate(UNLABELLED)
    # And a key's edit form.
    page.click("button[data-edit-key]")
    page.wait_for_selector("#edit-key")
    problems["key edit form"] = page.evaluate(UNLABELLED)
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, f"form controls without a label: {problems}"


def focused(page) -> dict:
    return page.evaluate(
        "(() => { const e = document.activeElement; return {tag: e.tagName, id: e.id, cls: e.className, "
        "nav: e.dataset ? e.dataset.nav || null : null, text: (e.textContent || '').trim()}; })()"
    )


def test_keyboard_skip_link_and_navigation(page, base):
    sign_in(page, base)
    page.goto(f"{base}/ui/#/overview")
    page.reload()
    page.wait_for_selector("h1[data-page='overview']")
    settle(page)
    page.keyboard.press("Tab")
    first = focused(page)
    assert "skip-link" in first["cls"], f"the first Tab stop is {first}, not the skip link"
    # The skip link moves focus to the page's heading.
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.matches('h1[data-page=overview]')")

    page.reload()
    page.wait_for_selector("h1[data-page='overview']")
    settle(page)
    for _ in range(30):
        page.keyboard.press("Tab")
        if focused(page)["nav"] == "requests":
            break
    else:
        raise AssertionError("Tab never reached the Requests link")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1[data-page='requests']")
    assert page.url.endswith("#/requests")
    assert page.evaluate("document.activeElement.matches('h1[data-page=requests]')"), "focus did not move to the new page"


def test_sign_in_with_the_keyboard_only(page, base):
    page.goto(f"{base}/ui/")
    page.wait_for_selector("#signin-form")
    page.keyboard.press("Tab")
    assert "skip-link" in focused(page)["cls"]
    for _ in range(10):
        page.keyboard.press("Tab")
        if focused(page)["id"] == "signin-username":
            break
    else:
        raise AssertionError("Tab never reached the username field")
    page.keyboard.press("Tab")  # empty username: the master key
    assert focused(page)["id"] == "signin-password"
    page.keyboard.type(MASTER_KEY)
    page.keyboard.press("Enter")
    page.wait_for_selector("h1[data-page='overview']")


# ---------------------------------------------------------------------------
# bad input and security


def test_wrong_password_shows_an_error(page, gateway, watch):
    watch.allow_status(401)
    username, _ = new_admin(gateway, "operator")
    page.goto(f"{gateway.url}/ui/")
    page.wait_for_selector("#signin-form")
    page.fill("#signin-password", "not the master key")
    page.click("#signin-form button[type=submit]")
    assert "Wrong master key" in alert_text(page)
    page.fill("#signin-username", username)
    page.fill("#signin-password", "not the password either")
    page.click("#signin-form button[type=submit]")
    wait_js(page, "document.querySelector('[role=alert]').textContent.includes('username')")
    assert "Wrong username or password" in alert_text(page)
    assert page.input_value("#signin-password") == "", "the wrong password stays in the field"
    assert "airlock_session" not in {c["name"] for c in page.context.cookies()}
    # An empty password is caught in the page.
    page.fill("#signin-username", "")
    page.click("#signin-form button[type=submit]")
    assert "Enter your password" in alert_text(page)


def test_a_project_key_is_not_a_dashboard_password(page, gateway, traffic, watch):
    watch.allow_status(401)
    page.goto(f"{gateway.url}/ui/")
    page.wait_for_selector("#signin-form")
    page.fill("#signin-password", traffic["secret"])
    page.click("#signin-form button[type=submit]")
    assert "Wrong master key" in alert_text(page)
    assert page.locator("h1[data-page='overview']").count() == 0
    assert "airlock_session" not in {c["name"] for c in page.context.cookies()}
    assert page.evaluate("fetch('/admin/v1/session').then(r => r.status)") == 401


def test_a_forged_session_cookie_goes_to_sign_in(page, base, watch):
    watch.allow_status(401)
    page.context.add_cookies([{"name": "airlock_session", "value": "f" * 64, "url": base}])
    page.goto(f"{base}/ui/#/projects")
    page.wait_for_selector("#signin-form")
    assert page.url.endswith("#/signin")
    assert page.locator("a[data-nav]").count() == 0
    # After signing in, it goes back to where it was sent from.
    page.fill("#signin-password", MASTER_KEY)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("h1[data-page='projects']")


def test_a_viewer_sees_no_controls_and_cannot_change_anything(page, gateway, traffic, resumable_job, watch):
    watch.allow_status(403)
    username, password = new_admin(gateway, "viewer")
    sign_in(page, gateway.url, password, username)
    assert page.inner_text("#whorole") == "viewer"
    assert page.locator("a[data-nav='admins']").count() == 0
    goto(page, gateway.url, "projects", "projects")
    page.wait_for_selector(f"tr[data-project='{traffic['project']}']")
    assert page.locator("#create-project").count() == 0
    goto(page, gateway.url, f"projects/{traffic['project']}", "project")
    page.wait_for_selector("tr[data-key-id]")
    assert page.locator("#create-key").count() == 0
    assert page.locator("button[data-revoke]").count() == 0
    assert page.locator("#project-settings button[type=submit]").count() == 0
    assert page.evaluate("[...document.querySelectorAll('#project-settings fieldset')].every(f => f.disabled)")

    csrf = session_csrf(page)
    tried = in_page_fetch(page, "POST", "/admin/v1/projects", {"name": "viewer-made"}, csrf)
    assert tried["status"] == 403 and tried["body"]["error"]["code"] == "forbidden_role", tried
    tried = in_page_fetch(page, "POST", f"/admin/v1/keys/{traffic['key']['id']}/revoke", {}, csrf)
    assert tried["status"] == 403 and tried["body"]["error"]["code"] == "forbidden_role", tried
    assert gateway.admin("GET", "/admin/v1/projects/viewer-made").status == 404
    keys = gateway.admin_ok("GET", f"/admin/v1/projects/{traffic['project']}/keys")["data"]
    assert all(k["revoked_at_ms"] is None for k in keys if k["id"] == traffic["key"]["id"])

    # A resumable pre-generation job: no Resume (nor Cancel) for a viewer.
    goto(page, gateway.url, f"jobs/{resumable_job['id']}", "job")
    assert page.inner_text("#job-state") == "cancelled"
    assert page.locator("#job-resume, #job-cancel").count() == 0
    assert "can view this job but not cancel or resume it" in page.inner_text("#job-actions")
    tried = in_page_fetch(page, "POST", f"/admin/v1/pregenerate/{resumable_job['id']}/resume", {}, csrf)
    assert tried["status"] == 403 and tried["body"]["error"]["code"] == "forbidden_role", tried
    assert gateway.admin_ok("GET", f"/admin/v1/jobs/{resumable_job['id']}")["state"] == "cancelled"
    # The cache's statistics, but no Clear button.
    goto(page, gateway.url, "cache", "cache")
    assert page.locator("#cache-entries").count() == 1
    assert page.locator("#cache-clear, #cache-clear-confirm").count() == 0
    assert "can view the cache but not clear it" in page.inner_text(".page")
    tried = in_page_fetch(page, "DELETE", "/admin/v1/cache", {}, csrf)
    assert tried["status"] == 403 and tried["body"]["error"]["code"] == "forbidden_role", tried


def test_a_change_without_the_right_csrf_token_is_refused(page, gateway, watch):
    watch.allow_status(403)
    sign_in(page, gateway.url)
    for token in ("0" * 64, None):
        tried = in_page_fetch(page, "POST", "/admin/v1/projects", {"name": "csrf-made"}, token)
        assert tried["status"] == 403 and tried["body"]["error"]["code"] == "csrf_failed", (token, tried)
    assert gateway.admin("GET", "/admin/v1/projects/csrf-made").status == 404
    # With the session's own token the same change goes through.
    tried = in_page_fetch(page, "POST", "/admin/v1/projects", {"name": f"csrf-ok-{uuid.uuid4().hex[:6]}"}, session_csrf(page))
    assert tried["status"] == 201, tried


def test_html_in_names_is_shown_as_text(page, gateway, traffic, watch):
    watch.allow_status(404)  # the project named in the address does not exist
    # Project names are restricted to letters, digits, '-', '_' and '.'.
    refused = gateway.admin("POST", "/admin/v1/projects", {"name": XSS_PROJECT_NAME})
    assert refused.status == 400, refused.body
    project = new_project(gateway, "xss")
    key = new_key(gateway, project, XSS_KEY_NAME)["key"]

    sign_in(page, gateway.url)
    goto(page, gateway.url, f"projects/{project}", "project")
    cell = page.locator(f"tr[data-key-id='{key['id']}'] td").first
    assert cell.inner_text() == XSS_KEY_NAME
    assert page.locator(f"tr[data-key-id='{key['id']}'] img").count() == 0
    assert page.get_by_text(XSS_KEY_NAME, exact=True).is_visible()
    # The revoke button's accessible name carries it too, as an attribute.
    assert page.get_attribute(f"button[data-revoke='{key['id']}']", "aria-label") == f"Revoke key {XSS_KEY_NAME}"

    # A project name with HTML in the address: shown as text in the heading.
    page.goto(f"{gateway.url}/ui/#/projects/" + XSS_PROJECT_NAME.replace('"', "%22").replace(" ", "%20"))
    page.wait_for_selector("h1[data-page='project']")
    settle(page)
    assert page.inner_text("h1[data-page='project']") == f"Project {XSS_PROJECT_NAME}"
    assert page.locator("main img").count() == 0

    # The audit log shows the key (its name in the details) as text too.
    goto(page, gateway.url, "audit", "audit")
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert "pwned" not in page.title()
    assert page.evaluate("document.querySelectorAll('main img').length") == 0


def test_every_ui_response_has_the_csp_and_no_inline_script(page, base):
    responses = []
    page.on("response", lambda r: responses.append(r) if "/ui/" in r.url else None)
    sign_in(page, base)
    page.wait_for_selector(".chart canvas")
    paths = sorted({r.url.split(base, 1)[1].split("#")[0] for r in responses})
    assert "/ui/" in paths and "/ui/assets/app.js" in paths, paths
    assert any(p.startswith("/ui/assets/pages/") for p in paths), paths
    missing = []
    for r in responses:
        csp = r.headers.get("content-security-policy", "")
        if "script-src 'self'" not in csp or "default-src 'none'" not in csp or "frame-ancestors 'none'" not in csp:
            missing.append((r.url, csp))
    assert not missing, f"/ui/ responses without the dashboard's CSP: {missing}"
    index = next(r for r in responses if r.url.split("#")[0] == f"{base}/ui/")
    assert index.headers.get("x-content-type-options") == "nosniff"
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    # An unknown asset is a plain 404 (not the index page).
    missing_asset = http("GET", f"{base}/ui/assets/no-such-file.js")
    assert missing_asset.status == 404
    assert not missing_asset.headers.get("content-type", "").startswith(("text/html", "text/javascript"))


def test_too_many_sign_in_attempts_are_refused(new_page, workdir, watch):
    """Ten wrong passwords for a name, then even the right one is refused
    (on a gateway of its own: the limit is per address too)."""
    watch.allow_status(401, 429)
    gw = start_gateway(workdir, "lockout")
    try:
        username, password = new_admin(gw, "operator")
        page = new_page()
        page.goto(f"{gw.url}/ui/")
        page.wait_for_selector("#signin-form")
        page.fill("#signin-username", username)
        page.fill("#signin-password", "wrong password 1")
        page.click("#signin-form button[type=submit]")
        assert "Wrong username or password" in alert_text(page)
        for i in range(2, 11):
            answer = http("POST", f"{gw.url}/admin/v1/session", body={"username": username, "password": f"wrong password {i}"})
            assert answer.status == 401, (i, answer.status, answer.body)
        page.fill("#signin-username", username)
        page.fill("#signin-password", password)
        page.click("#signin-form button[type=submit]")
        wait_js(page, "document.querySelector('[role=alert]').textContent.includes('Too many')")
        message = alert_text(page)
        assert "Too many sign-in attempts" in message, message
        assert page.locator("h1[data-page='overview']").count() == 0
        assert "airlock_session" not in {c["name"] for c in page.context.cookies()}
        refused = http("POST", f"{gw.url}/admin/v1/session", body={"username": username, "password": password})
        assert refused.status == 429 and refused.json()["error"]["code"] == "too_many_attempts"
        assert int(refused.headers["retry-after"]) > 0
        screenshot(page, "signin-too-many-attempts")
    finally:
        stop_and_check(gw)
