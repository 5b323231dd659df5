"""Check and decode an upload with ffprobe and ffmpeg: bytes in, 16 kHz mono float32 PCM out.

The bytes reach ffmpeg on its stdin and never touch a file system: on Linux stdin is an
anonymous memory file (memfd), which ffmpeg opens as `file:/dev/stdin` and can seek, so
MP4/M4A files with the index at the end decode too; elsewhere it is a plain pipe. The
decoder stops at the duration limit, so an over-long upload costs at most that much work.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from neural_hive.asr import errors
from neural_hive.asr.formats import DEMUXERS, AudioFormat, allowed_list, describe, sniff
from neural_hive.asr.formats import content_type_ok as _content_type_ok
from neural_hive.asr.settings import AsrSettings

log = logging.getLogger(__name__)

SAMPLE_RATE: Final = 16_000
BYTES_PER_SAMPLE: Final = 4  # float32
# Decoding runs this far past the limit, so "too long" is told apart from "exactly at it".
_OVERRUN_S: Final = 0.5
# Encoders pad (AAC priming, MP3 frames): a file cut at the limit may decode a little longer.
_TOLERANCE_S: Final = 0.1


@dataclass(frozen=True, slots=True)
class ProbeResult:
    format_name: str
    duration_s: float | None
    audio_streams: int


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """Raw little-endian float32 mono samples at SAMPLE_RATE."""

    pcm: bytes
    format: AudioFormat
    probed_duration_s: float | None

    @property
    def samples(self) -> int:
        return len(self.pcm) // BYTES_PER_SAMPLE

    @property
    def duration_s(self) -> float:
        return self.samples / SAMPLE_RATE


def _clip(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _name(filename: str | None) -> str:
    return f"'{_clip(filename)}'" if filename else "the upload"


def check_upload(
    data: bytes, settings: AsrSettings, filename: str | None = None, content_type: str | None = None
) -> AudioFormat:
    """Cheap checks without running anything: size, declared type and magic number.

    Raises AudioError 400 (empty), 413 (too large) or 415 (not an accepted format).
    """
    if not data:
        raise errors.empty_audio()
    if len(data) > settings.max_upload_bytes:
        raise errors.too_large(len(data), settings.max_upload_bytes)
    accepted = allowed_list(settings.allowed_formats)
    if not _content_type_ok(content_type):
        raise errors.unsupported(
            f"{_name(filename)} has content type '{_clip(content_type or '')}', which is "
            f"not audio; accepted formats: {accepted}"
        )
    fmt = sniff(data)
    if fmt is None:
        raise errors.unsupported(
            f"{_name(filename)} is not audio in an accepted format (its content looks like "
            f"{describe(data)}); accepted formats: {accepted}"
        )
    if fmt not in settings.allowed_formats:
        raise errors.unsupported(
            f"{_name(filename)} is {fmt.value} audio, which is not accepted here; "
            f"accepted formats: {accepted}"
        )
    return fmt


@contextmanager
def _stdin_for(data: bytes) -> Iterator[int | None]:
    """A memfd holding `data` to pass as stdin, or None: pipe `data` instead."""
    if sys.platform == "linux" and hasattr(os, "memfd_create"):
        fd = os.memfd_create("neural-hive-asr-upload", os.MFD_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.lseek(fd, 0, os.SEEK_SET)
            yield fd
        finally:
            os.close(fd)
    else:  # pragma: no cover - not Linux
        yield None


def _run(
    argv: Sequence[str], data: bytes, settings: AsrSettings, what: str
) -> subprocess.CompletedProcess[bytes]:
    try:
        with _stdin_for(data) as fd:
            if fd is not None:
                return subprocess.run(  # noqa: S603 - fixed argv, no shell
                    argv,
                    stdin=fd,
                    capture_output=True,
                    timeout=settings.ffmpeg_timeout_s,
                    check=False,
                )
            return subprocess.run(  # noqa: S603 - fixed argv, no shell
                argv,
                input=data,
                capture_output=True,
                timeout=settings.ffmpeg_timeout_s,
                check=False,
            )
    except FileNotFoundError as exc:
        raise errors.AsrUnavailableError(
            f"{argv[0]} is not installed on this server ({exc.strerror}); the voice route "
            "needs ffmpeg and ffprobe on PATH (or NEURAL_HIVE_ASR_FFMPEG_PATH / "
            "NEURAL_HIVE_ASR_FFPROBE_PATH)",
            code="ffmpeg_unavailable",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise errors.undecodable(
            f"{what} took longer than {settings.ffmpeg_timeout_s:g} s; the audio could not be "
            "decoded in time"
        ) from exc


def _input_url() -> str:
    return (
        "file:/dev/stdin"
        if sys.platform == "linux" and hasattr(os, "memfd_create")
        else "pipe:0"  # pragma: no cover
    )


def _input_options(fmt: AudioFormat) -> list[str]:
    # Only the sniffed format's demuxer may open the input, and it may open nothing else
    # (no network, no other files: playlists and references are refused).
    return [
        "-protocol_whitelist",
        "file,pipe",
        "-format_whitelist",
        ",".join(DEMUXERS[fmt]),
    ]


def _stderr_tail(proc: subprocess.CompletedProcess[bytes]) -> str:
    text = proc.stderr.decode("utf-8", "replace").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    tail = "; ".join(lines[-3:])
    return tail.replace("file:/dev/stdin: ", "").replace("pipe:0: ", "")[:300]


def probe(
    data: bytes, fmt: AudioFormat, settings: AsrSettings, filename: str | None = None
) -> ProbeResult:
    """What ffprobe finds in the bytes. Raises AudioError 415 or 422."""
    argv = [
        settings.ffprobe_path,
        "-hide_banner",
        "-loglevel",
        "error",
        *_input_options(fmt),
        "-show_entries",
        "format=format_name,duration:stream=codec_type",
        "-of",
        "json",
        _input_url(),
    ]
    proc = _run(argv, data, settings, "reading the audio's format")
    if proc.returncode != 0:
        raise errors.undecodable(
            f"{_name(filename)} looks like {fmt.value} but cannot be read as audio "
            f"(corrupt or truncated): {_stderr_tail(proc) or 'ffprobe failed'}"
        )
    try:
        doc: dict[str, Any] = json.loads(proc.stdout or b"{}")
    except ValueError as exc:
        raise errors.undecodable(f"{_name(filename)}: unreadable ffprobe output") from exc
    fmt_doc = doc.get("format") or {}
    format_name = str(fmt_doc.get("format_name", ""))
    if not set(format_name.split(",")) & set(DEMUXERS[fmt]):
        raise errors.undecodable(
            f"{_name(filename)} starts like {fmt.value} but its content is '{format_name}'"
        )
    streams = doc.get("streams") or []
    audio_streams = sum(
        1 for s in streams if isinstance(s, dict) and s.get("codec_type") == "audio"
    )
    if audio_streams == 0:
        raise errors.unsupported(
            f"{_name(filename)} is a {fmt.value} container without an audio stream"
        )
    duration: float | None
    try:
        duration = float(fmt_doc["duration"])
    except (KeyError, TypeError, ValueError):
        duration = None
    return ProbeResult(format_name=format_name, duration_s=duration, audio_streams=audio_streams)


def decode(
    data: bytes,
    settings: AsrSettings,
    filename: str | None = None,
    content_type: str | None = None,
) -> DecodedAudio:
    """Check, probe and decode an upload (blocking: run it in a worker thread).

    Raises AudioError (400, 413, 415, 422) or AsrUnavailableError (no ffmpeg).
    """
    fmt = check_upload(data, settings, filename, content_type)
    probed = probe(data, fmt, settings, filename)
    limit = settings.max_duration_s
    argv = [
        settings.ffmpeg_path,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        *_input_options(fmt),
        "-i",
        _input_url(),
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-t",
        f"{limit + _OVERRUN_S:.3f}",
        "-f",
        "f32le",
        "-acodec",
        "pcm_f32le",
        "pipe:1",
    ]
    proc = _run(argv, data, settings, "decoding the audio")
    if proc.returncode != 0:
        raise errors.undecodable(
            f"{_name(filename)} could not be decoded as {fmt.value} (corrupt or truncated): "
            f"{_stderr_tail(proc) or 'ffmpeg failed'}"
        )
    pcm = proc.stdout[: len(proc.stdout) - len(proc.stdout) % BYTES_PER_SAMPLE]
    audio = DecodedAudio(pcm=pcm, format=fmt, probed_duration_s=probed.duration_s)
    decoded = audio.duration_s
    if decoded > limit + _TOLERANCE_S:
        if decoded < limit + _OVERRUN_S - 0.01:  # decoded to its end: exact
            measured = f"{decoded:.1f} s long"
        elif probed.duration_s is not None and probed.duration_s > limit:
            measured = f"{probed.duration_s:.1f} s long"
        else:
            measured = f"longer than {limit + _OVERRUN_S:g} s (decoding stopped there)"
        raise errors.too_long(
            f"{_name(filename)} is {measured}; the maximum duration is {limit:g} s"
        )
    if decoded < settings.min_duration_s:
        raise errors.too_short(
            f"{_name(filename)} holds {decoded:.2f} s of decodable audio; at least "
            f"{settings.min_duration_s:g} s is needed (corrupt, truncated or empty audio)"
        )
    if proc.stderr.strip():
        log.debug("ffmpeg warnings for %s: %s", _name(filename), _stderr_tail(proc))
    return audio
