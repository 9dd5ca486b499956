"""The audit log: every S3, admin and vault operation appends one entry to its tenant's hash chain (and the
operators' chain ``system``), in the same transaction as what it changed; checkpoints of each chain's head are signed
by the vault's Ed25519 audit key. An export carries the entries and checkpoints and verifies offline.

Modules: ``entry`` (the record and its canonical bytes), ``chain`` (appending under the head's lock), ``checkpoint``
(the signed note), ``sink`` (the per-process writer: group commit, the unit-of-work hook), ``export``, ``verify``.
"""
