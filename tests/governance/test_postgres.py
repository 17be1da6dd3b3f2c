"""The workspace on PostgreSQL: the same schema, ledger and governed operations (needs a server).

Set ``MEDSYN_TEST_POSTGRES_URL`` (e.g. ``postgresql+psycopg://medsyn:pw@localhost/medsyn_test``,
an empty database the test may fill) to run it; without one it is skipped, as CI has no server.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

URL = os.environ.get("MEDSYN_TEST_POSTGRES_URL", "")
pytestmark = pytest.mark.skipif(not URL, reason="no PostgreSQL server (set MEDSYN_TEST_POSTGRES_URL)")


def test_a_workspace_on_postgres_registers_and_verifies(tmp_path: Path) -> None:
    from medsyn.governance import Governor, Identity, Workspace

    src = tmp_path / "t.csv"
    src.write_text("age,sex\n" + "".join(f"{20 + i % 50},{'FM'[i % 2]}\n" for i in range(100)))
    ws = Workspace.init(
        tmp_path / "ws", site="st-mary", database=URL, identity=Identity("sam", "data_steward", "st-mary")
    )
    ws.record_creation()
    gov = Governor(ws, purpose="research", env={"MEDSYN_ROLE": "data_steward"})
    record = gov.register(
        src,
        name="t",
        kind="identifiable",
        sensitivity="special_category",
        owner_site="st-mary",
        legal_basis="art6-1-e,art9-2-j",
        purposes=("research",),
        retention="P1Y",
    )
    assert Workspace.open(ws.root).ledger.verify().ok
    assert record.records == 100
