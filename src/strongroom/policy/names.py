"""Pure validation of bucket names and object keys (S3 general purpose bucket rules)."""

from __future__ import annotations

import ipaddress
import re

from strongroom.core import errors

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_KEY_BYTES = 1024


def validate_bucket_name(name: str) -> str:
    if (
        not _BUCKET.match(name)
        or ".." in name
        or ".-" in name
        or "-." in name
        or name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))
        or _is_ip(name)
    ):
        raise errors.InvalidBucketName("The specified bucket is not valid.", BucketName=name)
    return name


def _is_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def validate_key(key: str) -> str:
    if not key:
        raise errors.InvalidArgument("Object key must not be empty")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise errors.KeyTooLong("Your key is too long")
    return key
