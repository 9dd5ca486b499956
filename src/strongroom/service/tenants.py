"""Tenant administration: tenants, users, groups, identity policies, access keys, the tenant-wide public access block.

Every method runs after authorization allowed the operation (http/admin names each one and asks policy.authz).
Secrets are made here, sealed in the vault at once and shown once to the caller; the database keeps only their id,
owner, status and last use. Changes that affect access drop this process's cached view at once (other gateways
see them within ``service.access.PRINCIPAL_SECONDS``).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
from dataclasses import dataclass

from strongroom.core import errors
from strongroom.core.types import SYSTEM_TENANT
from strongroom.metadata.models import AccessKey, Group, Tenant, User
from strongroom.policy import acl as acls
from strongroom.policy import iam
from strongroom.service.access import AccessService, new_canonical_id
from strongroom.service.runtime import Runtime

TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
#: IAM's rule for user and group names
ENTITY_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
MAX_KEYS_PER_USER = 2  # as IAM: two access keys per user, so one can be rotated while the other works
_KEY_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class NewAccessKey:
    """A freshly made access key: the only time its secret is shown."""

    tenant: str
    user: str
    access_key_id: str
    secret_access_key: str
    created_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_tenant_name(name: str) -> str:
    if not TENANT_NAME.fullmatch(name):
        raise errors.InvalidArgument(
            f"Invalid tenant name {name!r}: 1-63 lower-case letters, digits and hyphens, "
            "beginning with a letter or digit"
        )
    return name


def check_entity_name(name: str, what: str = "user") -> str:
    if not ENTITY_NAME.fullmatch(name):
        raise errors.InvalidArgument(
            f"Invalid {what} name {name!r}: 1-64 characters of letters, digits and + = , . @ _ -"
        )
    return name


class TenantService:
    def __init__(self, rt: Runtime, access: AccessService) -> None:
        self.rt = rt
        self.access = access

    # --- tenants ----------------------------------------------------------------------------------------------
    def create_tenant(self, name: str, admin: str = "admin") -> NewAccessKey:
        """A tenant with its vault namespace, its first admin user and that user's first access key."""
        check_tenant_name(name)
        check_entity_name(admin)
        if name in (SYSTEM_TENANT, "root"):
            raise errors.EntityAlreadyExists(f"tenant {name} is reserved")
        if self.rt.vault.shredded(name) is not None:
            # bucket policies and ACLs elsewhere may still name it: a new tenant must not inherit their grants
            raise errors.EntityAlreadyExists(
                f"tenant {name} was crypto-shredded; the names of shredded tenants are not reused"
            )
        if self.rt.repo.get_tenant(name) is None and self.rt.audit.store.head(name) is not None:
            # a deleted tenant's audit chain stays (its history is evidence): a new tenant of that name would read
            # it, and inherit any grant that names it elsewhere
            raise errors.EntityAlreadyExists(
                f"tenant {name} existed before and its audit log keeps the name; the names of deleted tenants are "
                "not reused"
            )
        pab = acls.ALL_ON if self.rt.settings.public_access_block_default else None
        self.rt.repo.create_tenant(
            Tenant(
                id=name,
                name=name,
                created_at=_now(),
                canonical_id=new_canonical_id(),
                public_access_block=pab.to_json() if pab is not None else None,
            )
        )
        self.rt.vault.create_namespace(name)
        self.rt.repo.ensure_user(name, admin, is_admin=True)
        return self._new_key(name, admin)

    def get_tenant(self, name: str) -> Tenant:
        row = self.rt.repo.get_tenant(name)
        if row is None:
            raise errors.NoSuchEntity(f"tenant {name} does not exist")
        return row

    def list_tenants(self) -> list[Tenant]:
        return self.rt.repo.list_tenants()

    def delete_tenant(self, name: str) -> None:
        """Delete an empty tenant (no buckets, no keys or secrets left in its vault namespace)."""
        if name == SYSTEM_TENANT:
            raise errors.DeleteConflict("the system tenant cannot be deleted")
        self.get_tenant(name)
        if self.rt.repo.count_buckets(name):
            raise errors.DeleteConflict(f"tenant {name} still has buckets; delete them first")
        self.rt.vault.delete_namespace(name)  # refuses while keys or secrets remain
        keys = [k.access_key_id for k in self.rt.repo.list_access_keys(name)]
        self.rt.repo.delete_tenant(name)
        for key_id in keys:
            self.rt.vault.delete_credential(key_id)
            self.access.forget_key(key_id)
        self.access.forget_tenant(name)

    def tenant_public_access_block(self, name: str) -> acls.PublicAccessBlock:
        row = self.get_tenant(name)
        return acls.PublicAccessBlock.from_json(row.public_access_block) if row.public_access_block else acls.ALL_OFF

    def set_tenant_public_access_block(self, name: str, block: acls.PublicAccessBlock) -> None:
        self.get_tenant(name)
        self.rt.repo.set_tenant_public_access_block(name, block.to_json())
        self.access.forget_tenant(name)

    # --- users ------------------------------------------------------------------------------------------------
    def create_user(self, tenant: str, name: str, admin: bool) -> User:
        check_entity_name(name)
        self.get_tenant(tenant)
        return self.rt.repo.create_user(
            User(tenant_id=tenant, name=name, is_admin=admin, policy=None, created_at=_now())
        )

    def get_user(self, tenant: str, name: str) -> User:
        row = self.rt.repo.get_user(tenant, name)
        if row is None:
            raise errors.NoSuchEntity(f"user {tenant}/{name} does not exist")
        return row

    def list_users(self, tenant: str) -> list[User]:
        self.get_tenant(tenant)
        return self.rt.repo.list_users(tenant)

    def delete_user(self, tenant: str, name: str) -> None:
        for key_id in self.rt.repo.delete_user(tenant, name):
            self.rt.vault.delete_credential(key_id)
            self.access.forget_key(key_id)
        self.rt.vault.revoke_user_tokens(tenant, name)  # the vault tokens the user got through the admin API

    def put_user_policy(self, tenant: str, name: str, document: str) -> None:
        policy = iam.parse_policy(document, kind="identity")
        self.rt.repo.set_user_policy(tenant, name, policy.text)
        self.access.forget_key()

    def get_user_policy(self, tenant: str, name: str) -> str:
        user = self.get_user(tenant, name)
        if not user.policy:
            raise errors.NoSuchEntity(f"user {tenant}/{name} has no policy")
        return str(user.policy)

    def delete_user_policy(self, tenant: str, name: str) -> None:
        self.get_user(tenant, name)
        self.rt.repo.set_user_policy(tenant, name, None)
        self.access.forget_key()

    def user_groups(self, tenant: str, name: str) -> list[str]:
        return [g.name for g in self.rt.repo.user_groups(tenant, name)]

    # --- groups -----------------------------------------------------------------------------------------------
    def create_group(self, tenant: str, name: str) -> Group:
        check_entity_name(name, "group")
        return self.rt.repo.create_group(Group(tenant_id=tenant, name=name, policy=None, created_at=_now()))

    def get_group(self, tenant: str, name: str) -> Group:
        row = self.rt.repo.get_group(tenant, name)
        if row is None:
            raise errors.NoSuchEntity(f"group {tenant}/{name} does not exist")
        return row

    def list_groups(self, tenant: str) -> list[Group]:
        self.get_tenant(tenant)
        return self.rt.repo.list_groups(tenant)

    def delete_group(self, tenant: str, name: str) -> None:
        self.rt.repo.delete_group(tenant, name)
        self.access.forget_key()

    def group_members(self, tenant: str, name: str) -> list[str]:
        self.get_group(tenant, name)
        return self.rt.repo.group_members(tenant, name)

    def add_member(self, tenant: str, group: str, user: str) -> None:
        self.rt.repo.add_group_member(tenant, group, user)
        self.access.forget_key()

    def remove_member(self, tenant: str, group: str, user: str) -> None:
        self.get_group(tenant, group)
        self.rt.repo.remove_group_member(tenant, group, user)
        self.access.forget_key()

    def put_group_policy(self, tenant: str, name: str, document: str) -> None:
        policy = iam.parse_policy(document, kind="identity")
        self.rt.repo.set_group_policy(tenant, name, policy.text)
        self.access.forget_key()

    def get_group_policy(self, tenant: str, name: str) -> str:
        group = self.get_group(tenant, name)
        if not group.policy:
            raise errors.NoSuchEntity(f"group {tenant}/{name} has no policy")
        return str(group.policy)

    def delete_group_policy(self, tenant: str, name: str) -> None:
        self.get_group(tenant, name)
        self.rt.repo.set_group_policy(tenant, name, None)
        self.access.forget_key()

    # --- access keys ------------------------------------------------------------------------------------------
    def _new_key(self, tenant: str, user: str) -> NewAccessKey:
        key_id = "SR" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))
        secret = secrets.token_urlsafe(30)
        created = _now()
        # the secret is sealed in the vault before the key exists for the database: no window where it works
        # without its secret, and a failure leaves at most an unused vault record
        self.rt.vault.put_credential(key_id, secret, tenant, user)
        self.rt.repo.create_access_key(
            AccessKey(
                access_key_id=key_id,
                tenant_id=tenant,
                user_name=user,
                status="Active",
                created_at=created,
                last_used_at=None,
            )
        )
        return NewAccessKey(tenant, user, key_id, secret, created)

    def create_access_key(self, tenant: str, user: str) -> NewAccessKey:
        self.get_user(tenant, user)
        if len(self.rt.repo.list_access_keys(tenant, user)) >= MAX_KEYS_PER_USER:
            raise errors.Conflict(
                f"user {tenant}/{user} already has {MAX_KEYS_PER_USER} access keys (the limit); delete one first"
            )
        return self._new_key(tenant, user)

    def list_access_keys(self, tenant: str, user: str | None = None) -> list[AccessKey]:
        if user is not None:
            self.get_user(tenant, user)
        else:
            self.get_tenant(tenant)
        return self.rt.repo.list_access_keys(tenant, user)

    def get_access_key(self, key_id: str) -> AccessKey:
        row = self.rt.repo.get_access_key(key_id)
        if row is None:
            raise errors.NoSuchEntity("The specified access key does not exist.")
        return row

    def set_access_key_status(self, key_id: str, status: str) -> AccessKey:
        if status not in ("Active", "Inactive"):
            raise errors.InvalidArgument("status must be Active or Inactive")
        self.get_access_key(key_id)
        self.rt.repo.set_access_key_status(key_id, status)
        self.access.forget_key(key_id)
        return self.get_access_key(key_id)

    def delete_access_key(self, key_id: str) -> None:
        self.get_access_key(key_id)
        self.rt.repo.delete_access_key(key_id)
        self.rt.vault.delete_credential(key_id)
        self.access.forget_key(key_id)
