"""The Files APIs through Airlock with the official SDKs, unchanged but for
the base URL: openai's `files.create` / `retrieve` / `content` / `list` /
`delete` and its chunked Uploads helper; google-genai's resumable
`files.upload`, then `get`, `list` and `delete`. A file uploaded by one
SDK is read back by the other; another project's file does not exist for
either; a disguised executable is refused in each SDK's error type.
Files as context: google-genai's `generate_content` with an uploaded file
sends the PDF inline to the provider; openai's chat with a `file` part
sends the PDF, or its extracted text when asked.
"""

import base64
import io

import openai
import pytest
from google.genai import errors as genai_errors
from google.genai import types

from conftest import MASTER_KEY, make_genai, make_openai
from helpers import http, pdf_with_text, project_key

# A small but well-formed PDF, made here (no fixtures downloaded).
PDF = pdf_with_text("Quarterly numbers")
# The start of a 64-bit ELF program.
ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\0\x3e\0\x01\0\0\0" + b"\0" * 40


def test_openai_files_are_created_read_listed_and_deleted(gateway):
    client = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "files"))
    created = client.files.create(file=("report.pdf", PDF, "application/pdf"), purpose="user_data")
    assert created.id.startswith("file-")
    assert (created.object, created.bytes, created.filename, created.purpose) == (
        "file", len(PDF), "report.pdf", "user_data")
    assert client.files.retrieve(created.id) == created
    assert client.files.content(created.id).read() == PDF
    listed = [file.id for file in client.files.list(purpose="user_data")]
    assert listed == [created.id]
    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)


def test_a_batch_file_expires_in_thirty_days_unless_told(gateway):
    client = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "files"))
    lines = b'{"custom_id": "1", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n'
    batch = client.files.create(file=("requests.jsonl", lines), purpose="batch")
    assert batch.expires_at - batch.created_at == 30 * 86400
    kept = client.files.create(
        file=("requests.jsonl", lines), purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 7200},
    )
    assert kept.expires_at - kept.created_at == 7200


def test_the_sdks_chunked_upload_makes_one_file(gateway, tmp_path):
    client = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "files"))
    path = tmp_path / "big.pdf"
    # A PDF of a few kilobytes: its page's text is long.
    body = pdf_with_text("A long line " * 400)
    path.write_bytes(body)
    upload = client.uploads.upload_file_chunked(
        file=path, mime_type="application/pdf", purpose="assistants", part_size=1024)
    assert upload.status == "completed"
    assert upload.file is not None and upload.file.bytes == len(body)
    assert client.files.content(upload.file.id).read() == body


def test_a_disguised_executable_is_refused_by_both_apis(gateway):
    key = project_key(gateway.url, MASTER_KEY, "files")
    # Clients kept in names: a client dropped mid-call closes its connection.
    client, genai = make_openai(gateway.url, key), make_genai(gateway.url, key)
    with pytest.raises(openai.BadRequestError) as refused:
        client.files.create(file=("report.pdf", ELF, "application/pdf"), purpose="user_data")
    assert "application/x-executable" in str(refused.value)
    with pytest.raises(genai_errors.ClientError) as refused:
        genai.files.upload(
            file=io.BytesIO(ELF), config=types.UploadFileConfig(mime_type="application/pdf"))
    assert refused.value.code == 400
    assert "application/x-executable" in str(refused.value)


