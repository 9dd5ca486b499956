"""S3 wire errors: the one place that maps strongroom errors to S3 error codes.

An :class:`S3Error` renders as the S3 XML error document::

    <Error><Code>NoSuchKey</Code><Message>...</Message><Resource>...</Resource>
    <RequestId>...</RequestId></Error>
"""

from __future__ import annotations

from strongroom.core import errors as e


class S3Error(Exception):
    """An error in S3's own terms: code, HTTP status, message and extra XML fields."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra
        self.headers: dict[str, str] = {}


def s3_error(code: str, message: str | None = None, **extra: str) -> S3Error:
    """Build an S3Error from a code listed in :data:`CODES` (status and default message)."""
    status, default = CODES[code]
    return S3Error(code, message or default, status, **extra)


#: S3 error code -> (HTTP status, default message), from the AWS S3 API reference.
CODES: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied"),
    "AuthorizationHeaderMalformed": (400, "The authorization header is malformed."),
    "AuthorizationQueryParametersError": (400, "Error parsing the X-Amz-Credential parameter."),
    "BadDigest": (400, "The Content-MD5 or checksum value that you specified did not match what the server received."),
    "BucketAlreadyExists": (
        409,
        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
    ),
    "BucketAlreadyOwnedByYou": (
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    ),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty"),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed size"),
    "EntityTooSmall": (400, "Your proposed upload is smaller than the minimum allowed object size."),
    "ExpiredToken": (400, "The provided token has expired."),
    "IncompleteBody": (400, "You did not provide the number of bytes specified by the Content-Length HTTP header."),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "InvalidAccessKeyId": (403, "The AWS Access Key Id you provided does not exist in our records."),
    "InvalidArgument": (400, "Invalid Argument"),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidDigest": (400, "The Content-MD5 you specified is not valid."),
    "InvalidEncryptionAlgorithmError": (
        400,
        "The encryption request you specified is not valid. The valid value is AES256.",
    ),
    "InvalidLocationConstraint": (400, "The specified location-constraint is not valid"),
    "InvalidObjectState": (403, "The operation is not valid for the current state of the object."),
    "InvalidPart": (
        400,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    ),
    "InvalidPartOrder": (400, "The list of parts was not in ascending order. Parts must be ordered by part number."),
    "InvalidRange": (416, "The requested range is not satisfiable"),
    "InvalidRequest": (400, "Invalid Request"),
    "InvalidStorageClass": (400, "The storage class you specified is not valid"),
    "KeyTooLongError": (400, "Your key is too long"),
    "KMS.DisabledException": (400, "The KMS key is disabled."),
    "KMS.NotFoundException": (400, "Invalid keyId"),
    "KMS.KMSInvalidStateException": (400, "The KMS key is not in a valid state for this operation."),
    "MalformedACLError": (
        400,
        "The XML you provided was not well-formed or did not validate against our published schema.",
    ),
    "MalformedPolicy": (400, "Policies must be valid JSON and the first byte must be '{'"),
    "AccessControlListNotSupported": (400, "The bucket does not allow ACLs"),
    "UnresolvableGrantByEmailAddress": (
        400,
        "The e-mail address you provided does not match any account on record.",
    ),
    "NoSuchBucketPolicy": (404, "The bucket policy does not exist"),
    "NoSuchCORSConfiguration": (404, "The CORS configuration does not exist"),
    "BadRequest": (400, "Bad Request"),
    "AccessForbidden": (
        403,
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
    ),
    "NoSuchPublicAccessBlockConfiguration": (404, "The public access block configuration was not found"),
    "OwnershipControlsNotFoundError": (404, "The bucket ownership controls were not found"),
    "SlowDown": (503, "Please reduce your request rate."),
    "MalformedPOSTRequest": (400, "The body of your POST request is not well-formed multipart/form-data."),
    "MalformedXML": (400, "The XML you provided was not well-formed or did not validate against our published schema."),
    "MaxMessageLengthExceeded": (400, "Your request was too big."),
    "MetadataTooLarge": (400, "Your metadata headers exceed the maximum allowed metadata size."),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header."),
    "MissingRequestBodyError": (400, "Request Body is empty"),
    "MissingSecurityHeader": (400, "Your request is missing a required header."),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchUpload": (
        404,
        "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.",
    ),
    "NoSuchVersion": (404, "The specified version does not exist."),
    "NotImplemented": (501, "A header you provided implies functionality that is not implemented."),
    "NotModified": (304, "Not Modified"),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold"),
    "RequestHeaderSectionTooLarge": (400, "Your request header section exceeds the maximum allowed size."),
    "RequestTimeTooSkewed": (403, "The difference between the request time and the current time is too large."),
    "RequestTimeout": (
        400,
        "Your socket connection to the server was not read from or written to within the timeout period.",
    ),
    "ServerSideEncryptionConfigurationNotFoundError": (404, "The server side encryption configuration was not found"),
    "ServiceUnavailable": (503, "Please reduce your request rate."),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    ),
    "XAmzContentSHA256Mismatch": (400, "The provided 'x-amz-content-sha256' header does not match what was computed."),
    "XAmzContentChecksumMismatch": (400, "The provided checksum does not match what was computed."),
    "InvalidChunkSizeError": (403, "Only the last chunk is allowed to have a size less than 8192 bytes"),
    "InvalidTag": (400, "The tag provided was not a valid tag."),
    "MalformedTrailerError": (
        400,
        "The request contained trailing data that was not well-formed or did not conform to our published schema.",
    ),
    "InvalidPolicyDocument": (
        400,
        "The content of the form does not meet the conditions specified in the policy document.",
    ),
}

#: strongroom domain error class -> S3 code. Most specific class first wins (MRO walk).
DOMAIN: dict[type[e.StrongroomError], str] = {
    e.NoSuchBucket: "NoSuchBucket",
    e.NoSuchKey: "NoSuchKey",
    e.NoSuchUpload: "NoSuchUpload",
    e.NoSuchBucketEncryption: "ServerSideEncryptionConfigurationNotFoundError",
    e.BucketAlreadyExists: "BucketAlreadyExists",
    e.BucketAlreadyOwnedByYou: "BucketAlreadyOwnedByYou",
    e.BucketNotEmpty: "BucketNotEmpty",
    e.InvalidArgument: "InvalidArgument",
    e.InvalidBucketName: "InvalidBucketName",
    e.InvalidLocationConstraint: "InvalidLocationConstraint",
    e.InvalidRange: "InvalidRange",
    e.KeyTooLong: "KeyTooLongError",
    e.EntityTooSmall: "EntityTooSmall",
    e.EntityTooLarge: "EntityTooLarge",
    e.InvalidPart: "InvalidPart",
    e.InvalidPartOrder: "InvalidPartOrder",
    e.BadDigest: "BadDigest",
    e.InvalidRequest: "InvalidRequest",
    e.PreconditionFailed: "PreconditionFailed",
    e.NotModified: "NotModified",
    e.AccessDenied: "AccessDenied",
    e.SlowDown: "SlowDown",
    e.RequestTimeout: "RequestTimeout",
    e.MalformedPolicy: "MalformedPolicy",
    e.MalformedACL: "MalformedACLError",
    e.AccessControlListNotSupported: "AccessControlListNotSupported",
    e.UnresolvableGrantByEmailAddress: "UnresolvableGrantByEmailAddress",
    e.NoSuchBucketPolicy: "NoSuchBucketPolicy",
    e.NoSuchPublicAccessBlockConfiguration: "NoSuchPublicAccessBlockConfiguration",
    e.OwnershipControlsNotFound: "OwnershipControlsNotFoundError",
    e.MalformedConfiguration: "MalformedXML",
    e.NoSuchCORSConfiguration: "NoSuchCORSConfiguration",
    e.InvalidPreflight: "BadRequest",
    e.CORSForbidden: "AccessForbidden",
    e.KeyNotFound: "KMS.NotFoundException",
    e.KeyDisabled: "KMS.DisabledException",
    e.KeyPendingDeletion: "KMS.KMSInvalidStateException",
    e.KeyDestroyed: "KMS.KMSInvalidStateException",
    e.CustomerKeyMismatch: "AccessDenied",
    e.CustomerKeyRequired: "InvalidRequest",
    e.KeyStoreSealed: "ServiceUnavailable",
    e.Unavailable: "ServiceUnavailable",
    e.DecryptionFailed: "InternalError",
}


#: Context keys of a domain error that S3 renders as extra elements of its error document.
_WIRE_CONTEXT = frozenset(
    {"BucketName", "Key", "UploadId", "ArgumentName", "ArgumentValue", "EmailAddress", "Method", "ResourceType"}
)


def from_domain(exc: e.StrongroomError) -> S3Error:
    """Translate a domain error to its S3 error; unknown errors become InternalError."""
    for cls in type(exc).__mro__:
        code = DOMAIN.get(cls)
        if code is not None:
            status, default = CODES[code]
            message = exc.message if code not in ("InternalError", "AccessDenied") else default
            if isinstance(exc, e.CustomerKeyMismatch):
                message = "The calculated MD5 hash of the key did not match the hash that was provided."
            if isinstance(exc, e.DecryptionFailed):
                message = "The stored object failed an integrity check and cannot be returned."
            if isinstance(exc, e.MalformedConfiguration):
                message = default  # the one opaque schema error, as for the XML parser's own
            extra = {k: str(v) for k, v in exc.context.items() if k in _WIRE_CONTEXT}
            return S3Error(code, message, status, **extra)
    return s3_error("InternalError")
