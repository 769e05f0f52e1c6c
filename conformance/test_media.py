"""Images and audio through Airlock with the official SDKs, unchanged but for
the base URL: `images.generate` (inline and as URLs), `images.edit`,
`audio.speech.create` (WAV, and PCM streamed as events),
`audio.transcriptions.create`, for OpenAI models (relayed) and Gemini models
(translated); google-genai `generate_content` with an image model and with a
TTS model, inline and with the media as `file_data` URIs. What comes back
must decode: Pillow for images, `wave` for audio.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.request
import wave
from pathlib import Path

import pytest
from google.genai import types
from PIL import Image

from conftest import MASTER_KEY, make_genai

IMAGE_MODELS = [
    pytest.param("gpt-image-1", id="openai-upstream"),
    pytest.param("gemini-2.5-flash-image", id="gemini-translated"),
]
SPEECH_MODELS = [
    pytest.param("gpt-4o-mini-tts", "coral", id="openai-upstream"),
    pytest.param("gemini-2.5-flash-preview-tts", "Kore", id="gemini-translated"),
]
TRANSCRIBE_MODELS = [
    pytest.param("whisper-1", id="openai-upstream"),
    pytest.param("gemini-2.5-flash", id="gemini-translated"),
]
SCENE = "A lantern-lit harbour at night, a small boat leaving."
NARRATION = "The boat slipped out past the harbour lights."


def decode_image(data: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(data))
    picture.load()  # decodes every pixel, not only the header
    return picture


def fetch(url: str):
    """Status, headers (looked up case-insensitively) and body."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers, response.read()


def read_wav(data: bytes) -> tuple[int, int, bytes]:
    with wave.open(io.BytesIO(data)) as audio:
        return audio.getframerate(), audio.getnchannels(), audio.readframes(audio.getnframes())


@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_images_generate_inline_decodes(openai_client, model):
    result = openai_client.images.generate(model=model, prompt=SCENE, size="1024x1024")
    assert len(result.data) == 1
    picture = decode_image(base64.b64decode(result.data[0].b64_json))
    assert picture.format == "PNG"
    assert picture.size == (1024, 1024)
    assert result.usage is not None and result.usage.output_tokens > 0


@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_images_generate_as_urls_serves_the_picture(openai_client, model):
    result = openai_client.images.generate(
        model=model,
        prompt=SCENE,
        extra_headers={"x-airlock-media": "url"},
    )
    item = result.data[0]
    assert item.b64_json is None
    assert "/media/" in item.url and "sig=" in item.url
    status, headers, body = fetch(item.url)
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert "immutable" in headers["Cache-Control"]
    decode_image(body)


@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_images_edit_sends_the_picture_and_gets_another(openai_client, model):
    original = base64.b64decode(
        openai_client.images.generate(model=model, prompt="an empty white room").data[0].b64_json
    )
    edited = openai_client.images.edit(
        model=model,
        image=("room.png", original, "image/png"),
        prompt="paint the walls a deep blue",
    )
    data = base64.b64decode(edited.data[0].b64_json)
    decode_image(data)
    assert data != original


@pytest.mark.parametrize("model,voice", SPEECH_MODELS)
def test_speech_as_wav_decodes_and_lasts_as_long_as_the_text(openai_client, model, voice):
    response = openai_client.audio.speech.create(
        model=model, voice=voice, input=NARRATION, response_format="wav"
    )
    rate, channels, frames = read_wav(response.content)
    assert (rate, channels) == (24000, 1)
    # The simulator speaks 50 ms a character.
    assert len(frames) == len(NARRATION) * 24000 * 2 // 20


@pytest.mark.parametrize("model,voice", SPEECH_MODELS)
def test_speech_streamed_as_events_carries_the_pcm(openai_client, model, voice):
    with openai_client.audio.speech.with_streaming_response.create(
        model=model, voice=voice, input=NARRATION, response_format="pcm", stream_format="sse"
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[len("data: "):])
            for line in response.iter_lines()
            if line.startswith("data: ")
        ]
    pcm = b"".join(
        base64.b64decode(event["audio"]) for event in events if event["type"] == "speech.audio.delta"
    )
    assert len(pcm) == len(NARRATION) * 24000 * 2 // 20
    assert events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["output_tokens"] > 0


