"""ASR settings: NEURAL_HIVE_ASR_* environment variables, or built by the gateway."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from neural_hive.asr.formats import AudioFormat


def normalise_language(value: str | None) -> str | None:
    """'pt-BR' -> 'pt', '' -> None: Whisper takes bare ISO 639-1 codes."""
    if value is None:
        return None
    code = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return code or None


class AsrSettings(BaseSettings):
    """Speech recognition for the voice route.

    Environment: NEURAL_HIVE_ASR_MODEL_PATH, NEURAL_HIVE_ASR_MAX_UPLOAD_BYTES,
    NEURAL_HIVE_ASR_MAX_DURATION_S, NEURAL_HIVE_ASR_ALLOWED_FORMATS='["wav","mp3"]', ...
    """

    model_config = SettingsConfigDict(
        env_prefix="NEURAL_HIVE_ASR_", extra="ignore", protected_namespaces=()
    )

    # An openai-whisper checkpoint file ({"dims", "model_state_dict"}); None: no model
    # installed, the voice route answers 503.
    model_path: Path | None = None
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_duration_s: float = Field(default=60.0, gt=0)
    # Shorter decoded audio is rejected (422): nothing to recognise in it.
    min_duration_s: float = Field(default=0.1, ge=0)
    allowed_formats: tuple[AudioFormat, ...] = tuple(AudioFormat)
    # Wall-clock limit of each ffprobe/ffmpeg run on one upload.
    ffmpeg_timeout_s: float = Field(default=20.0, gt=0)
    ffmpeg_path: str = "ffmpeg"
    ffprobe_path: str = "ffprobe"
    # Language hint (ISO 639-1, e.g. "pt"); None: Whisper detects it per upload.
    language: str | None = None
    # Upper bound on tokens decoded per 30-second window (Whisper's sample_len; at most 224).
    max_tokens_per_window: int = Field(default=224, ge=1, le=224)
    # Whisper's temperature fallback (re-decodes a window up to 5 more times when the
    # output looks degenerate): better text, up to 6x the worst-case time.
    temperature_fallback: bool = True
    # torch intra-op threads for inference; None: torch's default.
    torch_threads: int | None = Field(default=None, ge=1)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return normalise_language(value)

    @field_validator("allowed_formats")
    @classmethod
    def _formats(cls, value: tuple[AudioFormat, ...]) -> tuple[AudioFormat, ...]:
        if not value:
            raise ValueError("allowed_formats must not be empty")
        return tuple(f for f in AudioFormat if f in value)
