"""Errors the gateway turns into JSON responses: `status_code` is the HTTP status to send."""

from __future__ import annotations

from typing import Final

MODEL_PATH_ENV: Final = "NEURAL_HIVE_ASR_MODEL_PATH"

INSTALL_HINT: Final = (
    f"Point {MODEL_PATH_ENV} (setting asr model_path) at an openai-whisper .pt checkpoint "
    "file readable by any user, e.g. /opt/neural-hive/models/whisper/base.pt; the gateway "
    "image bakes one in at build time. For development, "
    "`python -m neural_hive.asr.tiny_model OUT.pt` writes a tiny untrained checkpoint."
)


class AsrError(Exception):
    """Base of every ASR error: an HTTP status, a stable machine code and a readable message."""

    status_code: int
    code: str
    message: str

    def __init__(self, message: str, *, status_code: int, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code

    def to_dict(self) -> dict[str, str | int]:
        """A JSON body for the error response."""
        return {"error": self.code, "detail": self.message, "status": self.status_code}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_code}, {self.code!r}, {self.message!r})"


class AudioError(AsrError):
    """The upload cannot be transcribed: a 4xx the client can fix.

    400 empty audio, 413 too large, 415 not a supported audio format, 422 corrupt,
    undecodable, too short or too long.
    """


class AsrUnavailableError(AsrError):
    """No usable speech model (or no ffmpeg) on this server: 503."""

    def __init__(self, message: str, *, code: str = "asr_unavailable") -> None:
        super().__init__(message, status_code=503, code=code)


def empty_audio() -> AudioError:
    return AudioError("the uploaded audio is empty (0 bytes)", status_code=400, code="empty_audio")


def too_large(size: int, limit: int) -> AudioError:
    return AudioError(
        f"the uploaded audio is {size} bytes; the limit is {limit} bytes",
        status_code=413,
        code="audio_too_large",
    )


def unsupported(detail: str) -> AudioError:
    return AudioError(detail, status_code=415, code="unsupported_media_type")


def undecodable(detail: str) -> AudioError:
    return AudioError(detail, status_code=422, code="undecodable_audio")


def too_long(detail: str) -> AudioError:
    return AudioError(detail, status_code=422, code="audio_too_long")


def too_short(detail: str) -> AudioError:
    return AudioError(detail, status_code=422, code="audio_too_short")
