"""Multipart upload use cases. Each part is sealed as its own blob with its own DEKs; completing
an upload publishes the chosen parts as one object in a single transaction (no data is rewritten)."""

from __future__ import annotations

import base64
import functools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio

from strongroom.core import errors
from strongroom.core.checksums import combine_composite
from strongroom.core.types import (
    SSE_C,
    SSE_KMS,
    ChecksumRequest,
    Conditions,
    CustomerKey,
    KeyUse,
    ObjectHeaders,
    Operation,
    SSERequest,
)
from strongroom.metadata.models import Bucket, MultipartUpload, ObjectPart, ObjectRecord, UploadPart
from strongroom.policy.names import validate_key
from strongroom.service.objects import (
    ObjectService,
    PutResult,
    WriteKey,
    apply_headers,
    canonical_context,
    multipart_etag,
    now,
    verify_digests,
)
from strongroom.service.sealing import LayerOneKey, PartTarget, copy_part_columns, fill_part_columns, seal_part

MIN_PART_SIZE = 5 * 1024 * 1024
#: Reflected polynomials of the CRCs whose multipart checksum can be FULL_OBJECT (linear, so combinable).
CRC_POLYNOMIALS: dict[str, tuple[int, int]] = {
    "CRC32": (0xEDB88320, 32),
    "CRC32C": (0x82F63B78, 32),
    "CRC64NVME": (0x9A6C9329AC4BC9B5, 64),
}
MAX_PART_SIZE = 5 * 1024**3
MAX_PART_NUMBER = 10000


@dataclass
class PartResult:
    etag: str
    checksum: str | None
    last_modified: object


@dataclass
class CompletedPartSpec:
    part_number: int
    etag: str
    checksums: dict[str, str]


