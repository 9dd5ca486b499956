"""Root secrets kept in 0600 files under DATA/keys (the embedded default; development grade)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from strongroom.core.errors import InvalidKeyMaterial
from strongroom.crypto import random_bytes

ROOT_KEY_LEN = 32


def load_or_create_root_file(path: Path) -> bytes:
    """Read a 32-byte root secret from path, creating it (0600, fsynced) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise InvalidKeyMaterial(f"{path} must not be readable by group or others (mode {oct(mode)})") from None
        data = path.read_bytes()
        if len(data) != ROOT_KEY_LEN:
            raise InvalidKeyMaterial(f"{path} must hold exactly {ROOT_KEY_LEN} bytes") from None
        return data
    material = random_bytes(ROOT_KEY_LEN)
    with os.fdopen(fd, "wb") as fh:
        fh.write(material)
        fh.flush()
        os.fsync(fh.fileno())
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return material
