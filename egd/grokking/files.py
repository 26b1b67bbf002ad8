"""Files that are either complete or absent: atomic writes, and output folders checked early.

Every result, checkpoint and benchmark file of the harness is written here: to a temporary
file in the same folder, flushed and ``fsync``-ed, then moved into place with
:func:`os.replace` (atomic on POSIX), and the folder is ``fsync``-ed so the rename itself
survives a power cut. A kill at any moment leaves either the old file or the new one,
never half of one. The file gets the permissions a plain ``open()`` would give it under
the process's umask (``tempfile.mkstemp`` alone would make it private to its owner).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "check_output_dir",
           "check_output_file"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # a folder that cannot be opened for reading: the rename is still atomic
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """``obj`` as indented JSON (one trailing newline), written atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def check_output_dir(path: str | os.PathLike, *, name: str = "out") -> Path:
    """Make sure ``path`` is (or can become) a writable folder, before any work is done.

    Creates it if missing and writes and removes a probe file. Raises ``ValueError``
    naming the parameter ``name`` when ``path`` is a file, lies under a file, or is not
    writable.
    """
    path = Path(path)
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir():
            where = "is" if parent == path else f"lies under {parent}, which is"
            raise ValueError(f"{name} must be a folder; {path} {where} a file")
        if parent.exists():
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{name} must be a writable folder; cannot write in {path}: {exc.strerror or exc}") from None
    return path


def check_output_file(path: str | os.PathLike, *, name: str = "out") -> Path:
    """Like :func:`check_output_dir` for a file to be written later: its folder must be
    writable and the path itself must not be a folder."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name} must be a file path, got the folder {path}")
    check_output_dir(path.parent, name=name)
    return path
