"""Which audio formats are accepted, and what an upload's bytes actually are (magic numbers).

The decision is made on content: a name or a content type only gets an upload rejected,
never accepted. ffprobe then confirms the sniffed format (see `audio.py`).
"""

from __future__ import annotations

import codecs
from enum import StrEnum
from typing import Final


class AudioFormat(StrEnum):
    WAV = "wav"
    MP3 = "mp3"
    OGG = "ogg"
    FLAC = "flac"
    M4A = "m4a"


# ffmpeg demuxer names per format: the ffprobe/ffmpeg `-format_whitelist` for that upload,
# and what ffprobe's `format_name` must contain.
DEMUXERS: Final[dict[AudioFormat, tuple[str, ...]]] = {
    AudioFormat.WAV: ("wav",),
    AudioFormat.MP3: ("mp3",),
    AudioFormat.OGG: ("ogg",),
    AudioFormat.FLAC: ("flac",),
    AudioFormat.M4A: ("mov", "mp4", "m4a"),
}

# Content types that may carry one of the formats besides audio/* (browsers and HTTP
# clients send these); anything else that is declared is rejected with 415.
_NON_AUDIO_CONTENT_TYPES: Final = frozenset(
    {"application/octet-stream", "application/ogg", "application/x-ogg", "video/mp4", "video/ogg"}
)

# Well-known non-audio signatures, only to say in a 415 what the upload looks like.
_OTHER_SIGNATURES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1aE\xdf\xa3", "Matroska/WebM (not accepted)"),
    (b"\x7fELF", "an executable"),
)


def allowed_list(formats: tuple[AudioFormat, ...] | frozenset[AudioFormat]) -> str:
    return ", ".join(f.value for f in AudioFormat if f in formats)


def content_type_ok(content_type: str | None) -> bool:
    """False for a declared type that cannot be audio (image/png, text/plain, ...)."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return not media or media.startswith("audio/") or media in _NON_AUDIO_CONTENT_TYPES


def _mp3_frame_at(data: bytes, offset: int) -> bool:
    """A plausible MPEG audio (layer I-III) frame header at `offset` (ADTS AAC is not)."""
    if len(data) < offset + 4:
        return False
    b0, b1, b2 = data[offset], data[offset + 1], data[offset + 2]
    return (
        b0 == 0xFF
        and b1 & 0xE0 == 0xE0
        and (b1 >> 3) & 0x03 != 0x01  # reserved MPEG version
        and (b1 >> 1) & 0x03 != 0x00  # reserved layer (and ADTS)
        and b2 >> 4 != 0x0F  # bad bitrate index
        and (b2 >> 2) & 0x03 != 0x03  # reserved sample rate
    )


def _id3_end(data: bytes) -> int:
    """Offset just past an ID3v2 tag at the start of `data`."""
    size = 0
    for b in data[6:10]:
        size = (size << 7) | (b & 0x7F)
    footer = 10 if len(data) > 5 and data[5] & 0x10 else 0
    return 10 + size + footer


def sniff(data: bytes) -> AudioFormat | None:
    """The accepted format these bytes start like, or None."""
    head = data[:12]
    if head[8:12] == b"WAVE" and head[:4] in (b"RIFF", b"RF64", b"BW64"):
        return AudioFormat.WAV
    if head.startswith(b"fLaC"):
        return AudioFormat.FLAC
    if head.startswith(b"OggS"):
        return AudioFormat.OGG
    if head[4:8] == b"ftyp":
        return AudioFormat.M4A
    if head.startswith(b"ID3") and len(data) >= 10:
        end = _id3_end(data)
        if data[end : end + 4] == b"fLaC":
            return AudioFormat.FLAC
        return AudioFormat.MP3
    if _mp3_frame_at(data, 0):
        return AudioFormat.MP3
    return None


def describe(data: bytes) -> str:
    """What non-audio bytes look like, for a 415 message."""
    for signature, what in _OTHER_SIGNATURES:
        if data.startswith(signature):
            return what
    try:
        # final=False: a character cut at the end of the sample is not an error
        text = codecs.getincrementaldecoder("utf-8")().decode(data[:1024], final=False)
    except UnicodeDecodeError:
        return "unrecognised binary data"
    if "\x00" not in text:
        return "text"
    return "unrecognised binary data"
