"""request_threads bounds the per-request worker threads: a positive, bounded count."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from strongroom.config import Settings


def test_request_threads_default_and_bounds() -> None:
    assert Settings().request_threads == 2
    assert Settings(request_threads=8).request_threads == 8
    for bad in (0, -1, 257):
        with pytest.raises(ValidationError):
            Settings(request_threads=bad)