def test_a_genai_resumable_upload_is_an_active_file_both_sdks_read(gateway, tmp_path):
    key = project_key(gateway.url, MASTER_KEY, "files")
    genai = make_genai(gateway.url, key)
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    uploaded = genai.files.upload(file=path, config=types.UploadFileConfig(display_name="Report"))
    assert uploaded.name.startswith("files/")
    assert uploaded.state == types.FileState.ACTIVE
    assert (uploaded.display_name, uploaded.mime_type, uploaded.size_bytes) == (
        "Report", "application/pdf", len(PDF))
    assert uploaded.uri.endswith(f"/{uploaded.name}")
    assert genai.files.get(name=uploaded.name) == uploaded
    assert [file.name for file in genai.files.list()] == [uploaded.name]
    # The same file, by OpenAI's API.
    file_id = uploaded.name.removeprefix("files/")
    client = make_openai(gateway.url, key)
    assert client.files.content(file_id).read() == PDF
    genai.files.delete(name=uploaded.name)
    with pytest.raises(genai_errors.ClientError) as gone:
        genai.files.get(name=uploaded.name)
    assert gone.value.code == 404


def test_a_genai_upload_in_several_chunks_keeps_every_byte(gateway, tmp_path, monkeypatch):
    from google.genai import _api_client

    # Chunks of 1 KiB, so the file goes in several (the SDK's is 8 MiB).
    monkeypatch.setattr(_api_client, "CHUNK_SIZE", 1024)
    genai = make_genai(gateway.url, project_key(gateway.url, MASTER_KEY, "files"))
    body = ("A line of notes.\n" * 400).encode()
    uploaded = genai.files.upload(
        file=io.BytesIO(body), config=types.UploadFileConfig(mime_type="text/plain", name="notes"))
    assert uploaded.name == "files/notes"
    assert uploaded.size_bytes == len(body)
    assert uploaded.mime_type == "text/plain"


def test_another_projects_file_does_not_exist_for_either_sdk(gateway):
    owner = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "files"))
    stranger_key = project_key(gateway.url, MASTER_KEY, "files")
    stranger, stranger_genai = make_openai(gateway.url, stranger_key), make_genai(gateway.url, stranger_key)
    created = owner.files.create(file=("a.pdf", PDF), purpose="user_data")
    with pytest.raises(openai.NotFoundError):
        stranger.files.content(created.id)
    with pytest.raises(openai.NotFoundError):
        stranger.files.delete(created.id)
    with pytest.raises(genai_errors.ClientError) as hidden:
        stranger_genai.files.get(name=f"files/{created.id}")
    assert hidden.value.code == 404
    assert owner.files.retrieve(created.id).id == created.id


def _last_upstream(mock_server, path_part: str) -> dict:
    received = http("GET", f"{mock_server.url}/mock/requests").json()["data"]
    return [r["body"] for r in received if path_part in r["path"]][-1]


def test_genai_generates_from_an_uploaded_pdf(gateway, mock_server, tmp_path):
    genai = make_genai(gateway.url, project_key(gateway.url, MASTER_KEY, "files"))
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    uploaded = genai.files.upload(file=path)
    answer = genai.models.generate_content(
        model="gemini-2.5-flash", contents=[uploaded, "Summarise this report."])
    assert answer.text
    parts = _last_upstream(mock_server, ":generateContent")["contents"][0]["parts"]
    assert {"inlineData": {"mimeType": "application/pdf", "data": base64.b64encode(PDF).decode()}} in parts


def test_an_openai_chat_sends_a_pdfs_extracted_text_when_asked(gateway, mock_server):
    client = make_openai(gateway.url, project_key(gateway.url, MASTER_KEY, "files"))
    pdf = pdf_with_text("The committee meets on the first Tuesday")
    file = client.files.create(file=("minutes.pdf", pdf), purpose="user_data")
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "When does the committee meet?"},
        {"type": "file", "file": {"file_id": file.id}},
    ]}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    sent = _last_upstream(mock_server, "/chat/completions")["messages"][0]["content"][1]
    assert sent["file"]["file_data"] == "data:application/pdf;base64," + base64.b64encode(pdf).decode()
    client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, extra_headers={"x-airlock-file-context": "text"})
    sent = _last_upstream(mock_server, "/chat/completions")["messages"][0]["content"][1]
    assert sent["type"] == "text"
    assert "The committee meets on the first Tuesday" in sent["text"]
