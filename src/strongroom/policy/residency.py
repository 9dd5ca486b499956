"""Pure residency checks: a bucket's region must be configured, and its keys must live there."""

from __future__ import annotations

from collections.abc import Mapping

from strongroom.core import errors


def resolve_region(requested: str | None, configured: Mapping[str, object], default: str) -> str:
    """The region a new bucket is pinned to (S3 LocationConstraint)."""
    region = requested or default
    if region not in configured:
        raise errors.InvalidLocationConstraint(
            f"The specified location-constraint is not valid: {region!r} is not a configured region"
        )
    return region
