"""ASR pieces that run nothing: format sniffing, upload checks, settings, errors, imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from neural_hive.asr import (
    MODEL_PATH_ENV,
    AsrSettings,
    AsrUnavailableError,
    AudioError,
    AudioFormat,
    Transcriber,
    check_upload,
)
from neural_hive.asr.formats import content_type_ok, describe, sniff

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
WAV_HEAD = b"RIFF\x24\x00\x00\x00WAVEfmt "
MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 60


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (WAV_HEAD, AudioFormat.WAV),
        (b"RF64\xff\xff\xff\xffWAVEds64", AudioFormat.WAV),
        (b"fLaC\x00\x00\x00\x22", AudioFormat.FLAC),
        (b"OggS\x00\x02" + b"\x00" * 20, AudioFormat.OGG),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00", AudioFormat.M4A),
        (b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + MP3_FRAME, AudioFormat.MP3),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00fLaC", AudioFormat.FLAC),
        (MP3_FRAME, AudioFormat.MP3),
        (PNG, None),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None),
        (b"\xff\xf1\x50\x80\x02\x1f\xfc", None),  # ADTS AAC: not accepted
        (b"\x1aE\xdf\xa3\x9fB\x86\x81", None),  # WebM
        (b"hello, this is text\n", None),
        (b"RIFF\x24\x00\x00\x00AVI LIST", None),
        (b"", None),
    ],
)
def test_sniff(data: bytes, expected: AudioFormat | None) -> None:
    assert sniff(data) == expected


def test_describe_says_what_non_audio_looks_like() -> None:
    assert describe(PNG) == "a PNG image"
    assert describe("olá, isto é texto".encode() * 100) == "text"
    assert describe(b"\x00\x01\x02\x03\xfe") == "unrecognised binary data"


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        (None, True),
        ("", True),
        ("audio/wav", True),
        ("Audio/X-M4A; charset=binary", True),
        ("application/octet-stream", True),
        ("application/ogg", True),
        ("video/mp4", True),
        ("image/png", False),
        ("text/plain; charset=utf-8", False),
        ("application/json", False),
    ],
)
def test_content_type_ok(content_type: str | None, ok: bool) -> None:
    assert content_type_ok(content_type) is ok


def test_check_upload_statuses() -> None:
    settings = AsrSettings(max_upload_bytes=100)
    with pytest.raises(AudioError) as empty:
        check_upload(b"", settings, "a.wav", "audio/wav")
    assert (empty.value.status_code, empty.value.code) == (400, "empty_audio")

    with pytest.raises(AudioError) as large:
        check_upload(WAV_HEAD * 20, settings, "a.wav", "audio/wav")
    assert large.value.status_code == 413
    assert "100 bytes" in large.value.message

    with pytest.raises(AudioError) as png:
        check_upload(PNG, settings, "voice.wav", "audio/wav")
    assert png.value.status_code == 415
    assert "PNG" in png.value.message
    assert "'voice.wav'" in png.value.message

    with pytest.raises(AudioError) as declared:
        check_upload(WAV_HEAD, settings, "voice.wav", "image/png")
    assert declared.value.status_code == 415
    assert "image/png" in declared.value.message

    assert check_upload(WAV_HEAD, settings, "voice.bin", None) is AudioFormat.WAV


def test_check_upload_respects_allowed_formats() -> None:
    settings = AsrSettings(allowed_formats=(AudioFormat.WAV,))
    with pytest.raises(AudioError) as exc:
        check_upload(MP3_FRAME, settings)
    assert exc.value.status_code == 415
    assert "accepted formats: wav" in exc.value.message


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    model = tmp_path / "whisper.pt"
    monkeypatch.setenv(MODEL_PATH_ENV, str(model))
    monkeypatch.setenv("NEURAL_HIVE_ASR_MAX_DURATION_S", "30")
    monkeypatch.setenv("NEURAL_HIVE_ASR_ALLOWED_FORMATS", '["mp3", "wav"]')
    monkeypatch.setenv("NEURAL_HIVE_ASR_LANGUAGE", "pt-BR")
    settings = AsrSettings()
    assert settings.model_path == model
    assert settings.max_duration_s == 30
    assert settings.allowed_formats == (AudioFormat.WAV, AudioFormat.MP3)
    assert settings.language == "pt"


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_PATH_ENV, raising=False)
    settings = AsrSettings()
    assert settings.model_path is None
    assert settings.max_upload_bytes == 10 * 1024 * 1024
    assert settings.max_duration_s == 60
    assert set(settings.allowed_formats) == {"wav", "mp3", "ogg", "flac", "m4a"}


def test_no_model_is_503_with_install_hint() -> None:
    transcriber = Transcriber(AsrSettings(model_path=None))
    assert not transcriber.configured
    with pytest.raises(AsrUnavailableError) as exc:
        transcriber.check_available()
    assert exc.value.status_code == 503
    assert MODEL_PATH_ENV in exc.value.message
    assert ".pt" in exc.value.message
    body = exc.value.to_dict()
    assert body["status"] == 503
    assert body["error"] == "asr_model_missing"


def test_import_loads_no_heavy_module() -> None:
    code = (
        "import sys, neural_hive.asr\n"
        "from neural_hive.asr import Transcriber, AsrSettings\n"
        "Transcriber(AsrSettings(model_path=None))\n"
        "heavy = {'torch', 'whisper', 'numpy'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
