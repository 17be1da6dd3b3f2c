"""Lineage of a real derivation chain: anonymise → fit → sample → evaluate, walked both ways."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import Engine, func, select

from medsyn.errors import InputError, UnknownNameError
from medsyn.governance import _db
from medsyn.governance._catalog import get
from medsyn.governance._lineage import (
    LineageNode,
    OperationRecord,
    ancestors,
    descendants,
    lineage_graph,
    lineage_summary,
    lineage_tree,
    record_operation,
)
from tests.governance.catalog_helpers import ANA, Chain, build_chain, new_engine


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Chain]:
    tmp = tmp_path_factory.mktemp("lineage")
    engine = new_engine(tmp)
    return engine, build_chain(tmp, engine)


def _datasets(node: LineageNode) -> list[str]:
    return [n.dataset.name for n in node.walk() if n.dataset is not None]


def _actions(node: LineageNode) -> list[str]:
    return [n.operation.action for n in node.walk() if n.operation is not None]


def test_ancestors_of_the_report_reach_the_real_table(built: tuple[Engine, Chain]) -> None:
    engine, chain = built
    with _db.read(engine) as conn:
        tree = ancestors(conn, chain.report.version)
    assert tree.dataset == replace(chain.report, operation_id=chain.operations["evaluate"].id)
    (evaluate,) = tree.children
    assert evaluate.operation is not None
    assert evaluate.operation.action == "evaluate"
    assert [(c.role, c.dataset.name if c.dataset else "") for c in evaluate.children] == [
        ("real", "heart-k5"),
        ("synthetic", "heart-synthetic"),
    ]
    assert set(_datasets(tree)) == {"heart-scorecard", "heart-k5", "heart-synthetic", "heart-copula", "heart"}
    assert sorted(set(_actions(tree))) == ["anonymize", "evaluate", "synth.fit", "synth.sample"]
    # heart-k5 is reached twice (evaluated against, and fitted on): expanded once, then marked
    k5 = [n for n in tree.walk() if n.dataset is not None and n.dataset.name == "heart-k5"]
    assert [n.repeated for n in k5] == [False, True]
    assert _datasets(tree).count("heart") == 1
    assert not any(n.cycle or n.truncated for n in tree.walk())


def test_descendants_of_the_real_table_reach_the_report(built: tuple[Engine, Chain]) -> None:
    engine, chain = built
    with _db.read(engine) as conn:
        tree = descendants(conn, chain.real.version)
    assert set(_datasets(tree)) == {"heart", "heart-k5", "heart-copula", "heart-synthetic", "heart-scorecard"}
    evaluations = [n for n in tree.walk() if n.operation is not None and n.operation.action == "evaluate"]
    assert [n.repeated for n in evaluations] == [False, True]  # reached from heart-k5 and from the sample
    with _db.read(engine) as conn:
        up_from_synthetic = lineage_graph(conn, [chain.synthetic.version], direction="up")
        both = lineage_graph(conn, [chain.synthetic.version], direction="both")
        everything = lineage_graph(conn)
    assert chain.report.version not in up_from_synthetic.datasets
    assert set(up_from_synthetic.datasets) == {
        chain.real.version,
        chain.anonymised.version,
        chain.model.version,
        chain.synthetic.version,
    }
    assert set(both.datasets) == set(everything.datasets)
    assert len(everything.edges) == 9  # 1+1 anonymise, 1+1 fit, 1+1 sample, 2+1 evaluate


def test_outputs_are_registered_with_their_operation(built: tuple[Engine, Chain]) -> None:
    engine, chain = built
    with _db.read(engine) as conn:
        synthetic = get(conn, "heart-synthetic")
        real = get(conn, "heart")
        summary = lineage_summary(conn, chain.synthetic.version)
    assert synthetic.operation_id == chain.operations["synth.sample"].id
    assert real.operation_id is None  # registered by hand
    assert summary["inputs"] == [chain.model.ref]
    assert [op["action"] for op in summary["generated_by"]] == ["synth.sample"]  # type: ignore[index]
    assert [u["action"] for u in summary["used_by"]] == ["evaluate"]  # type: ignore[union-attr]
    assert (summary["ancestor_versions"], summary["descendant_versions"]) == (3, 1)


def test_the_tree_renders_in_the_terminal(built: tuple[Engine, Chain]) -> None:
    engine, chain = built
    with _db.read(engine) as conn:
        tree = ancestors(conn, chain.report.version)
    console = Console(record=True, width=250, color_system=None)
    console.print(lineage_tree(tree))
    text = console.export_text()
    assert "heart-scorecard @" in text
    assert "anonymize by ana (data_steward@cleveland) for research" in text
    assert "real: heart-k5 @" in text
    assert "made it as 'anonymised'" in text
    assert "k=5" in text  # the privacy figure reached
    assert "(shown above)" in text
    lines = text.splitlines()
    assert lines[0].startswith("heart-scorecard @")
    assert lines[1].startswith("└── evaluate by ben")
    assert text.index("synth.sample") < text.index("synth.fit")


def test_operation_round_trip_and_validation() -> None:
    op = OperationRecord.start("synth.fit", actor=ANA, purpose="research", parameters={"epochs": 3}).finished()
    assert OperationRecord.from_row(op.to_row()) == op
    assert op.code_version  # the medsyn version
    bad = replace(
        op, id="x", action="Synth Fit", actor="", parameters={"lr": math.nan, "f": {1: 2}}, finished_at="yesterday"
    )
    locations = {p.location for p in bad.problems()}
    assert locations == {"operation id", "action", "actor", "parameters.lr", "parameters.f", "finished_at"}


def test_record_operation_refuses_unknown_inputs_and_writes_nothing(
    tmp_path: Path, built: tuple[Engine, Chain]
) -> None:
    _, chain = built
    engine = new_engine(tmp_path)
    op = OperationRecord.start("evaluate", actor=ANA, purpose="research")
    with pytest.raises(InputError) as err, _db.write(engine) as conn:
        record_operation(
            conn,
            op,
            inputs=[("ab" * 32, "real"), ("", "vault")],
            outputs=[(chain.report, "r" * 41)],
        )
    text = str(err.value)
    assert "input abababababab: is not a registered data set version" in text
    assert "input #2: has no version" in text
    assert "at most 40 characters" in text
    with _db.read(engine) as conn:
        assert conn.execute(select(func.count()).select_from(_db.operations)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(_db.datasets)).scalar() == 0


def test_the_same_bytes_made_again_are_linked_not_registered_twice(tmp_path: Path, built: tuple[Engine, Chain]) -> None:
    _, chain = built
    engine = new_engine(tmp_path)
    first = OperationRecord.start("anonymize", actor=ANA, purpose="research", parameters={"k": 5}).finished()
    second = OperationRecord.start("anonymize", actor=ANA, purpose="audit", parameters={"k": 5}).finished()
    with _db.write(engine) as conn:
        from medsyn.governance._catalog import register

        register(conn, chain.real)
        record_operation(conn, first, inputs=[(chain.real.version, "real")], outputs=[(chain.anonymised, "anonymised")])
        record_operation(
            conn, second, inputs=[(chain.real.version, "real")], outputs=[(chain.anonymised, "anonymised")]
        )
    with _db.read(engine) as conn:
        assert get(conn, "heart-k5").operation_id == first.id  # the first maker stays its registrar
        tree = ancestors(conn, chain.anonymised.version)
    assert sorted(c.operation.purpose for c in tree.children if c.operation) == ["audit", "research"]


def test_an_operation_that_returns_its_input_unchanged_does_not_loop(
    tmp_path: Path, built: tuple[Engine, Chain]
) -> None:
    _, chain = built
    engine = new_engine(tmp_path)
    op = OperationRecord.start("anonymize", actor=ANA, purpose="research", parameters={"k": 2}).finished()
    with _db.write(engine) as conn:
        from medsyn.governance._catalog import register

        register(conn, chain.anonymised)
        # already 2-anonymous: the output is the input, byte for byte
        record_operation(
            conn, op, inputs=[(chain.anonymised.version, "real")], outputs=[(chain.anonymised.version, "anonymised")]
        )
    with _db.read(engine) as conn:
        up = ancestors(conn, chain.anonymised.version)
        down = descendants(conn, chain.anonymised.version)
    for tree in (up, down):
        (op_node,) = tree.children
        (again,) = op_node.children
        assert again.cycle
        assert again.children == ()


def test_unknown_version(built: tuple[Engine, Chain]) -> None:
    engine, _ = built
    with _db.read(engine) as conn, pytest.raises(UnknownNameError, match="no data set version 'cdcdcdcdcdcd'"):
        ancestors(conn, "cd" * 32)