@pytest.mark.parametrize("model", TRANSCRIBE_MODELS)
def test_transcription_reads_back_the_narration(openai_client, model):
    wav = openai_client.audio.speech.create(
        model="tts-1", voice="alloy", input=NARRATION, response_format="wav"
    ).content
    transcript = openai_client.audio.transcriptions.create(
        model=model, file=("narration.wav", wav, "audio/wav")
    )
    assert transcript.text == NARRATION
    text = openai_client.audio.transcriptions.create(
        model=model, file=("narration.wav", wav, "audio/wav"), response_format="text"
    )
    assert text.strip() == NARRATION


def test_a_text_file_posted_as_audio_is_refused(openai_client):
    import openai

    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.audio.transcriptions.create(
            model="whisper-1", file=("notes.wav", b"just some words", "audio/wav")
        )
    assert caught.value.body["param"] == "file"


def image_config():
    return types.GenerateContentConfig(
        response_modalities=["IMAGE"],
        image_config=types.ImageConfig(aspect_ratio="16:9"),
    )


def test_genai_image_model_answers_a_decodable_picture(genai_client):
    response = genai_client.models.generate_content(
        model="gemini-2.5-flash-image", contents=SCENE, config=image_config()
    )
    parts = [p for p in response.candidates[0].content.parts if p.inline_data]
    assert parts, response
    assert parts[0].inline_data.mime_type == "image/png"
    picture = decode_image(parts[0].inline_data.data)
    assert picture.size == (1344, 768)


def test_genai_image_model_with_media_as_urls_answers_file_data(gateway):
    client = make_genai(gateway.url)
    client_with_urls = type(client)(
        api_key=MASTER_KEY,
        vertexai=False,
        http_options={"base_url": gateway.url, "headers": {"x-airlock-media": "url"}},
    )
    response = client_with_urls.models.generate_content(
        model="gemini-2.5-flash-image", contents=SCENE, config=image_config()
    )
    files = [p.file_data for p in response.candidates[0].content.parts if p.file_data]
    assert files, response
    assert files[0].mime_type == "image/png"
    status, _, body = fetch(files[0].file_uri)
    assert status == 200
    assert decode_image(body).size == (1344, 768)


def test_genai_tts_model_speaks_pcm_a_wave_file_holds(genai_client):
    response = genai_client.models.generate_content(
        model="gemini-2.5-flash-preview-tts",
        contents=NARRATION,
        config=types.GenerateContentConfig(
            response_modalities=["AUDIO"],
            speech_config=types.SpeechConfig(
                voice_config=types.VoiceConfig(
                    prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore")
                )
            ),
        ),
    )
    inline = response.candidates[0].content.parts[0].inline_data
    assert inline.mime_type.startswith("audio/L16")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(24000)
        out.writeframes(inline.data)
    rate, channels, frames = read_wav(buffer.getvalue())
    assert (rate, channels) == (24000, 1)
    assert len(frames) == len(NARRATION) * 24000 * 2 // 20


def test_the_readme_story_app_scene_runs_as_written(gateway, tmp_path, monkeypatch):
    """The README's story-app example, its code block read from the README
    and run with only the base URL and key changed."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Images, speech and transcription", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("http://127.0.0.1:8080", gateway.url).replace(
        "choose-a-client-key", MASTER_KEY
    )
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    picture = decode_image((tmp_path / "scene-1.png").read_bytes())
    assert picture.size == (1248, 832)  # 1536x1024 is 3:2, which Gemini draws so
    thumbnail = decode_image((tmp_path / "scene-1-thumb.webp").read_bytes())
    assert thumbnail.format == "WEBP" and thumbnail.size == (256, 171)
    rate, channels, frames = read_wav((tmp_path / "scene-1.wav").read_bytes())
    assert (rate, channels) == (24000, 1) and len(frames) > 0
