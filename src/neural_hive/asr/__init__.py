"""Speech recognition for the gateway's voice route: ffmpeg decoding and openai-whisper.

Importing this package loads neither torch nor whisper (nor numpy): they load with the
model, so a gateway without a model starts fast and answers 503 on the voice route.

    transcriber = Transcriber(AsrSettings())        # NEURAL_HIVE_ASR_* env
    try:
        result = await transcriber.transcribe(data, filename, content_type)
    except AsrError as exc:                          # AudioError 4xx, AsrUnavailableError 503
        return JSONResponse(exc.to_dict(), status_code=exc.status_code)
"""

from __future__ import annotations

from neural_hive.asr.audio import DecodedAudio, check_upload, decode
from neural_hive.asr.errors import MODEL_PATH_ENV, AsrError, AsrUnavailableError, AudioError
from neural_hive.asr.formats import AudioFormat
from neural_hive.asr.settings import AsrSettings
from neural_hive.asr.transcriber import Transcriber, TranscriptionResult

__all__ = [
    "MODEL_PATH_ENV",
    "AsrError",
    "AsrSettings",
    "AsrUnavailableError",
    "AudioError",
    "AudioFormat",
    "DecodedAudio",
    "Transcriber",
    "TranscriptionResult",
    "check_upload",
    "decode",
]
