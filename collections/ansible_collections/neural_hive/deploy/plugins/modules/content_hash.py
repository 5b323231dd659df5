# Copyright: Neural Hive-Mind contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""SHA-256 over files, directory trees and glob matches, plus structured data."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: content_hash
short_description: Compute a SHA-256 content hash over files, directories and globs
version_added: 0.1.0
description:
  - Hashes the files named by O(paths) (plain files, directories walked recursively, or
    glob patterns) together with O(data), and returns the hex digest and a short prefix
    of it, suitable as an image tag or a cache key.
  - Each file contributes its path relative to O(root), its executable bit and the
    SHA-256 of its content, in sorted path order, so the hash does not depend on the
    order of O(paths), on modification times or on the host. Symbolic links contribute
    their target, never the content behind it.
  - Names matching O(exclude) are skipped wherever they occur in the tree.
  - Only reads, never changes anything.
options:
  paths:
    description:
      - Files, directories or glob patterns (C(*), C(?), C([...]) and C(**) are
        supported). Relative ones are resolved against O(root).
    type: list
    elements: str
    required: true
  root:
    description:
      - Directory that relative O(paths) are resolved against, and that file names in
        the hash are made relative to. Without it, relative paths are resolved against
        the module's working directory and file names are hashed as given.
    type: path
  exclude:
    description:
      - fnmatch patterns; a file or directory whose base name, or whose path relative to
        O(root), matches one of them is skipped.
    type: list
    elements: str
    default: [__pycache__, "*.pyc", "*.pyo", .git, .mypy_cache, .pytest_cache, .ruff_cache]
  data:
    description:
      - Any JSON-serialisable value (for example build arguments or a base image ID) that
        is hashed too, in canonical form (sorted keys).
    type: raw
  length:
    description: Number of hex digits returned in RV(short).
    type: int
    default: 12
  missing:
    description:
      - What to do when a path does not exist or a pattern matches nothing.
    type: str
    choices: [error, ignore]
    default: error
attributes:
  check_mode:
    support: full
    description: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
author:
  - Neural Hive-Mind contributors
"""

EXAMPLES = r"""
- name: Hash the sources that define the specialist image
  neural_hive.deploy.content_hash:
    root: "{{ playbook_dir }}"
    paths: [src, pyproject.toml, hatch_build.py]
    exclude: [__pycache__, "*.pyc", "*_pb2*.py", "*_pb2*.pyi"]
    data:
      family: specialist
      base_image_id: "{{ base_image_ids.python }}"
    length: 16
  register: specialist_hash
"""

RETURN = r"""
hash:
  description: Full SHA-256 hex digest.
  returned: success
  type: str
  sample: 5b2f0c1e9a7d3b8c4e6f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d
short:
  description: The first O(length) hex digits of RV(hash).
  returned: success
  type: str
  sample: 5b2f0c1e9a7d
files:
  description: Number of files that went into the hash.
  returned: success
  type: int
  sample: 42
"""

import fnmatch
import glob
import hashlib
import json
import os
import stat

from ansible.module_utils.basic import AnsibleModule

_CHUNK = 1024 * 1024
_GLOB_CHARS = frozenset("*?[")


def _excluded(rel: str, patterns: list[str]) -> bool:
    name = os.path.basename(rel)
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) for p in patterns)


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Collector:
    def __init__(self, root: str | None, exclude: list[str]) -> None:
        self.root = root
        self.exclude = exclude
        self.files: dict[str, str] = {}  # name in the hash -> absolute path

    def name(self, path: str) -> str:
        if self.root is None:
            return path
        rel = os.path.relpath(path, self.root)
        return rel.replace(os.sep, "/")

    def add(self, path: str) -> None:
        """Record a file, or every file of a directory tree."""
        rel = self.name(path)
        if _excluded(rel, self.exclude):
            return
        if os.path.isdir(path) and not os.path.islink(path):
            for current, dirs, names in os.walk(path):
                dirs[:] = sorted(
                    d
                    for d in dirs
                    if not _excluded(self.name(os.path.join(current, d)), self.exclude)
                )
                for name in names:
                    full = os.path.join(current, name)
                    if not _excluded(self.name(full), self.exclude):
                        self.files[self.name(full)] = full
        else:
            self.files[rel] = path


def _entry(name: str, path: str) -> bytes:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        kind, content = "l", os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        kind = "x" if st.st_mode & 0o111 else "f"
        content = _file_digest(path)
    else:
        kind, content = "o", ""
    return f"{name}\0{kind}\0{content}\n".encode("utf-8", "surrogateescape")


def compute(
    paths: list[str],
    root: str | None,
    exclude: list[str],
    data: object,
    missing: str,
) -> tuple[str, int, list[str]]:
    """Return (hex digest, number of files, paths that matched nothing)."""
    collector = _Collector(root, exclude)
    not_found = []
    for given in paths:
        full = given if os.path.isabs(given) or root is None else os.path.join(root, given)
        if _GLOB_CHARS.intersection(given):
            matches = sorted(glob.glob(full, recursive=True))
            if not matches:
                not_found.append(given)
            for match in matches:
                collector.add(match)
        elif os.path.lexists(full):
            collector.add(full)
        else:
            not_found.append(given)
    if not_found and missing == "error":
        return "", 0, not_found
    digest = hashlib.sha256()
    digest.update(b"neural-hive content_hash v1\n")
    for name in sorted(collector.files):
        digest.update(_entry(name, collector.files[name]))
    if data is not None:
        digest.update(b"\0data\0")
        digest.update(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest(), len(collector.files), not_found


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "str", "required": True},
            "root": {"type": "path"},
            "exclude": {
                "type": "list",
                "elements": "str",
                "default": [
                    "__pycache__",
                    "*.pyc",
                    "*.pyo",
                    ".git",
                    ".mypy_cache",
                    ".pytest_cache",
                    ".ruff_cache",
                ],
            },
            "data": {"type": "raw"},
            "length": {"type": "int", "default": 12},
            "missing": {"type": "str", "choices": ["error", "ignore"], "default": "error"},
        },
        supports_check_mode=True,
    )
    params = module.params
    root = params["root"]
    if root is not None:
        root = os.path.abspath(root)
        if not os.path.isdir(root):
            module.fail_json(msg=f"root {root} is not a directory")
    if not 1 <= params["length"] <= 64:
        module.fail_json(msg="length must be between 1 and 64")
    try:
        full, count, not_found = compute(
            params["paths"], root, params["exclude"], params["data"], params["missing"]
        )
    except OSError as exc:
        module.fail_json(msg=f"cannot read {exc.filename}: {exc.strerror}")
    except (TypeError, ValueError) as exc:
        module.fail_json(msg=f"data is not JSON-serialisable: {exc}")
    if not full:
        module.fail_json(msg="nothing found for: " + ", ".join(not_found), missing=not_found)
    module.exit_json(changed=False, hash=full, short=full[: params["length"]], files=count)


if __name__ == "__main__":
    main()
