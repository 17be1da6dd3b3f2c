"""The diabetes table's encoding (~380 features): PRDC equal to pyMDMA's definition, exactly, without n × m matrices.

The default tests check 1,500 × 1,500 records against the all-pairs reference; the slow twin runs
pyMDMA itself (from ``benchmarks/.venvs/pymdma`` when it exists) on 10,000 × 10,000.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from medsyn.data import TabularDataset
from medsyn.evaluate import EvalInputs
from medsyn.evaluate.tabular import manifold_terms, prdc
from tests.evaluate.tabular.conftest import DIABETES, halves, real_table
from tests.evaluate.tabular.test_knn import reference_prdc

ROOT = Path(__file__).resolve().parents[3]
PYMDMA = ROOT / "benchmarks" / ".venvs" / "pymdma" / "bin" / "python"


def _encoded(size: int) -> tuple[np.ndarray, np.ndarray]:
    real, other = halves(real_table(DIABETES), size=size)
    assert isinstance(real, TabularDataset)
    inputs = EvalInputs.build(real, other)
    return inputs.matrix("real"), inputs.matrix("synthetic")


def test_prdc_on_the_diabetes_encoding_equals_the_all_pairs_reference() -> None:
    real, syn = _encoded(1_500)
    assert real.shape[1] > 300  # one-hot categories: many exact ties between records
    ours = prdc(real, syn, k=5).to_dict()
    assert ours == pytest.approx(reference_prdc(real, syn, 5, closed=True), abs=1e-12)


def test_candidate_path_on_the_diabetes_encoding() -> None:
    real, syn = _encoded(1_500)
    exact = manifold_terms(real, syn, k=5)
    approx = manifold_terms(real, syn, k=5, method="approximate")
    for name in ("precision_terms", "recall_terms", "coverage_terms", "density_terms"):
        assert getattr(approx, name).mean() == pytest.approx(getattr(exact, name).mean(), abs=0.02), name


PYMDMA_SCRIPT = """
import json, sys, numpy as np
from pymdma.tabular.measures.synthesis_val import Coverage, Density, ImprovedPrecision, ImprovedRecall
r, s = np.load(sys.argv[1]), np.load(sys.argv[2])
metrics = [("precision", ImprovedPrecision), ("recall", ImprovedRecall), ("density", Density), ("coverage", Coverage)]
out = {n: float(c(k=5).compute(r, s).dataset_level.value) for n, c in metrics}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_prdc_equals_pymdma_at_10k(tmp_path: Path) -> None:
    if not PYMDMA.exists():
        pytest.skip(f"pyMDMA's venv is absent ({PYMDMA}); make it with benchmarks/audit.py --setup-only")
    real, syn = _encoded(10_000)
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "syn.npy", syn)
    script = tmp_path / "run.py"
    script.write_text(PYMDMA_SCRIPT)
    done = subprocess.run(
        [str(PYMDMA), str(script), str(tmp_path / "real.npy"), str(tmp_path / "syn.npy")],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    assert prdc(real, syn, k=5).to_dict() == pytest.approx(theirs, abs=1e-12)
