"""A medsyn workspace: one folder holding the governance database, the object store, the keys, the policy.

::

    my-workspace/
      medsyn-workspace.yaml   what this workspace is: name, site, database URL, default identity
      medsyn.db               SQLite (catalog, lineage, ledger, checkpoints, budgets); or a PostgreSQL URL
      objects/                content-addressed store (data files, folders, models, reports)
      keys/ledger-ed25519.pem the key that signs ledger checkpoints (0600)
      policies.yaml           attribute-based access policy (deny by default)

Commands find their workspace from ``--workspace``, else ``MEDSYN_WORKSPACE``, else the nearest
folder upwards from the current one that holds ``medsyn-workspace.yaml`` (as git finds ``.git``).

The CLI's identity (the *subject* of every policy decision) comes from the workspace's
``identity`` block, overridden by ``MEDSYN_USER``, ``MEDSYN_ROLE``, ``MEDSYN_SITE`` and
``MEDSYN_TRAINING`` (comma-separated); the service issue adds real authentication.
"""

from __future__ import annotations

import getpass
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from medsyn.errors import InputError, Problem
from medsyn.governance._access import Subject
from medsyn.governance._store import ObjectStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from medsyn.governance._access import Subject
    from medsyn.governance._ledger import Ledger
    from medsyn.governance._policy import Policy

__all__ = ["CONFIG_NAME", "Identity", "Workspace", "WorkspaceConfig", "find_root", "find_workspace"]

