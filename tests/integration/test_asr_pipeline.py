"""The real ASR pipeline: espeak-ng speech, ffmpeg/ffprobe decoding, a Whisper checkpoint.

No trained weights can be had here, so the checkpoint is a tiny randomly initialised one
(neural_hive.asr.tiny_model): the words are noise, so the tests assert behaviour (format
handling, durations, statuses, messages, serialisation), never the text.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neural_hive.asr import (
    MODEL_PATH_ENV,
    AsrError,
    AsrSettings,
    AsrUnavailableError,
    AudioError,
    AudioFormat,
    Transcriber,
    TranscriptionResult,
    decode,
)
from neural_hive.asr.tiny_model import build_tiny_checkpoint, main

pytestmark = pytest.mark.integration

SENTENCES = {
    "pt": "Preciso do relatório de vendas do último trimestre, por favor.",
    "en": "Please deploy the new version of the billing service to production.",
    "es": "Necesito revisar los permisos de acceso del servidor de seguridad.",
}
FORMATS = [f.value for f in AudioFormat]
ENCODE_ARGS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "ogg": ["-c:a", "libvorbis"],
    "flac": ["-c:a", "flac"],
    "m4a": ["-c:a", "aac", "-b:a", "64k"],  # moov atom at the end: needs a seekable input
}
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (scripts/test.sh installs it)")
    return path


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("asr-model") / "tiny-whisper.pt")


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("asr-speech")
    espeak = _tool("espeak-ng")
    for lang, sentence in SENTENCES.items():
        wav = out / f"{lang}.wav"
        subprocess.run([espeak, "-v", lang, "-w", str(wav), sentence], check=True, timeout=60)
        for fmt, args in ENCODE_ARGS.items():
            _ffmpeg("-i", str(wav), *args, str(out / f"{lang}.{fmt}"))
    return out


def _wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def _settings(model_path: Path | None, **overrides: Any) -> AsrSettings:
    base: dict[str, Any] = {
        "model_path": model_path,
        "max_tokens_per_window": 8,  # bounded decoding: the random model never stops
        "temperature_fallback": False,
    }
    base.update(overrides)
    return AsrSettings(**base)


@pytest.fixture(scope="module")
def transcriber(model_path: Path) -> Transcriber:
    t = Transcriber(_settings(model_path))
    t.load()
    return t


async def _status(
    transcriber: Transcriber, data: bytes, filename: str | None, content_type: str | None
) -> AsrError:
    with pytest.raises(AsrError) as exc:
        await transcriber.transcribe(data, filename, content_type)
    return exc.value


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("lang", list(SENTENCES))
async def test_each_format_transcribes(
    transcriber: Transcriber, speech_dir: Path, lang: str, fmt: str
) -> None:
    data = (speech_dir / f"{lang}.{fmt}").read_bytes()
    result = await transcriber.transcribe(data, f"{lang}.{fmt}", f"audio/{fmt}")
    assert isinstance(result, TranscriptionResult)
    assert isinstance(result.text, str)
    assert result.audio_format == AudioFormat(fmt)
    source = _wav_duration(speech_dir / f"{lang}.wav")
    assert result.duration_s == pytest.approx(source, abs=0.15)
    assert isinstance(result.language, str)
    assert result.language_detected
    assert result.processing_ms > 0


async def test_language_hint_is_used(transcriber: Transcriber, speech_dir: Path) -> None:
    data = (speech_dir / "pt.ogg").read_bytes()
    result = await transcriber.transcribe(data, "pt.ogg", "audio/ogg", language="pt-BR")
    assert result.language == "pt"
    assert not result.language_detected

    by_name = await transcriber.transcribe(data, "pt.ogg", None, language="Portuguese")
    assert by_name.language == "pt"

    error = None
    try:
        await transcriber.transcribe(data, "pt.ogg", None, language="klingon")
    except AudioError as exc:
        error = exc
    assert error is not None
    assert (error.status_code, error.code) == (400, "unsupported_language")


async def test_long_m4a_with_index_at_the_end(transcriber: Transcriber, tmp_path: Path) -> None:
    # Bigger than ffmpeg's pipe buffer: from a plain pipe this fails ("moov atom not found").
    path = tmp_path / "tone.m4a"
    _ffmpeg("-f", "lavfi", "-i", "sine=f=300:d=20", "-c:a", "aac", "-b:a", "128k", str(path))
    result = await transcriber.transcribe(path.read_bytes(), "tone.m4a", "audio/mp4")
    assert result.duration_s == pytest.approx(20.0, abs=0.15)


async def test_empty_is_400(transcriber: Transcriber) -> None:
    error = await _status(transcriber, b"", "empty.wav", "audio/wav")
    assert (error.status_code, error.code) == (400, "empty_audio")


async def test_random_bytes_are_415(transcriber: Transcriber) -> None:
    data = random.Random(7).randbytes(50_000)
    error = await _status(transcriber, data, "noise.wav", "audio/wav")
    assert (error.status_code, error.code) == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [(PNG, "PNG image"), (b"this is not audio at all\n" * 40, "text")],
)
async def test_other_content_named_wav_is_415(
    transcriber: Transcriber, data: bytes, looks_like: str
) -> None:
    error = await _status(transcriber, data, "voice.wav", "audio/wav")
    assert error.status_code == 415
    assert looks_like in error.message
    assert "wav, mp3, ogg, flac, m4a" in error.message


async def test_declared_non_audio_type_is_415(transcriber: Transcriber, speech_dir: Path) -> None:
    data = (speech_dir / "en.wav").read_bytes()
    error = await _status(transcriber, data, "en.wav", "text/plain")
    assert error.status_code == 415


async def test_container_without_audio_is_415(transcriber: Transcriber, tmp_path: Path) -> None:
    path = tmp_path / "video.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=d=1:s=64x64", "-c:v", "mpeg4", "-an", str(path))
    error = await _status(transcriber, path.read_bytes(), "video.m4a", "audio/mp4")
    assert error.status_code == 415
    assert "without an audio stream" in error.message


async def test_corrupted_mp3_is_422(transcriber: Transcriber, speech_dir: Path) -> None:
    data = bytearray((speech_dir / "en.mp3").read_bytes())
    data[700:] = random.Random(3).randbytes(len(data) - 700)  # ID3 tag kept, frames garbage
    error = await _status(transcriber, bytes(data), "en.mp3", "audio/mpeg")
    assert (error.status_code, error.code) == (422, "undecodable_audio")
    assert "mp3" in error.message


@pytest.mark.parametrize(("fmt", "keep"), [("mp3", 600), ("mp3", 300), ("wav", 44), ("flac", 60)])
async def test_truncated_audio_is_422(
    transcriber: Transcriber, speech_dir: Path, fmt: str, keep: int
) -> None:
    data = (speech_dir / f"es.{fmt}").read_bytes()[:keep]
    error = await _status(transcriber, data, f"es.{fmt}", None)
    assert error.status_code == 422
    assert error.code in {"undecodable_audio", "audio_too_short"}


async def test_too_long_is_422_with_limit_and_duration(model_path: Path, speech_dir: Path) -> None:
    transcriber = Transcriber(_settings(model_path, max_duration_s=2))
    source = _wav_duration(speech_dir / "pt.wav")
    error = await _status(transcriber, (speech_dir / "pt.flac").read_bytes(), "pt.flac", None)
    assert (error.status_code, error.code) == (422, "audio_too_long")
    assert "maximum duration is 2 s" in error.message
    assert f"{source:.1f} s" in error.message


def test_over_long_file_is_not_decoded_to_its_end(tmp_path: Path) -> None:
    path = tmp_path / "hour.flac"
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "3600", str(path))
    data = path.read_bytes()
    settings = AsrSettings(max_duration_s=2)
    started = time.perf_counter()
    with pytest.raises(AudioError) as exc:
        decode(data, settings, "hour.flac", "audio/flac")
    assert time.perf_counter() - started < 5  # an hour of audio would take far longer
    assert exc.value.status_code == 422
    assert "3600.0 s long" in exc.value.message
    assert "maximum duration is 2 s" in exc.value.message


async def test_too_large_is_413(model_path: Path, speech_dir: Path) -> None:
    transcriber = Transcriber(_settings(model_path, max_upload_bytes=10_000))
    data = (speech_dir / "en.wav").read_bytes()
    error = await _status(transcriber, data, "en.wav", "audio/wav")
    assert (error.status_code, error.code) == (413, "audio_too_large")
    assert "10000 bytes" in error.message


async def test_no_model_is_503(speech_dir: Path) -> None:
    transcriber = Transcriber(_settings(None))
    error = await _status(transcriber, (speech_dir / "en.wav").read_bytes(), "en.wav", None)
    assert isinstance(error, AsrUnavailableError)
    assert error.status_code == 503
    assert MODEL_PATH_ENV in error.message


@pytest.mark.parametrize("kind", ["missing", "directory", "garbage"])
async def test_unusable_model_path_is_503(speech_dir: Path, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "model.pt"
    if kind == "directory":
        path.mkdir()
    elif kind == "garbage":
        path.write_bytes(b"not a checkpoint")
    transcriber = Transcriber(_settings(path))
    error = await _status(transcriber, (speech_dir / "en.wav").read_bytes(), "en.wav", None)
    assert isinstance(error, AsrUnavailableError)
    assert error.status_code == 503
    assert str(path) in error.message
    assert MODEL_PATH_ENV in error.message
    expected = {"missing": "does not exist", "directory": "not a file", "garbage": "could not be"}
    assert expected[kind] in error.message


_LOAD_AS_OTHER_USER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from neural_hive.asr import AsrSettings, AsrUnavailableError, Transcriber\n"
    "try:\n"
    "    Transcriber(AsrSettings(model_path=Path(sys.argv[1]))).load()\n"
    "except AsrUnavailableError as exc:\n"
    "    print(exc.status_code, exc.code, exc.message)\n"
)


@pytest.mark.parametrize(
    ("blocked", "expected"),
    [("file", "is not readable"), ("directory", "cannot be reached")],
)
def test_unreadable_model_is_503(
    model_path: Path, tmp_path: Path, blocked: str, expected: str
) -> None:
    """The phase-3 lesson: a model only root can read fails under the container's uid."""
    with tempfile.TemporaryDirectory() as scratch:
        outer = Path(scratch)
        private = outer / "models"
        private.mkdir()
        path = private / "model.pt"
        shutil.copyfile(model_path, path)
        outer.chmod(0o755)
        if blocked == "file":
            private.chmod(0o755)
            path.chmod(0o600 if os.geteuid() == 0 else 0o000)
        else:
            private.chmod(0o700 if os.geteuid() == 0 else 0o000)
        prefix: list[str] = []
        if os.geteuid() == 0:
            # root reads everything: load as another uid, as the gateway's container does
            prefix = [_tool("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups"]
        proc = subprocess.run(
            [*prefix, sys.executable, "-c", _LOAD_AS_OTHER_USER, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        private.chmod(0o755)
    if proc.returncode != 0 and "neural_hive" in proc.stderr:
        pytest.skip(f"cannot run the package as another user here: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("503 asr_model_unreadable"), proc.stdout
    assert expected in proc.stdout
    assert "readable by any user" in proc.stdout
    assert MODEL_PATH_ENV in proc.stdout


_TRANSCRIBE_AS_OTHER_USER = (
    "import asyncio, sys\n"
    "from pathlib import Path\n"
    "from neural_hive.asr import AsrSettings, Transcriber\n"
    "settings = AsrSettings(\n"
    "    model_path=Path(sys.argv[1]), max_tokens_per_window=4, temperature_fallback=False\n"
    ")\n"
    "data = Path(sys.argv[2]).read_bytes()\n"
    "result = asyncio.run(Transcriber(settings).transcribe(data, 'voice.m4a', None))\n"
    "print(result.model_dump_json())\n"
)


def test_transcribes_as_another_uid_without_a_home(model_path: Path, speech_dir: Path) -> None:
    """A world-readable model loads and runs with an unwritable HOME: no cache is written."""
    with tempfile.TemporaryDirectory() as scratch:
        outer = Path(scratch)
        outer.chmod(0o755)
        model = outer / "model.pt"
        audio = outer / "voice.m4a"
        shutil.copyfile(model_path, model)
        shutil.copyfile(speech_dir / "en.m4a", audio)
        for path in (model, audio):
            path.chmod(0o444)
        prefix: list[str] = []
        if os.geteuid() == 0:
            prefix = [_tool("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
        proc = subprocess.run(
            [*prefix, sys.executable, "-c", _TRANSCRIBE_AS_OTHER_USER, str(model), str(audio)],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
            env=env,
        )
        leftovers = sorted(p.name for p in outer.iterdir())
    if proc.returncode != 0 and "No module named 'neural_hive'" in proc.stderr:
        pytest.skip(f"cannot run the package as another user here: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr
    result = TranscriptionResult.model_validate_json(proc.stdout)
    assert result.duration_s == pytest.approx(_wav_duration(speech_dir / "en.wav"), abs=0.15)
    assert leftovers == ["model.pt", "voice.m4a"]


def test_missing_ffmpeg_is_503(speech_dir: Path) -> None:
    settings = AsrSettings(ffprobe_path="/nonexistent/ffprobe")
    with pytest.raises(AsrUnavailableError) as exc:
        decode((speech_dir / "en.wav").read_bytes(), settings, "en.wav", None)
    assert exc.value.status_code == 503
    assert "ffmpeg" in exc.value.message


def test_decoder_timeout_is_422(speech_dir: Path) -> None:
    settings = AsrSettings(ffmpeg_timeout_s=0.001)
    with pytest.raises(AudioError) as exc:
        decode((speech_dir / "en.wav").read_bytes(), settings, "en.wav", None)
    assert exc.value.status_code == 422
    assert "took longer than" in exc.value.message


@pytest.fixture
def concurrency_probe(transcriber: Transcriber) -> Iterator[dict[str, int]]:
    seen = {"active": 0, "max": 0, "calls": 0}
    guard = threading.Lock()
    original = transcriber._transcribe_sync

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with guard:
            seen["active"] += 1
            seen["calls"] += 1
            seen["max"] = max(seen["max"], seen["active"])
        try:
            time.sleep(0.05)  # widen the window an unserialised call would overlap in
            return original(*args, **kwargs)
        finally:
            with guard:
                seen["active"] -= 1

    transcriber._transcribe_sync = wrapped  # type: ignore[method-assign]
    yield seen
    del transcriber._transcribe_sync


async def test_concurrent_transcriptions_are_serialised(
    transcriber: Transcriber, speech_dir: Path, concurrency_probe: dict[str, int]
) -> None:
    uploads = [(speech_dir / f"{lang}.{fmt}") for lang in SENTENCES for fmt in ("wav", "mp3")]
    results = await asyncio.gather(
        *(transcriber.transcribe(p.read_bytes(), p.name, None) for p in uploads)
    )
    assert len(results) == len(uploads)
    assert all(isinstance(r.text, str) for r in results)
    assert concurrency_probe["calls"] == len(uploads)
    assert concurrency_probe["max"] == 1


def test_tiny_model_cli_writes_a_world_readable_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "tiny.pt"
    assert main([str(out), "--width", "32", "--heads", "1"]) == 0
    assert out.stat().st_mode & 0o444 == 0o444
    transcriber = Transcriber(_settings(out))
    transcriber.load()
    assert transcriber.loaded
