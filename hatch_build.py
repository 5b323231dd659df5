"""Hatch build hook: generate the protobuf and gRPC modules from src/neural_hive/proto/*.proto.

Runs for wheels, sdists-to-wheels and editable installs, so generated code is never
hand-edited or committed; `python hatch_build.py` regenerates it in place for development.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent
SRC = ROOT / "src"
PROTO_DIR = SRC / "neural_hive" / "proto"


def generate() -> list[Path]:
    from grpc_tools import protoc  # build-time dependency only

    include = Path(protoc.__file__).parent / "_proto"
    protos = sorted(PROTO_DIR.glob("*.proto"))
    for proto in protos:
        args = [
            "grpc_tools.protoc",
            f"-I{SRC}",
            f"-I{include}",
            f"--python_out={SRC}",
            f"--pyi_out={SRC}",
            f"--grpc_python_out={SRC}",
            str(proto),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed for {proto}")
    return protos


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # running as a script without hatchling
    BuildHookInterface = object  # type: ignore[misc,assignment]


class CustomBuildHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        generate()


if __name__ == "__main__":
    for p in generate():
        print(f"generated code for {p.relative_to(ROOT)}", file=sys.stderr)