CONFIG_NAME = "medsyn-workspace.yaml"
ENV_WORKSPACE = "MEDSYN_WORKSPACE"
_FORMAT = 1
_DEFAULT_DATABASE = "sqlite:///medsyn.db"
_DEFAULT_POLICY = "policies.yaml"
_DEFAULT_KEY = "keys/ledger-ed25519.pem"
DEFAULT_SECURITY_MEASURES: tuple[str, ...] = (
    "Every operation on data is checked against an attribute-based, deny-by-default access policy.",
    "Every decision and operation is recorded in a hash-chained, Merkle-tree ledger with signed checkpoints.",
    "Data sets are stored by content hash; any alteration is detected.",
    "Pseudonymisation with keyed HMAC-SHA-256; the re-identification table is encrypted (authenticated).",
    "Records without consent for the declared purpose are excluded before processing.",
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


#: Who is acting: the subject attributes policies decide on (one class for the workspace and the policy).
Identity = Subject


@dataclass(frozen=True, slots=True)
class WorkspaceConfig:
    """What ``medsyn-workspace.yaml`` holds (validated when read)."""

    id: str
    name: str
    site: str
    database: str = _DEFAULT_DATABASE
    policy: str = _DEFAULT_POLICY
    signing_key: str = _DEFAULT_KEY
    identity: Mapping[str, Any] = field(default_factory=dict)
    created: str = ""
    #: GDPR Art. 30(1)(a): the controller's name and contact details, the DPO's contact
    controller: Mapping[str, str] = field(default_factory=dict)
    #: Art. 30(1)(g): a general description of the technical and organisational security measures
    security_measures: tuple[str, ...] = DEFAULT_SECURITY_MEASURES

    def to_yaml(self) -> str:
        body = {
            "format": _FORMAT,
            "id": self.id,
            "name": self.name,
            "site": self.site,
            "created": self.created,
            "database": self.database,
            "policy": self.policy,
            "signing_key": self.signing_key,
            "identity": dict(self.identity),
            "controller": dict(self.controller),
            "security_measures": list(self.security_measures),
        }
        header = (
            "# A medsyn workspace (see docs/governance.md).\n"
            "# database: SQLAlchemy URL; a relative sqlite path is relative to this folder.\n"
            "# identity: who runs the CLI here; MEDSYN_USER/ROLE/SITE/TRAINING override it.\n"
        )
        return header + yaml.safe_dump(body, sort_keys=False)

    @classmethod
    def read(cls, path: Path) -> WorkspaceConfig:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise InputError(Problem(str(path), f"cannot be read as YAML ({exc})", "a workspace config")) from None
        if not isinstance(raw, dict):
            raise InputError(Problem(str(path), f"a {type(raw).__name__}", "a mapping of workspace settings"))
        problems = []
        if raw.get("format") != _FORMAT:
            problems.append(Problem(f"{path}: format", repr(raw.get("format")), f"{_FORMAT} (made by a newer medsyn?)"))
        known = {
            "format",
            "id",
            "name",
            "site",
            "created",
            "database",
            "policy",
            "signing_key",
            "identity",
            "controller",
            "security_measures",
        }
        problems += [
            Problem(f"{path}: {k}", "an unknown key", f"one of {sorted(known)}") for k in raw if k not in known
        ]
        for key in ("id", "name", "site"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                problems.append(Problem(f"{path}: {key}", repr(raw.get(key)), "a non-empty string"))
        identity = raw.get("identity") or {}
        if not isinstance(identity, dict):
            problems.append(Problem(f"{path}: identity", repr(identity), "a mapping with user, role, site, training"))
        controller = raw.get("controller") or {}
        if not isinstance(controller, dict):
            problems.append(Problem(f"{path}: controller", repr(controller), "a mapping: name, contact, dpo"))
        measures = raw.get("security_measures", list(DEFAULT_SECURITY_MEASURES))
        if not isinstance(measures, list) or not all(isinstance(m, str) for m in measures):
            problems.append(Problem(f"{path}: security_measures", repr(measures), "a list of sentences"))
        if problems:
            raise InputError(problems)
        return cls(
            id=raw["id"],
            name=raw["name"],
            site=raw["site"],
            database=str(raw.get("database") or _DEFAULT_DATABASE),
            policy=str(raw.get("policy") or _DEFAULT_POLICY),
            signing_key=str(raw.get("signing_key") or _DEFAULT_KEY),
            identity=identity,
            created=str(raw.get("created") or ""),
            controller={str(k): str(v) for k, v in controller.items()},
            security_measures=tuple(measures),
        )


class Workspace:
    """An opened workspace; use :meth:`init`, :meth:`open` or :func:`find_workspace`."""

    def __init__(self, root: Path, config: WorkspaceConfig) -> None:
        self.root = root
        self.config = config
        self.store = ObjectStore(root / "objects")

    # ------------------------------------------------------------------ creating and opening
    @classmethod
    def init(
        cls,
        path: Path,
        *,
        name: str | None = None,
        site: str,
        database: str | None = None,
        identity: Identity | None = None,
        controller: Mapping[str, str] | None = None,
    ) -> Workspace:
        """Create a workspace in ``path`` (an empty or new folder): config, database, key, policy.

        The first ledger entry records the creation, and the first checkpoint is signed, so a
        ledger later emptied or rebuilt can be told from this one.
        """
        from medsyn._atomic import write_text
        from medsyn.governance._policy_yaml import default_policy_yaml
        from medsyn.governance._schema import create_schema
        from medsyn.governance._signing import generate_key

        path = path.resolve()
        if (path / CONFIG_NAME).exists():
            raise InputError(
                Problem(str(path), "is already a medsyn workspace", "a new or empty folder", "Open it instead.")
            )
        if path.exists() and any(path.iterdir()):
            raise InputError(Problem(str(path), "is not empty", "a new or empty folder for the workspace"))
        name = name or path.name
        problems = [
            Problem("workspace name", repr(v), "letters, digits, _ . - (≤ 100)") for v in (name,) if not _NAME.match(v)
        ]
        problems += [Problem("site", repr(v), "letters, digits, _ . - (≤ 100)") for v in (site,) if not _NAME.match(v)]
        if problems:
            raise InputError(problems)
        who = identity or Identity(user=getpass.getuser(), role="data_steward", site=site, training=frozenset())
        config = WorkspaceConfig(
            id=str(uuid.uuid4()),
            name=name,
            site=site,
            database=database or _DEFAULT_DATABASE,
            identity=who.to_dict(),
            controller=dict(controller or {"name": "", "contact": "", "dpo": ""}),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        path.mkdir(parents=True, exist_ok=True)
        ws = cls(path, config)
        create_schema(ws.engine)
        generate_key(path / config.signing_key)
        write_text(path / config.policy, default_policy_yaml())
        ws.store.root.mkdir(parents=True, exist_ok=True)
        write_text(path / CONFIG_NAME, config.to_yaml())  # last: a folder without it is not a workspace
        return ws

    @classmethod
    def open(cls, path: Path) -> Workspace:
        """Open the workspace in ``path``, checking its schema revision."""
        from medsyn.governance._schema import check_revision

        path = path.resolve()
        cfg_path = path / CONFIG_NAME
        if not cfg_path.is_file():
            raise InputError(
                Problem(str(path), f"holds no {CONFIG_NAME}", "a medsyn workspace", "Create one with `medsyn init`.")
            )
        ws = cls(path, WorkspaceConfig.read(cfg_path))
        check_revision(ws.engine, ws.database_label)
        return ws

    # ------------------------------------------------------------------ parts
    @property
    def database_url(self) -> str:
        url = self.config.database
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.root / url[len(prefix) :])
        return url

    @property
    def database_label(self) -> str:
        """The database for messages (a PostgreSQL URL without its password)."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)

    @cached_property
    def engine(self) -> Engine:
        from medsyn.governance._db import connect

        return connect(self.database_url)

    @cached_property
    def ledger(self) -> Ledger:
        from medsyn.governance._ledger import Ledger
        from medsyn.governance._signing import load_key

        key = self.root / self.config.signing_key
        # without the key the ledger still verifies its chain and tree (not the signatures) and proves
        return Ledger(self.engine, signer=load_key(key) if key.exists() else None)

    @property
    def policy_path(self) -> Path:
        return self.root / self.config.policy

    @cached_property
    def policy(self) -> Policy:
        from medsyn.governance._policy_yaml import load_policy

        return load_policy(self.policy_path)

    def identity(self, env: Mapping[str, str] | None = None) -> Identity:
        """The acting identity: the config's ``identity`` block, overridden by MEDSYN_* variables."""
        env = os.environ if env is None else env
        base = self.config.identity
        training = env.get("MEDSYN_TRAINING")
        trained = (
            frozenset(t.strip() for t in training.split(",") if t.strip())
            if training is not None
            else frozenset(str(t) for t in base.get("training") or ())
        )
        return Identity(
            user=env.get("MEDSYN_USER") or str(base.get("user") or getpass.getuser()),
            role=env.get("MEDSYN_ROLE") or str(base.get("role") or ""),
            site=env.get("MEDSYN_SITE") or str(base.get("site") or self.config.site),
            training=trained,
        )

    @cached_property
    def key_id(self) -> str:
        """The id of the ledger signing key (SHA-256 of its public key)."""
        key = self.ledger.public_key
        assert key is not None  # a workspace ledger always has its key
        return key.key_id

    def record_creation(self) -> int:
        """Append the ledger's first entry (this workspace's creation) and sign a checkpoint."""
        from medsyn.governance._ledger import LedgerEntry

        who = self.identity()
        receipt = self.ledger.append(
            LedgerEntry(
                actor=who.to_dict(),
                action="workspace.init",
                purpose="governance",
                legal_basis="",
                inputs=[],
                outputs=[],
                parameters={"workspace": self.config.id, "name": self.config.name, "site": self.config.site},
                decision="none",
                rule="",
                outcome="ok",
                reason="",
            )
        )
        self.ledger.checkpoint()
        return receipt.seq

    def summary(self) -> dict[str, object]:
        """What ``medsyn workspace info`` shows."""
        from sqlalchemy import func, select

        from medsyn.governance._db import datasets, read

        with read(self.engine) as conn:
            n_data = conn.execute(select(func.count()).select_from(datasets)).scalar_one()
        return {
            "workspace": f"{self.config.name} ({self.config.id})",
            "folder": self.root,
            "site": self.config.site,
            "database": self.database_label,
            "policy": self.policy_path,
            "data sets": n_data,
            "ledger entries": self.ledger.size(),
            "identity": self.identity().label(),
        }

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def find_root(explicit: Path | None = None, *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The folder of the workspace to work in (see :func:`find_workspace`), without opening it."""
    env = os.environ if env is None else env
    candidates: list[Path]
    if explicit is not None:
        candidates = [explicit.resolve()]
    elif env.get(ENV_WORKSPACE):
        candidates = [Path(env[ENV_WORKSPACE]).resolve()]
    else:
        here = (cwd or Path.cwd()).resolve()
        candidates = [here, *here.parents]
    for folder in candidates:
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise InputError(
        Problem(str(candidates[0]), f"holds no {CONFIG_NAME}", "a medsyn workspace", "Create one with `medsyn init`.")
    )


def find_workspace(
    explicit: Path | None = None, *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Workspace | None:
    """The workspace to work in: ``explicit``, else ``$MEDSYN_WORKSPACE``, else the nearest one upwards.

    An explicit or environment path that is not a workspace is an error (the user asked for
    it); finding none by walking up returns None.
    """
    env = os.environ if env is None else env
    if explicit is not None:
        return Workspace.open(explicit)
    if env.get(ENV_WORKSPACE):
        return Workspace.open(Path(env[ENV_WORKSPACE]))
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return Workspace.open(folder)
    return None
