"""Whisper speech recognition for the voice route.

torch, numpy and whisper are imported when the model is loaded, never at import time, so
the gateway starts (and answers 503 on the voice route) without them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from neural_hive.asr import audio as audio_mod
from neural_hive.asr.errors import INSTALL_HINT, AsrUnavailableError, AudioError
from neural_hive.asr.formats import AudioFormat
from neural_hive.asr.settings import AsrSettings, normalise_language

if TYPE_CHECKING:
    from neural_hive.asr.audio import DecodedAudio

log = logging.getLogger(__name__)

_FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


class TranscriptionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    # The language Whisper used: the hint when one was given, else the detected one.
    language: str | None
    language_detected: bool
    duration_s: float
    audio_format: AudioFormat
    processing_ms: float


class Transcriber:
    """Loads a Whisper checkpoint from a file and transcribes uploads, one at a time.

    Nothing heavy happens in the constructor: the model loads on `load()` / `aload()`
    (call it at startup to fail fast and warm up) or on the first `transcribe()`.
    """

    def __init__(self, settings: AsrSettings | None = None) -> None:
        self._settings = settings if settings is not None else AsrSettings()
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._infer_lock = threading.Lock()
        self._async_lock = asyncio.Lock()

    @property
    def settings(self) -> AsrSettings:
        return self._settings

    @property
    def configured(self) -> bool:
        """A model path is set (it may still be missing or unreadable)."""
        return self._settings.model_path is not None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def check_available(self) -> Path:
        """The model file's absolute path, if it is set, a file and readable.

        Cheap (no torch): for readiness reports and to answer 503 before any decoding.
        Raises AsrUnavailableError.
        """
        path = self._settings.model_path
        if path is None:
            raise AsrUnavailableError(
                f"speech recognition is not available: no Whisper model is installed. "
                f"{INSTALL_HINT}",
                code="asr_model_missing",
            )
        path = path.expanduser().absolute()
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise AsrUnavailableError(
                f"speech recognition is not available: the Whisper model file {path} does "
                f"not exist. {INSTALL_HINT}",
                code="asr_model_missing",
            ) from None
        except OSError as exc:
            raise AsrUnavailableError(
                f"speech recognition is not available: the Whisper model file {path} cannot "
                f"be reached by this process (uid {os.geteuid()}): {exc.strerror}. Make it "
                f"and its directories readable by any user. {INSTALL_HINT}",
                code="asr_model_unreadable",
            ) from exc
        if not stat.S_ISREG(st.st_mode):
            raise AsrUnavailableError(
                f"speech recognition is not available: the Whisper model path {path} is not "
                f"a file. {INSTALL_HINT}",
                code="asr_model_missing",
            )
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise AsrUnavailableError(
                f"speech recognition is not available: the Whisper model file {path} is not "
                f"readable by this process (uid {os.geteuid()}): {exc.strerror}. Make it "
                f"readable by any user (chmod a+r). {INSTALL_HINT}",
                code="asr_model_unreadable",
            ) from exc
        if not st.st_mode & stat.S_IROTH:
            log.warning(
                "the Whisper model file %s is not world-readable (mode %o): it will fail "
                "under another uid",
                path,
                stat.S_IMODE(st.st_mode),
            )
        return path

    def load(self) -> None:
        """Load the model (blocking; idempotent, thread-safe). Raises AsrUnavailableError."""
        with self._load_lock:
            if self._model is not None:
                return
            path = self.check_available()
            try:
                import torch
                import whisper  # type: ignore[import-untyped]
            except ImportError as exc:
                raise AsrUnavailableError(
                    f"speech recognition is not available: {exc.name or 'torch/whisper'} is "
                    "not installed (pip install 'neural-hive[asr]')",
                    code="asr_unavailable",
                ) from exc
            if self._settings.torch_threads is not None:
                torch.set_num_threads(self._settings.torch_threads)
            started = time.perf_counter()
            try:
                # An absolute file path is never taken for a model name, so nothing is
                # downloaded and download_root (a read-only place here) is never written.
                model = whisper.load_model(str(path), device="cpu", download_root=str(path.parent))
            except Exception as exc:
                raise AsrUnavailableError(
                    f"speech recognition is not available: the Whisper model file {path} "
                    f"could not be loaded ({type(exc).__name__}: {exc}). {INSTALL_HINT}",
                    code="asr_model_invalid",
                ) from exc
            model.eval()
            self._model = model
            log.info(
                "loaded Whisper model %s in %.0f ms (multilingual=%s)",
                path,
                (time.perf_counter() - started) * 1000,
                model.is_multilingual,
            )

    async def aload(self) -> None:
        """`load()` in a worker thread."""
        await asyncio.to_thread(self.load)

    async def transcribe(
        self,
        data: bytes,
        filename: str | None = None,
        content_type: str | None = None,
        *,
        language: str | None = None,
    ) -> TranscriptionResult:
        """Transcribe an uploaded audio file (wav, mp3, ogg, flac, m4a).

        `language` (ISO 639-1, e.g. "pt") overrides the settings' hint; without either,
        Whisper detects it. Raises AsrUnavailableError (503) when no model can be used and
        AudioError (4xx, see its `status_code`) for an upload that cannot be transcribed.
        """
        started = time.perf_counter()
        self.check_available()
        audio_mod.check_upload(data, self._settings, filename, content_type)
        decoded = await asyncio.to_thread(
            audio_mod.decode, data, self._settings, filename, content_type
        )
        hint = normalise_language(language) or self._settings.language
        async with self._async_lock:
            text, used, detected = await asyncio.to_thread(self._transcribe_sync, decoded, hint)
        return TranscriptionResult(
            text=text,
            language=used,
            language_detected=detected,
            duration_s=round(decoded.duration_s, 3),
            audio_format=decoded.format,
            processing_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    def _transcribe_sync(
        self, decoded: DecodedAudio, language: str | None
    ) -> tuple[str, str | None, bool]:
        """(text, language used, whether it was detected). Blocking; one at a time."""
        self.load()
        import numpy as np
        import torch
        import whisper
        from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE  # type: ignore[import-untyped]

        model = self._model
        if language is not None and not model.is_multilingual:
            language = "en"  # an English-only checkpoint
        if language is not None and language not in LANGUAGES:
            code = TO_LANGUAGE_CODE.get(language)
            if code is None:
                raise AudioError(
                    f"language '{language}' is not supported by Whisper",
                    status_code=400,
                    code="unsupported_language",
                )
            language = code
        samples = np.frombuffer(decoded.pcm, dtype="<f4").copy()
        settings = self._settings
        temperature: tuple[float, ...] = (
            _FALLBACK_TEMPERATURES if settings.temperature_fallback else (0.0,)
        )
        with self._infer_lock, torch.inference_mode():
            result: dict[str, Any] = whisper.transcribe(
                model,
                samples,
                verbose=None,
                language=language,
                task="transcribe",
                fp16=False,
                temperature=temperature,
                condition_on_previous_text=False,
                without_timestamps=True,
                sample_len=settings.max_tokens_per_window,
            )
        used = result.get("language")
        return (
            str(result.get("text", "")).strip(),
            str(used) if used is not None else language,
            language is None,
        )