class MultipartService:
    def __init__(self, objects: ObjectService) -> None:
        self.objects = objects
        self.rt = objects.rt
        self.buckets = objects.buckets

    async def create(
        self,
        op: Operation,
        bucket_name: str,
        key: str,
        headers: ObjectHeaders,
        sse: SSERequest,
        checksum_algorithm: str | None,
        checksum_type: str | None,
        acl: str | None = None,
    ) -> tuple[MultipartUpload, WriteKey]:
        validate_key(key)
        bucket = await self.buckets.get(op, bucket_name, key)
        wk = await anyio.to_thread.run_sync(self.objects.resolve_write_key, op, bucket, sse)
        upload = MultipartUpload(
            upload_id=uuid.uuid4().hex + uuid.uuid4().hex[:16],
            bucket_id=bucket.id,
            key=key,
            version_id=uuid.uuid4().hex,
            initiated=now(),
        )
        apply_headers(upload, headers, wk)
        upload.acl = acl
        upload.checksum_algorithm = checksum_algorithm
        upload.checksum_type = checksum_type_for(checksum_algorithm, checksum_type)
        await anyio.to_thread.run_sync(self.rt.repo.create_upload, upload)
        return upload, wk

    async def get_upload(
        self, op: Operation, bucket_name: str, key: str, upload_id: str
    ) -> tuple[Bucket, MultipartUpload]:
        bucket = await self.buckets.get(op, bucket_name, key)
        upload = await anyio.to_thread.run_sync(self.rt.repo.get_upload, bucket.id, upload_id)
        if upload is None or upload.key != key:
            raise errors.NoSuchUpload(UploadId=upload_id)
        return bucket, upload

    def _write_key(
        self, bucket: Bucket, upload: MultipartUpload, ck: CustomerKey | None, use: KeyUse
    ) -> LayerOneKey:
        """The layer-1 key for a new part: the upload's key (SSE-C parts must bring the same key)."""
        if upload.sse_mode == SSE_C:
            return self.objects.read_key(bucket, upload, "sse-c", 0, ck, use)
        if ck is not None:
            raise errors.InvalidRequest("The encryption parameters are not applicable to this upload.")
        key_id = upload.kms_key_id or bucket.bucket_key_id
        version, kek = self.rt.keys.encryption_key(key_id, bucket, use)
        context = canonical_context(upload.kms_context) if upload.sse_mode == SSE_KMS else b""
        return LayerOneKey(key_id, version, kek, context=context)

    async def upload_part(
        self,
        op: Operation,
        bucket_name: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: AsyncIterator[bytes],
        content_md5: str | None,
        checksum: ChecksumRequest,
        customer_key: CustomerKey | None,
    ) -> tuple[MultipartUpload, PartResult]:
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise errors.InvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
        bucket, upload = await self.get_upload(op, bucket_name, key, upload_id)
        l1 = await anyio.to_thread.run_sync(self._write_key, bucket, upload, customer_key, KeyUse.of(op))
        algorithm = checksum.algorithm or upload.checksum_algorithm
        if checksum.algorithm and upload.checksum_algorithm and checksum.algorithm != upload.checksum_algorithm:
            raise errors.InvalidRequest(
                f"Checksum Type mismatch occurred, expected checksum Type: {upload.checksum_algorithm.lower()}, "
                f"actual checksum Type: {checksum.algorithm.lower()}"
            )
        sealed = await seal_part(
            self.rt,
            target=PartTarget(bucket.region, bucket.id, l1),
            key=key,
            version_id=upload.version_id,
            part_number=part_number,
            body=body,
            checksum_algorithm=algorithm,
            max_size=MAX_PART_SIZE,
            verify=lambda s: verify_digests(s, content_md5, ChecksumRequest(algorithm, checksum.value)),
        )
        ts = now()
        row = UploadPart(upload_id=upload_id, part_number=part_number, last_modified=ts)
        fill_part_columns(row, sealed)
        try:
            await anyio.to_thread.run_sync(self.rt.repo.put_upload_part, row, bucket.region)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.rt.store(bucket.region).delete, sealed.blob_id)
            raise
        return upload, PartResult(sealed.etag, sealed.checksum, ts)

    async def upload_part_copy(
        self,
        op: Operation,
        src_op: Operation,
        bucket_name: str,
        key: str,
        upload_id: str,
        part_number: int,
        src_bucket: str,
        src_key: str,
        source_range: str | None,
        source_conditions: Conditions,
        source_customer_key: CustomerKey | None,
        customer_key: CustomerKey | None,
    ) -> tuple[MultipartUpload, PartResult]:
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise errors.InvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
        await self.get_upload(op, bucket_name, key, upload_id)
        view = await self.objects.read_for_copy(
            src_op,
            src_bucket,
            src_key,
            range_header=source_range,
            conditions=source_conditions,
            customer_key=source_customer_key,
        )

        async def body() -> AsyncIterator[bytes]:
            if view.body is not None:
                async for chunk in view.body:
                    yield chunk

        return await self.upload_part(
            op, bucket_name, key, upload_id, part_number, body(), None, ChecksumRequest(), customer_key
        )

    async def list_parts(
        self, op: Operation, bucket_name: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> tuple[Bucket, MultipartUpload, list[UploadPart], bool]:
        bucket, upload = await self.get_upload(op, bucket_name, key, upload_id)
        parts = await anyio.to_thread.run_sync(self.rt.repo.list_upload_parts, upload_id, marker, max_parts + 1)
        return bucket, upload, parts[:max_parts], len(parts) > max_parts

    async def abort(self, op: Operation, bucket_name: str, key: str, upload_id: str) -> None:
        bucket, _upload = await self.get_upload(op, bucket_name, key, upload_id)
        await anyio.to_thread.run_sync(self.rt.repo.abort_upload, upload_id, bucket.region)

    async def complete(
        self,
        op: Operation,
        bucket_name: str,
        key: str,
        upload_id: str,
        specs: list[CompletedPartSpec],
        customer_key: CustomerKey | None,
        checksum: ChecksumRequest,
    ) -> tuple[Bucket, MultipartUpload, PutResult]:
        bucket, upload = await self.get_upload(op, bucket_name, key, upload_id)
        if upload.sse_mode == SSE_C:
            await anyio.to_thread.run_sync(
                self.objects.read_key, bucket, upload, "sse-c", 0, customer_key, KeyUse.of(op)
            )
        if not specs:
            raise errors.InvalidRequest("You must specify at least one part")
        stored = {p.part_number: p for p in await anyio.to_thread.run_sync(self.rt.repo.list_upload_parts, upload_id)}
        last = 0
        chosen: list[UploadPart] = []
        for spec in specs:
            if spec.part_number <= last:
                raise errors.InvalidPartOrder()
            last = spec.part_number
            part = stored.get(spec.part_number)
            if part is None or spec.etag.strip().strip('"') != part.etag:
                raise errors.InvalidPart()
            if upload.checksum_algorithm:
                want = spec.checksums.get(upload.checksum_algorithm)
                if want is not None and want != part.checksum_value:
                    raise errors.InvalidPart()
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < MIN_PART_SIZE:
                raise errors.EntityTooSmall(
                    ProposedSize=str(part.size),
                    MinSizeAllowed=str(MIN_PART_SIZE),
                    PartNumber=str(part.part_number),
                    ETag=part.etag,
                )
        etag = multipart_etag([p.etag for p in chosen])
        ts = now()
        record = ObjectRecord(bucket_id=bucket.id, key=key, version_id=upload.version_id, last_modified=ts)
        for name in (
            "content_type",
            "content_encoding",
            "content_disposition",
            "content_language",
            "cache_control",
            "expires",
            "user_metadata",
            "storage_class",
            "sse_mode",
            "kms_key_id",
            "kms_context",
            "bucket_key_enabled",
            "acl",
            "ssec_salt",
            "ssec_verifier",
            "checksum_algorithm",
            "checksum_type",
        ):
            setattr(record, name, getattr(upload, name))
        record.size = sum(p.size for p in chosen)
        record.etag = etag
        record.parts_count = len(chosen)
        record.checksum_value = None
        if upload.checksum_algorithm and all(p.checksum_value for p in chosen):
            values = [p.checksum_value or "" for p in chosen]
            if upload.checksum_type == "FULL_OBJECT":
                record.checksum_value = combine_full_object(upload.checksum_algorithm, values, [p.size for p in chosen])
            else:
                record.checksum_value = combine_composite(upload.checksum_algorithm, values)
        if checksum.value is not None:
            # the whole-object checksum the client computed (x-amz-checksum-<alg> on the complete request)
            if checksum.algorithm != upload.checksum_algorithm or record.checksum_value is None:
                raise errors.InvalidRequest(
                    "The upload was created using a different checksum algorithm, or its parts lack checksums."
                )
            if checksum.value.split("-")[0] != record.checksum_value.split("-")[0]:
                raise errors.BadDigest(f"The {checksum.algorithm} you specified did not match the calculated checksum.")
        if record.size > self.rt.settings.max_object_size:
            raise errors.EntityTooLarge()
        offset = 0
        rows: list[ObjectPart] = []
        for p in chosen:
            row = ObjectPart(part_number=p.part_number, offset=offset)
            copy_part_columns(row, p)
            rows.append(row)
            offset += p.size
        await anyio.to_thread.run_sync(self.rt.repo.complete_upload, upload_id, record, rows, bucket.region)
        return (
            bucket,
            upload,
            PutResult(
                etag=etag,
                version_id=upload.version_id,
                mode=upload.sse_mode,
                kms_key_id=upload.kms_key_id,
                checksum_algorithm=upload.checksum_algorithm,
                checksum=record.checksum_value,
                bucket_key_enabled=upload.bucket_key_enabled,
                last_modified=ts,
                size=record.size,
            ),
        )

    async def list_uploads(
        self,
        op: Operation,
        bucket_name: str,
        prefix: str,
        key_marker: str | None,
        upload_id_marker: str | None,
        max_uploads: int,
    ) -> tuple[Bucket, list[MultipartUpload], bool]:
        bucket = await self.buckets.get(op, bucket_name)
        ups = await anyio.to_thread.run_sync(
            self.rt.repo.list_uploads, bucket.id, prefix, key_marker, upload_id_marker, max_uploads + 1
        )
        return bucket, ups[:max_uploads], len(ups) > max_uploads


def checksum_type_for(algorithm: str | None, checksum_type: str | None) -> str | None:
    """The checksum type of a new upload: COMPOSITE by default, FULL_OBJECT only for the CRCs."""
    if checksum_type is not None:
        checksum_type = checksum_type.upper()
        if checksum_type not in ("COMPOSITE", "FULL_OBJECT"):
            raise errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.")
        if algorithm is None:
            raise errors.InvalidRequest(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
            )
    if algorithm is None:
        return None
    if checksum_type is None:
        return "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
    if checksum_type == "FULL_OBJECT" and algorithm not in CRC_POLYNOMIALS:
        raise errors.InvalidRequest(
            f"The FULL_OBJECT checksum type cannot be used with the {algorithm.lower()} checksum algorithm."
        )
    if checksum_type == "COMPOSITE" and algorithm == "CRC64NVME":
        raise errors.InvalidRequest("The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.")
    return checksum_type


def _gf2_times(matrix: tuple[int, ...], vector: int) -> int:
    out, i = 0, 0
    while vector:
        if vector & 1:
            out ^= matrix[i]
        vector >>= 1
        i += 1
    return out


def _gf2_compose(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The operator "b, then a" (columns are the images of the basis vectors)."""
    return tuple(_gf2_times(a, column) for column in b)


@functools.lru_cache(maxsize=256)
def _zeros_operator(algorithm: str, nbytes: int) -> tuple[int, ...]:
    """The linear map that feeds nbytes zero bytes through the CRC register (nbytes > 0)."""
    poly, width = CRC_POLYNOMIALS[algorithm]
    op = (poly, *(1 << n for n in range(width - 1)))  # one zero bit
    for _ in range(3):
        op = _gf2_compose(op, op)  # two, four, eight zero bits: one zero byte
    result: tuple[int, ...] | None = None
    while nbytes:
        if nbytes & 1:
            result = op if result is None else _gf2_compose(op, result)
        nbytes >>= 1
        if nbytes:
            op = _gf2_compose(op, op)
    assert result is not None
    return result


def crc_combine(algorithm: str, crc1: int, crc2: int, len2: int) -> int:
    """CRC(A + B) from CRC(A), CRC(B) and len(B), for a reflected CRC with all-ones init and xor-out
    (zlib's crc32_combine, for any width). Operators are cached: parts mostly share one size."""
    if len2 == 0:
        return crc1
    return _gf2_times(_zeros_operator(algorithm, len2), crc1) ^ crc2


def combine_full_object(algorithm: str, part_b64s: list[str], sizes: list[int]) -> str:
    """A FULL_OBJECT multipart checksum: the CRC of the whole object, from the parts' CRCs and sizes."""
    _poly, width = CRC_POLYNOMIALS[algorithm]
    crc = 0
    for value, size in zip(part_b64s, sizes, strict=True):
        part = int.from_bytes(base64.b64decode(value), "big")
        crc = crc_combine(algorithm, crc, part, size)
    return base64.b64encode(crc.to_bytes(width // 8, "big")).decode()
