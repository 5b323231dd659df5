"""A tiny, randomly initialised Whisper checkpoint: the real loading and transcription code
runs on it where no trained weights can be had (tests, development). It recognises nothing.

    python -m neural_hive.asr.tiny_model OUT.pt
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Final

# The multilingual vocabulary (Whisper tiny..large-v2): language detection works with it.
MULTILINGUAL_VOCAB: Final = 51865


def tiny_dimensions(*, width: int = 64, heads: int = 2, layers: int = 1) -> dict[str, int]:
    """Whisper's ModelDimensions as a dict. The audio context (1500 frames, 30 s), mel bins
    and text context must keep their real sizes: transcription pads audio to them."""
    if width % heads:
        raise ValueError("width must be a multiple of heads")
    return {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": width,
        "n_audio_head": heads,
        "n_audio_layer": layers,
        "n_vocab": MULTILINGUAL_VOCAB,
        "n_text_ctx": 448,
        "n_text_state": width,
        "n_text_head": heads,
        "n_text_layer": layers,
    }


def build_tiny_checkpoint(
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    width: int = 64,
    heads: int = 2,
    layers: int = 1,
    babble: bool = False,
) -> Path:
    """Write the checkpoint ({"dims", "model_state_dict"}, what whisper.load_model reads)
    to `path`, readable by any user, and return its path.

    A random model usually ends its transcript at once (an empty text). With `babble`,
    the token embeddings are zeroed so decoding never ends early nor reports "no speech"
    and runs to its length limit: the transcript is non-empty text, the same for any
    audio, which lets tests drive everything that happens after transcription."""
    import torch
    from whisper.model import ModelDimensions, Whisper  # type: ignore[import-untyped]

    out = Path(path)
    dims = ModelDimensions(**tiny_dimensions(width=width, heads=heads, layers=layers))
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = Whisper(dims)
        if babble:
            with torch.no_grad():
                # Every logit becomes exactly 0: greedy decoding then always picks the
                # lowest token id, which is ordinary text, never end-of-text or no-speech,
                # whatever the audio and however torch splits the arithmetic.
                model.decoder.token_embedding.weight.zero_()
    finally:
        torch.random.set_rng_state(generator_state)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m neural_hive.asr.tiny_model",
        description="Write a tiny, randomly initialised Whisper checkpoint (for tests).",
    )
    parser.add_argument("out", type=Path, help="checkpoint file to write (.pt)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument(
        "--babble", action="store_true", help="never end early: emit random non-empty text"
    )
    args = parser.parse_args(argv)
    out = build_tiny_checkpoint(
        args.out,
        seed=args.seed,
        width=args.width,
        heads=args.heads,
        layers=args.layers,
        babble=args.babble,
    )
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
