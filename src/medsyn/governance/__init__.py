"""Governance: the workspace, its catalog and lineage, the ledger, access policies, consent, budgets.

The entry points (the CLI, later the service and federated jobs) call this package through
:class:`Governor`; the algorithms never do. See ``docs/governance.md``.
"""

from medsyn.governance._access import AccessRequest, Context, Decision, Resource, Subject
from medsyn.governance._catalog import DatasetRecord
from medsyn.governance._govern import Governor, Operation
from medsyn.governance._ledger import Ledger, LedgerEntry, Receipt, StoredEntry
from medsyn.governance._ledger_verify import LedgerTampered, Verification, verify_export
from medsyn.governance._policy import Policy
from medsyn.governance._policy_yaml import load_policy
from medsyn.governance._proofs import ConsistencyProof, InclusionProof
from medsyn.governance._signing import Checkpoint, PublicKey, Signer
from medsyn.governance._workspace import Identity, Workspace, WorkspaceConfig, find_workspace

__all__ = [
    "AccessRequest",
    "Checkpoint",
    "ConsistencyProof",
    "Context",
    "DatasetRecord",
    "Decision",
    "Governor",
    "Identity",
    "InclusionProof",
    "Ledger",
    "LedgerEntry",
    "LedgerTampered",
    "Operation",
    "Policy",
    "PublicKey",
    "Receipt",
    "Resource",
    "Signer",
    "StoredEntry",
    "Subject",
    "Verification",
    "Workspace",
    "WorkspaceConfig",
    "find_workspace",
    "load_policy",
    "verify_export",
]
