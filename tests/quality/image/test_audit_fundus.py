"""The image audit on real fundus photographs: it finds problems injected into real images, and only those.

A folder is built from 20 real photographs of the Rahim DR set plus copies with one defect
each (blur, over- and under-exposure, an exact duplicate, a re-encoded and a resized copy, an
image of another size); the same audit must flag each defect and leave the clean originals alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from medsyn.data import ImageDataset, Modality, read
from medsyn.metric import Status
from medsyn.quality import AuditResult, audit
from tests.conftest import shared
from tests.quality.image.test_metrics import IMAGE_CHECKS

FUNDUS = "fundus_dr_maculopathy_rahim"
INJECTED = {
    "zz_blurred.jpg",
    "zz_overexposed.jpg",
    "zz_underexposed.jpg",
    "zz_duplicate.jpg",
    "zz_reencoded.jpg",
    "zz_resized.jpg",
    "zz_other_size.png",
}


def _clean_files() -> list[Path]:
    files = sorted((shared(FUNDUS) / "images").glob("*.jpg"))
    # every 24th photograph: all DR grades, and none of the two real duplicate pairs (Patient299/300)
    return [f for f in files[::24] if "Patient299" not in f.name and "Patient300" not in f.name][:20]


def _save(array: np.ndarray, path: Path, **options: int) -> None:
    Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(path, **options)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fundus_injected")
    clean = _clean_files()
    for f in clean:
        shutil.copy(f, root / f.name)
    pics = [np.asarray(Image.open(f)) for f in clean[:7]]
    blurred = np.stack([ndimage.gaussian_filter(pics[0][..., c].astype(np.float32), 3) for c in range(3)], axis=-1)
    _save(blurred, root / "zz_blurred.jpg", quality=95)
    _save(pics[1].astype(np.float32) * 2.5 + 40, root / "zz_overexposed.jpg", quality=95)
    _save(pics[2].astype(np.float32) * 0.2, root / "zz_underexposed.jpg", quality=95)
    shutil.copy(clean[3], root / "zz_duplicate.jpg")
    _save(pics[4], root / "zz_reencoded.jpg", quality=70)
    Image.fromarray(pics[5]).resize((973, 651), Image.Resampling.LANCZOS).save(root / "zz_resized.jpg", quality=90)
    Image.fromarray(pics[6]).resize((800, 600), Image.Resampling.BILINEAR).save(root / "zz_other_size.png")
    return root


@pytest.fixture(scope="module")
def dataset(folder: Path) -> ImageDataset:
    return read(folder, kind="fundus")


@pytest.fixture(scope="module")
def result(dataset: ImageDataset) -> AuditResult:
    return audit(dataset)


def _flagged(result: AuditResult, metric: str) -> set[str]:
    return {i.key for i in result[metric].flagged()}


def test_audit_runs_every_image_metric_without_errors(result: AuditResult, dataset: ImageDataset) -> None:
    assert len(dataset) == len(_clean_files()) + len(INJECTED)
    assert result.errors == ()
    names = {r.metric for r in result.results}
    assert names >= IMAGE_CHECKS
    json.dumps(result.to_dict())  # typed results serialise


def test_blurred_copy_is_unsharp_and_not_gradable(result: AuditResult) -> None:
    assert _flagged(result, "sharpness") == {"zz_blurred.jpg"}
    grade = {i.key: i for i in result["fundus_gradability"].items}
    assert grade["zz_blurred.jpg"].status is Status.FAIL
    assert "not gradable" in grade["zz_blurred.jpg"].note
    assert "unsharp" in grade["zz_blurred.jpg"].note
    assert "zz_blurred.jpg" in result["sharpness"].reason


def test_exposure_defects_are_found(result: AuditResult) -> None:
    flagged = _flagged(result, "exposure")
    assert {"zz_overexposed.jpg", "zz_underexposed.jpg"} <= flagged
    notes = {i.key: i.note for i in result["exposure"].items}
    assert notes["zz_overexposed.jpg"].startswith("over-exposed")
    assert notes["zz_underexposed.jpg"].startswith("under-exposed")
    assert "zz_underexposed.jpg" in _flagged(result, "brightness")
    assert "zz_underexposed.jpg" in _flagged(result, "contrast")
    grade = {i.key: i for i in result["fundus_gradability"].items}
    assert grade["zz_overexposed.jpg"].status is Status.FAIL
    assert "over-exposed" in grade["zz_overexposed.jpg"].note


def test_exact_and_near_duplicates_are_found(result: AuditResult) -> None:
    clean = _clean_files()
    dup = result["image_duplicates"]
    assert _flagged(result, "image_duplicates") == {"zz_duplicate.jpg"}
    assert dup.items[0].details["duplicate_of"] == clean[3].name
    near = result["image_near_duplicates"]
    flagged = _flagged(result, "image_near_duplicates")
    assert {"zz_reencoded.jpg", "zz_resized.jpg"} <= flagged
    assert flagged <= INJECTED  # no clean original is called a copy
    of = {i.key: i.details["near_duplicate_of"] for i in near.items}
    assert of["zz_reencoded.jpg"] == clean[4].name
    assert of["zz_resized.jpg"] == clean[5].name
    assert "zz_duplicate.jpg" not in flagged  # exact copies are the other metric's finding


def test_images_of_another_size_are_flagged(result: AuditResult) -> None:
    res = result["image_resolution"]
    status = {i.key: i.status for i in res.flagged()}
    assert status == {"zz_resized.jpg": Status.WARN, "zz_other_size.png": Status.FAIL}
    assert res.details["common_width"] == 1024
    assert res.details["common_height"] == 685


def test_clean_real_images_raise_no_alarm(result: AuditResult) -> None:
    clean = {f.name for f in _clean_files()}
    for r in result.results:
        wrongly = {i.key for i in r.flagged()} & clean
        assert not wrongly, f"{r.metric} flagged clean real images {wrongly}: {r.reason}"


def test_clean_subset_passes_every_check(dataset: ImageDataset) -> None:
    clean = np.flatnonzero(~dataset.attributes["file"].isin(INJECTED).to_numpy())
    res = audit(dataset.select(clean))
    image_checks = [r for r in res.results if r.modality is Modality.IMAGE]  # not the label table's checks
    assert {r.metric: r.status for r in image_checks if r.status is not Status.PASS} == {}
    assert res["fundus_gradability"].value == 0.0


def test_each_image_is_decoded_once_per_audit(folder: Path) -> None:
    ds = read(folder)
    calls: list[int] = []

    def counting(i: int) -> np.ndarray:
        calls.append(i)
        return ds.image(i)

    counted = ImageDataset(counting, ds.attributes, ds.schema, ds.provenance, kind="fundus")
    audit(counted)
    assert sorted(calls) == list(range(len(ds)))


@pytest.mark.slow
def test_full_fundus_set_finds_its_two_real_duplicate_pairs() -> None:
    """All 480 real photographs: clean except two exact duplicate pairs that are really in the data."""
    res = audit(read(shared(FUNDUS)))
    dup = {i.key: i.details["duplicate_of"] for i in res["image_duplicates"].flagged()}
    assert dup == {
        "images/c06_Patient300_L.jpg": "images/c05_Patient299_L.jpg",
        "images/c06_Patient300_R.jpg": "images/c05_Patient299_R.jpg",
    }
    for metric in ("sharpness", "image_near_duplicates", "image_resolution", "fundus_fov", "fundus_gradability"):
        assert res[metric].status is Status.PASS, res[metric].reason
