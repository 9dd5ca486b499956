"""The action names a policy may use, and the resource kind each S3 action applies to.

S3 names come from AWS's "Actions, resources, and condition keys for Amazon S3"
(general purpose buckets). The resource kind of an S3 action ("bucket", "object"
or "other": account, access point, job, Storage Lens...) drives the bucket-policy
check "Action does not apply to any resource(s) in statement".
"""

from __future__ import annotations

import re
from functools import lru_cache

_OBJECT = """
AbortMultipartUpload BypassGovernanceRetention DeleteObject DeleteObjectTagging DeleteObjectVersion
DeleteObjectVersionTagging GetObject GetObjectAcl GetObjectAttributes GetObjectLegalHold GetObjectRetention
GetObjectTagging GetObjectTorrent GetObjectVersion GetObjectVersionAcl GetObjectVersionAttributes
GetObjectVersionForReplication GetObjectVersionTagging GetObjectVersionTorrent InitiateReplication
ListMultipartUploadParts ObjectOwnerOverrideToBucketOwner PutObject PutObjectAcl PutObjectLegalHold
PutObjectRetention PutObjectTagging PutObjectVersionAcl PutObjectVersionTagging ReplicateDelete ReplicateObject
ReplicateTags RestoreObject
"""

_BUCKET = """
CreateBucket CreateBucketMetadataTableConfiguration DeleteBucket DeleteBucketMetadataTableConfiguration
DeleteBucketPolicy DeleteBucketWebsite GetAccelerateConfiguration GetAnalyticsConfiguration GetBucketAcl
GetBucketCORS GetBucketLocation GetBucketLogging GetBucketMetadataTableConfiguration GetBucketNotification
GetBucketObjectLockConfiguration GetBucketOwnershipControls GetBucketPolicy GetBucketPolicyStatus
GetBucketPublicAccessBlock GetBucketRequestPayment GetBucketTagging GetBucketVersioning GetBucketWebsite
GetEncryptionConfiguration GetIntelligentTieringConfiguration GetInventoryConfiguration GetLifecycleConfiguration
GetMetricsConfiguration GetReplicationConfiguration ListBucket ListBucketMultipartUploads ListBucketVersions
PutAccelerateConfiguration PutAnalyticsConfiguration PutBucketAcl PutBucketCORS PutBucketLogging
PutBucketNotification PutBucketObjectLockConfiguration PutBucketOwnershipControls PutBucketPolicy
PutBucketPublicAccessBlock PutBucketRequestPayment PutBucketTagging PutBucketVersioning PutBucketWebsite
PutEncryptionConfiguration PutIntelligentTieringConfiguration PutInventoryConfiguration PutLifecycleConfiguration
PutMetricsConfiguration PutReplicationConfiguration
"""

