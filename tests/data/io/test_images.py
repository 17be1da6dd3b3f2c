"""Image readers on real data: the fundus folder, PneumoniaMNIST .npz, and broken inputs made from them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medsyn.data import ImageDataset, read
from medsyn.data.io import READERS
from medsyn.data.io._images import ImageFolderReader, NpzImageReader, load_image_file
from medsyn.errors import DataFormatError
from tests.conftest import shared

FUNDUS = "fundus_dr_maculopathy_rahim"
NPZ = "pneumoniamnist_balanced_subset/pneumoniamnist.npz"


def _fundus_files(n: int) -> list[Path]:
    return sorted((shared(FUNDUS) / "images").glob("*.jpg"))[:n]


@pytest.fixture
def small_folder(tmp_path: Path) -> Path:
    """Four real fundus JPEGs and a labels.csv naming three of them plus one missing file."""
    folder = tmp_path / "fundus_small"
    (folder / "images").mkdir(parents=True)
    files = _fundus_files(4)
    for f in files:
        shutil.copy(f, folder / "images" / f.name)
    rows = [f"images/{f.name},{i % 2}" for i, f in enumerate(files[:3])] + ["images/not_here.jpg,1"]
    (folder / "labels.csv").write_text("file,dr_grade\n" + "\n".join(rows) + "\n")
    return folder


def test_fundus_folder_reads_headers_only_and_joins_labels() -> None:
    ds = read(shared(FUNDUS))
    assert isinstance(ds, ImageDataset)
    assert len(ds) == 480
    assert ds.kind == "fundus"  # the folder name and the dr_grade column say so
    assert ds.provenance.reader == "images"
    assert ds.provenance.warnings == ()
    attrs = ds.attributes
    assert {"file", "width", "height", "channels", "mode", "patient_id", "dr_grade", "class_name"} <= set(attrs.columns)
    assert (attrs["width"] == 1024).all()
    assert (attrs["height"] == 685).all()
    assert (attrs["channels"] == 3).all()
    assert attrs["file"].iloc[0] == "images/c01_Patient001_L.jpg"
    assert attrs["class_name"].iloc[0] == "No DR"
    # geometry is not mistaken for a body height (quasi-identifier) by inference
    assert ds.schema["height"].roles[0].value == "feature"
    assert ds.schema["height"].unit == "px"
    image = ds.image(0)
    assert image.shape == (685, 1024, 3)
    assert image.dtype == np.uint8
    sub = ds.select([3, 1])
    assert sub.attributes["file"].tolist() == [attrs["file"].iloc[3], attrs["file"].iloc[1]]
    assert np.array_equal(sub.image(1), ds.image(1))


def test_labels_naming_missing_files_and_unlabelled_images_warn(small_folder: Path) -> None:
    ds = read(small_folder)
    assert len(ds) == 4
    warnings = " ".join(ds.provenance.warnings)
    assert "not_here.jpg" in warnings
    assert "not in the folder" in warnings
    unlabelled = _fundus_files(4)[3].name
    assert unlabelled in warnings
    assert "no label row" in warnings
    assert ds.attributes["dr_grade"].isna().sum() == 1  # the data stay usable
    assert ds.kind == "fundus"  # 'fundus' in the folder name


def test_labels_without_a_file_column_is_a_clear_error(small_folder: Path) -> None:
    (small_folder / "labels.csv").write_text("name,grade\na.jpg,1\n")
    with pytest.raises(DataFormatError, match=r"labels\.csv.*no column naming the image files"):
        read(small_folder)


def test_labels_matched_by_bare_file_name_and_kind_option(small_folder: Path) -> None:
    names = [f.name for f in _fundus_files(4)]
    (small_folder / "labels.csv").write_text(
        "filename,grade\n" + "\n".join(f"{n},{i}" for i, n in enumerate(names)) + "\n"
    )
    ds = read(small_folder, kind="photo")
    assert ds.kind == "photo"
    assert ds.attributes["grade"].tolist() == [0, 1, 2, 3]
    assert ds.provenance.warnings == ()


def test_truncated_jpeg_and_png_in_a_folder_are_skipped_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    good, cut = _fundus_files(2)
    shutil.copy(good, folder / "good.jpg")
    data = cut.read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) // 2])
    Image.fromarray(np.asarray(Image.open(good))[:64, :64]).save(folder / "small.png")
    png = (folder / "small.png").read_bytes()
    (folder / "cut.png").write_bytes(png[: len(png) - 20])
    ds = read(folder)
    assert ds.attributes["file"].tolist() == ["good.jpg", "small.png"]
    warnings = "\n".join(ds.provenance.warnings)
    assert "cut.jpg: skipped" in warnings
    assert "end-of-image marker" in warnings
    assert "cut.png: skipped" in warnings
    assert "IEND" in warnings
    assert "2 different sizes" in warnings  # mixed sizes are allowed, and said


def test_truncated_single_file_is_a_data_format_error(tmp_path: Path) -> None:
    data = _fundus_files(1)[0].read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[:5000])
    with pytest.raises(DataFormatError, match=r"cut\.jpg.*truncated"):
        read(path)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"empty\.png.*empty"):
        read(tmp_path / "empty.png")
    (tmp_path / "text.png").write_bytes(
        b"not an image at all, but long enough to pass the tail check....IEND\xaeB`\x82"
    )
    with pytest.raises(DataFormatError, match=r"text\.png.*not a readable image"):
        read(tmp_path / "text.png")


def test_lazy_loader_names_a_file_that_breaks_after_reading(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for f in _fundus_files(2):
        shutil.copy(f, folder / f.name)
    ds = read(folder)
    victim = folder / ds.attributes["file"].iloc[1]
    victim.write_bytes(victim.read_bytes()[:20000])  # truncated after the dataset was read
    assert ds.image(0).shape == (685, 1024, 3)
    with pytest.raises(DataFormatError, match=rf"{victim.name}.*cannot decode the image"):
        ds.image(1)
    # a PNG whose compressed data are damaged but whose end is intact
    png = tmp_path / "bad.png"
    Image.fromarray(np.zeros((50, 60, 3), np.uint8)).save(png)
    raw = png.read_bytes()
    i = raw.index(b"IDAT")
    png.write_bytes(raw[: i + 8] + bytes(20) + raw[i + 28 :])
    with pytest.raises(DataFormatError, match=r"bad\.png"):
        load_image_file(png)


def test_single_image_file(tmp_path: Path) -> None:
    path = tmp_path / "grey.png"
    Image.fromarray(np.arange(48 * 32, dtype=np.uint16).reshape(32, 48)).save(path)
    ds = read(path)
    assert ds.attributes[["file", "width", "height", "channels"]].iloc[0].tolist() == ["grey.png", 48, 32, 1]
    assert ds.image(0).shape == (32, 48)
    assert ds.kind == "image"


def test_readers_are_registered_and_claim_their_paths(tmp_path: Path) -> None:
    assert {"images", "npz_images"} <= set(READERS.names())
    assert ImageFolderReader.claims(shared(FUNDUS))
    assert not ImageFolderReader.claims(tmp_path)
    assert NpzImageReader.claims(shared(NPZ))


def test_npz_images_real_pneumoniamnist() -> None:
    ds = read(shared(NPZ))
    assert ds.provenance.reader == "npz_images"
    assert len(ds) == 3166
    assert ds.attributes["split"].value_counts().to_dict() == {"train": 2428, "test": 468, "val": 270}
    assert ds.attributes.groupby("split")["label"].mean().tolist() == [0.5, 0.5, 0.5]  # balanced per split
    assert ds.image(0).shape == (28, 28)
    assert ds.image(3165).dtype == np.uint8
    last_val = ds.select(np.flatnonzero(ds.attributes["split"] == "val")[-1:])
    assert last_val.image(0).shape == (28, 28)


def test_npz_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "none.npz", weights=np.zeros(3))
    with pytest.raises(DataFormatError, match=r"holds no image arrays \(keys: \['weights'\]\)"):
        read(tmp_path / "none.npz")
    np.savez(tmp_path / "mismatch.npz", train_images=np.zeros((4, 8, 8), np.uint8), train_labels=np.zeros(3))
    with pytest.raises(DataFormatError, match=r"train_labels.*3 labels for 4 images"):
        read(tmp_path / "mismatch.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataFormatError, match=r"junk\.npz.*not a readable \.npz"):
        read(tmp_path / "junk.npz")


def test_kind_fundus_from_label_values(tmp_path: Path) -> None:
    folder = tmp_path / "hospital" / "site_a"  # neither name says fundus
    folder.mkdir(parents=True)
    files = _fundus_files(2)
    for f in files:
        shutil.copy(f, folder / f.name)
    (folder / "labels.csv").write_text("file,grade\n" + "\n".join(f"{f.name},No DR" for f in files) + "\n")
    assert read(folder).kind == "fundus"
    (folder / "labels.csv").write_text("file,grade\n" + "\n".join(f"{f.name},normal" for f in files) + "\n")
    assert read(folder).kind == "image"
