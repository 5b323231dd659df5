"""The voice route end to end: espeak-ng speech, ffmpeg formats, a tiny real Whisper model."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_support import Gateway, babbling_asr_env, running_gateway, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("kafka_topics")]
FORMATS = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
}


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("speech")
    wav = out / "intent.wav"
    subprocess.run(
        ["espeak-ng", "-v", "pt", "-w", str(wav), "preciso do relatório de vendas do trimestre"],
        check=True,
    )
    files = {"wav": wav.read_bytes()}
    for ext in ("mp3", "ogg", "flac", "m4a"):
        target = out / f"intent.{ext}"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), str(target)],
            check=True,
        )
        files[ext] = target.read_bytes()
    long_wav = out / "long.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            "en",
            "-w",
            str(long_wav),
            "this recording keeps talking for much longer than the limit " * 4,
        ],
        check=True,
    )
    long_mp3 = out / "long.mp3"  # small in bytes, long in seconds
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(long_wav),
            "-b:a",
            "32k",
            str(long_mp3),
        ],
        check=True,
    )
    files["long"] = long_mp3.read_bytes()
    return files


@pytest.fixture(scope="module")
def voice_gateway(
    tmp_path_factory: pytest.TempPathFactory, nlu_model_dir: Path, bootstrap: str, redis_url: str
) -> Iterator[Gateway]:
    asr = babbling_asr_env(tmp_path_factory.mktemp("asr"), max_tokens=16)
    with running_gateway(
        nlu_model_dir,
        bootstrap,
        redis_url,
        NEURAL_HIVE_ASR_MAX_DURATION_S="5",
        NEURAL_HIVE_ASR_MAX_UPLOAD_BYTES="400000",
        **asr,
    ) as gw:
        ready = wait_ready(gw)
        assert ready["checks"]["asr"]["state"] == "ok"
        yield gw


def send(gw: Gateway, name: str, data: bytes, ctype: str, **form: str) -> httpx.Response:
    return httpx.post(
        f"{gw.base}/intentions/voice",
        headers=gw.headers(),
        data=form,
        files={"audio": (name, data, ctype)},
        timeout=60,
    )


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_audio_format_becomes_a_published_voice_intent(
    voice_gateway: Gateway, speech: dict[str, bytes], fmt: str
) -> None:
    r = send(
        voice_gateway,
        f"intent.{fmt}",
        speech[fmt],
        FORMATS[fmt],
        language="pt",
        correlation_id=f"voice-{fmt}-{id(speech)}",
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["transcript"]
    assert body["language"] == "pt"
    assert body["status"] in ("processed", "routed_to_validation")
    env = httpx.get(
        f"{voice_gateway.base}/intentions/{body['intent_id']}", headers=voice_gateway.headers()
    ).json()["envelope"]
    assert env["context"]["source"] == "voice"
    assert env["intent"]["text"] == body["transcript"]


@pytest.mark.parametrize(
    ("name", "data", "ctype", "status", "fragment"),
    [
        ("empty.wav", b"", "audio/wav", 400, ""),
        ("notes.wav", b"this is a text file, not audio at all\n" * 20, "audio/wav", 415, ""),
        ("picture.wav", b"\x89PNG\r\n\x1a\n" + b"\0" * 512, "image/png", 415, ""),
        ("big.wav", b"RIFF" + b"\0" * 450_000, "audio/wav", 413, ""),
    ],
)
def test_bad_audio_gets_a_clear_4xx(
    voice_gateway: Gateway, name: str, data: bytes, ctype: str, status: int, fragment: str
) -> None:
    r = send(voice_gateway, name, data, ctype)
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    assert r.json()["error"]


def test_corrupt_and_too_long_audio_are_422(
    voice_gateway: Gateway, speech: dict[str, bytes]
) -> None:
    corrupt = speech["mp3"][:200] + bytes(range(256)) * 8
    r = send(voice_gateway, "broken.mp3", corrupt, "audio/mpeg")
    assert r.status_code == 422, r.text
    assert len(speech["long"]) < 400_000
    r = send(voice_gateway, "long.mp3", speech["long"], "audio/mpeg")
    assert r.status_code == 422
    assert "5" in r.json()["detail"]


def test_voice_needs_multipart_and_a_token(
    voice_gateway: Gateway, speech: dict[str, bytes]
) -> None:
    r = httpx.post(
        f"{voice_gateway.base}/intentions/voice",
        json={"audio": "x"},
        headers=voice_gateway.headers(),
    )
    assert r.status_code == 415
    r = httpx.post(
        f"{voice_gateway.base}/intentions/voice",
        files={"audio": ("a.wav", speech["wav"], "audio/wav")},
    )
    assert r.status_code == 401