# Account, access point, Object Lambda, Multi-Region Access Point, batch job, Storage Lens and
# Access Grants actions: never about a bucket or an object named in a bucket policy.
_OTHER = """
AssociateAccessGrantsIdentityCenter CreateAccessGrant CreateAccessGrantsInstance CreateAccessGrantsLocation
CreateAccessPoint CreateAccessPointForObjectLambda CreateJob CreateMultiRegionAccessPoint CreateStorageLensGroup
DeleteAccessGrant DeleteAccessGrantsInstance DeleteAccessGrantsInstanceResourcePolicy DeleteAccessGrantsLocation
DeleteAccessPoint DeleteAccessPointForObjectLambda DeleteAccessPointPolicy DeleteAccessPointPolicyForObjectLambda
DeleteJobTagging DeleteMultiRegionAccessPoint DeleteStorageLensConfiguration DeleteStorageLensConfigurationTagging
DeleteStorageLensGroup DescribeJob DescribeMultiRegionAccessPointOperation DissociateAccessGrantsIdentityCenter
GetAccessGrant GetAccessGrantsInstance GetAccessGrantsInstanceForPrefix GetAccessGrantsInstanceResourcePolicy
GetAccessGrantsLocation GetAccessPoint GetAccessPointConfigurationForObjectLambda GetAccessPointForObjectLambda
GetAccessPointPolicy GetAccessPointPolicyForObjectLambda GetAccessPointPolicyStatus
GetAccessPointPolicyStatusForObjectLambda GetAccountPublicAccessBlock GetDataAccess GetJobTagging
GetMultiRegionAccessPoint GetMultiRegionAccessPointPolicy GetMultiRegionAccessPointPolicyStatus
GetMultiRegionAccessPointRoutes GetStorageLensConfiguration GetStorageLensConfigurationTagging
GetStorageLensDashboard GetStorageLensGroup ListAccessGrants ListAccessGrantsInstances ListAccessGrantsLocations
ListAccessPoints ListAccessPointsForObjectLambda ListAllMyBuckets ListCallerAccessGrants ListJobs
ListMultiRegionAccessPoints ListStorageLensConfigurations ListStorageLensGroups ListTagsForResource
PauseReplication PutAccessGrantsInstanceResourcePolicy PutAccessPointConfigurationForObjectLambda
PutAccessPointPolicy PutAccessPointPolicyForObjectLambda PutAccessPointPublicAccessBlock
PutAccountPublicAccessBlock PutJobTagging PutMultiRegionAccessPointPolicy PutStorageLensConfiguration
PutStorageLensConfigurationTagging SubmitMultiRegionAccessPointRoutes TagResource UntagResource
UpdateAccessGrantsLocation UpdateJobPriority UpdateJobStatus UpdateStorageLensGroup
"""


def _names(prefix: str, block: str) -> frozenset[str]:
    return frozenset(f"{prefix}:{name}" for name in block.split())


S3_OBJECT_ACTIONS: frozenset[str] = _names("s3", _OBJECT)
S3_BUCKET_ACTIONS: frozenset[str] = _names("s3", _BUCKET)
S3_ACTIONS: frozenset[str] = S3_OBJECT_ACTIONS | S3_BUCKET_ACTIONS | _names("s3", _OTHER)

IAM_ACTIONS: frozenset[str] = _names(
    "iam",
    """
    CreateUser GetUser ListUsers DeleteUser CreateAccessKey ListAccessKeys UpdateAccessKey DeleteAccessKey
    PutUserPolicy GetUserPolicy DeleteUserPolicy CreateGroup GetGroup ListGroups DeleteGroup AddUserToGroup
    RemoveUserFromGroup PutGroupPolicy GetGroupPolicy DeleteGroupPolicy ListGroupsForUser
    """,
)

STRONGROOM_ACTIONS: frozenset[str] = _names(
    "strongroom", "CreateTenant ListTenants GetTenant DeleteTenant GetVaultToken GetHealth"
)

KNOWN_ACTIONS: frozenset[str] = S3_ACTIONS | IAM_ACTIONS | STRONGROOM_ACTIONS

_FOLDED: dict[str, str] = {name.lower(): name for name in KNOWN_ACTIONS}


@lru_cache(maxsize=4096)
def glob_regex(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """``*`` (any run, ``/`` and ``:`` included) and ``?`` (one character); everything else literal."""
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@lru_cache(maxsize=4096)
def expand(pattern: str) -> frozenset[str]:
    """The known actions an action pattern (wildcards, any case) matches, in their canonical spelling."""
    rx = glob_regex(pattern.lower())
    return frozenset(name for folded, name in _FOLDED.items() if rx.fullmatch(folded))


def action_known(pattern: str) -> bool:
    """True when the pattern is ``*`` or ``service:action`` matching at least one known action."""
    if pattern != "*" and (pattern.count(":") != 1 or not all(pattern.split(":"))):
        return False
    return bool(expand(pattern))


def resource_kind(action: str) -> str:
    """``"bucket"``, ``"object"`` or ``"other"`` for a known S3 action name (any case)."""
    name = _FOLDED.get(action.lower(), action)
    if name in S3_OBJECT_ACTIONS:
        return "object"
    if name in S3_BUCKET_ACTIONS:
        return "bucket"
    return "other"
