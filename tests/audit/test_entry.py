"""audit/entry.py: the entry's time string."""

from __future__ import annotations

import datetime as dt

import pytest

from strongroom.audit.entry import timestamp

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "at_us",
    [
        0,
        1,
        999_999,
        1_000_000,
        1_764_692_458_999_999,
        1_764_692_459_000_000,
        1_764_692_458_123_457,
        253_402_300_799_999_999,
    ],
)
def test_timestamp_is_exact_rfc3339_microseconds(at_us: int) -> None:
    expected = (EPOCH + dt.timedelta(microseconds=at_us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert timestamp(at_us) == expected
    assert timestamp(at_us) == expected  # the per-second cache gives the same


def test_consecutive_seconds_do_not_share_a_prefix() -> None:
    assert timestamp(1_764_692_458_999_999) == "2025-12-02T16:20:58.999999Z"
    assert timestamp(1_764_692_459_000_000) == "2025-12-02T16:20:59.000000Z"
    assert timestamp(1_764_692_458_000_001) == "2025-12-02T16:20:58.000001Z"
