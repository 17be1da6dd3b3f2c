"""Shared set-up for the catalog, lineage, PROV and records-of-processing tests.

A workspace database without the rest of a workspace (no key, no policy): the tables from
``_db.metadata``, and real data from ``../shared/data`` (skipped with a reason where absent).
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from medsyn.governance import _db
from medsyn.governance._catalog import DatasetRecord, describe, register
from medsyn.governance._lineage import OperationRecord, record_operation
from tests.conftest import shared

HEART = "heart_disease_cleveland/heart_cleveland.csv"
ECG_RECORDS = ("E07500", "E07501", "E07502")

#: The metadata every real-data registration in these tests uses (a research use under Art. 9(2)(j)).
RESEARCH = {
    "kind": "identifiable",
    "sensitivity": "special_category",
    "owner_site": "cleveland",
    "legal_basis": "art6-1-e,art9-2-j",
    "purposes": ["research"],
    "retention": "P10Y",
    "registered_by": "ana (data_steward@cleveland)",
}


def new_engine(tmp: Path) -> Engine:
    engine = _db.connect(f"sqlite:///{tmp / 'ws.db'}")
    _db.metadata.create_all(engine)
    return engine


def heart_csv() -> Path:
    return shared(HEART)


def ecg_folder(tmp: Path) -> Path:
    """Three real 12-lead ECG records (PTB-XL / Georgia, WFDB) copied into a folder of their own."""
    src = shared("ecg_cinc2021_georgia_ptbxl")
    folder = tmp / "ecg"
    folder.mkdir(parents=True, exist_ok=True)
    for rec in ECG_RECORDS:
        for suffix in (".hea", ".mat"):
            shutil.copy(src / f"{rec}{suffix}", folder)
    return folder


def describe_heart(**overrides: object) -> DatasetRecord:
    fields: dict[str, object] = {**RESEARCH, "name": "heart", **overrides}
    return describe(heart_csv(), **fields)  # type: ignore[arg-type]


def write_json(path: Path, payload: Mapping[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


# ---------------------------------------------------------------------- a real derivation chain
@dataclass(frozen=True)
class Chain:
    """real → anonymise → anonymised → fit → model → sample → synthetic → evaluate (+ anonymised) → report."""

    real: DatasetRecord
    anonymised: DatasetRecord
    model: DatasetRecord
    synthetic: DatasetRecord
    report: DatasetRecord
    operations: dict[str, OperationRecord]


ANA = "ana (data_steward@cleveland)"
BEN = "ben (researcher@leeds)"


def _op(action: str, actor: str, params: Mapping[str, object], start: str, end: str) -> OperationRecord:
    return OperationRecord(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"medsyn-test/{action}/{start}")),
        action=action,
        actor=actor,
        purpose="research",
        parameters=dict(params),
        started_at=start,
        finished_at=end,
    )


def build_chain(tmp: Path, engine: Engine) -> Chain:
    """Run the real algorithms on the Cleveland table and record each step's lineage."""
    from medsyn.data import read, write_table
    from medsyn.evaluate import evaluate
    from medsyn.privacy import anonymize
    from medsyn.synth import get as generator

    real = describe_heart(description="Data subjects: adult cardiology patients of the Cleveland Clinic")
    anon_result = anonymize(read(heart_csv()), k=5, max_suppression=0.05, utility=False)
    anon_path = write_table(anon_result.dataset, tmp / "heart_k5.csv")
    figures = {"k_reached": 5, "suppressed_records": int(anon_result.suppressed)}
    anonymised = describe(
        anon_path,
        **{**RESEARCH, "name": "heart-k5", "kind": "anonymised", "legal_basis": "art6-1-e", "privacy": figures},
    )  # type: ignore[arg-type]
    model_obj = generator("gaussian_copula")().fit(read(anon_path))
    model_path = model_obj.save(tmp / "model")
    model = describe(
        model_path,
        **{**RESEARCH, "name": "heart-copula", "kind": "derived", "modality": "model", "legal_basis": "art6-1-e"},
    )  # type: ignore[arg-type]
    syn_path = write_table(model_obj.sample(303, seed=0), tmp / "heart_synthetic.csv")
    synthetic = describe(
        syn_path,
        **{
            **RESEARCH,
            "name": "heart-synthetic",
            "kind": "synthetic",
            "legal_basis": "not-personal",
            "sensitivity": "internal",
        },
    )  # type: ignore[arg-type]
    card = evaluate(read(anon_path), read(syn_path), metrics=["ks_statistic", "dcr"], n_bootstrap=10)
    report_path = tmp / "scorecard.json"
    report_path.write_text(card.to_json(), encoding="utf-8")
    report = describe(
        report_path,
        **{
            **RESEARCH,
            "name": "heart-scorecard",
            "kind": "derived",
            "modality": "report",
            "legal_basis": "not-personal",
            "sensitivity": "internal",
            "owner_site": "leeds",
            "registered_by": BEN,
        },
    )  # type: ignore[arg-type]
    ops = {
        "anonymize": _op(
            "anonymize",
            ANA,
            {"k": 5, "max_suppression": 0.05},
            "2025-03-01T09:00:00+00:00",
            "2025-03-01T09:00:02+00:00",
        ),
        "synth.fit": _op(
            "synth.fit", BEN, {"generator": "gaussian_copula"}, "2025-03-02T10:00:00+00:00", "2025-03-02T10:00:05+00:00"
        ),
        "synth.sample": _op(
            "synth.sample", BEN, {"n": 303, "seed": 0}, "2025-03-02T10:01:00+00:00", "2025-03-02T10:01:01+00:00"
        ),
        "evaluate": _op(
            "evaluate",
            BEN,
            {"metrics": ["ks_statistic", "dcr"], "n_bootstrap": 10},
            "2025-03-03T08:00:00+00:00",
            "2025-03-03T08:00:03+00:00",
        ),
    }
    with _db.write(engine) as conn:
        register(conn, real)
        record_operation(conn, ops["anonymize"], inputs=[(real.version, "real")], outputs=[(anonymised, "anonymised")])
        record_operation(conn, ops["synth.fit"], inputs=[(anonymised.version, "real")], outputs=[(model, "model")])
        record_operation(
            conn, ops["synth.sample"], inputs=[(model.version, "model")], outputs=[(synthetic, "synthetic")]
        )
        record_operation(
            conn,
            ops["evaluate"],
            inputs=[(anonymised.version, "real"), (synthetic.version, "synthetic")],
            outputs=[(report, "report")],
        )
    return Chain(real, anonymised, model, synthetic, report, ops)
