"""Durable writes: a reader, or a restart after a kill or a power cut, sees the old file or the whole
new one — never a half-written file. Shared by the sweep store and the dataset decode cache."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable


def atomic_write(path: Path, write: Callable[[IO], None], *, binary: bool = False) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, fsync it, rename it over ``path``,
    then fsync the folder (where the platform allows) so that the rename itself is durable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        with tempfile.NamedTemporaryFile("wb" if binary else "w", dir=path.parent,
                                         prefix=f".{path.name}.", suffix=".tmp", delete=False,
                                         **({} if binary else {"newline": ""})) as f:
            tmp = f.name
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
