"""The labelled folder format: round trip, COCO keypoints, atomic writes, one-line errors."""
import json

import numpy as np
import pytest
from PIL import Image

from dgan_cli.errors import DganError
from dgan_cli.labelled_folder import FolderWriter, LabelledFolder, format_ids, read_folder, write_folder

NAMES = {
    "segmentation": {"classes": ["background", "a", "b"], "palette": [[0, 0, 0], [255, 0, 0], [0, 255, 0]]},
    "keypoints": {"names": ["p", "q"], "skeleton": [[0, 1]]},
    "depth": {"unit": "m", "far": 10.0},
    "class": {"names": ["x", "y", "z"]},
}


def _data(n=3, h=6, w=5, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    labels = {
        "segmentation": rng.integers(-1, 3, (n, h, w)).astype(np.int16),  # -1: unlabelled
        # visible, hidden inside the image, and outside the image
        "keypoints": np.array([[[1.5, 2.25, 1], [w + 3.0, -1.0, 0]]] * n, np.float32),
        "depth": rng.uniform(0.5, 10.0, (n, h, w)).astype(np.float32),
        "class": np.array([0, 2, 1][:n], np.int64),
    }
    labels["keypoints"][1, 0] = [4.75, 0.5, 0]
    return format_ids(range(n)), images, labels


def test_round_trip(tmp_path):
    ids, images, labels = _data()
    write_folder(tmp_path / "set", ids, images, labels, NAMES)
    got_ids, got_images, got_labels, got_names = read_folder(tmp_path / "set")
    assert got_ids == ["000000", "000001", "000002"]
    assert (labels["segmentation"] == -1).any()
    assert np.array_equal(got_images, images)
    for kind in labels:
        assert got_labels[kind].dtype == labels[kind].dtype
        assert np.array_equal(got_labels[kind], labels[kind]), kind
    assert got_names["segmentation"]["classes"] == NAMES["segmentation"]["classes"]
    assert got_names["keypoints"]["skeleton"] == [[0, 1]]
    assert got_names["depth"]["png_scale"] == 1000.0


def test_files_use_common_formats(tmp_path):
    ids, images, labels = _data()
    root = write_folder(tmp_path / "set", ids, images, labels, NAMES)
    mask = Image.open(root / "masks" / "000001.png")
    assert mask.mode == "P" and mask.getpalette()[:9] == [0, 0, 0, 255, 0, 0, 0, 255, 0]
    assert mask.getpalette()[-3:] == [224, 224, 192]  # VOC's "void" colour for 255
    assert np.array_equal(np.asarray(mask), np.where(labels["segmentation"][1] < 0, 255, labels["segmentation"][1]))
    depth_png = np.asarray(Image.open(root / "depth" / "000001.png"))
    assert depth_png.dtype == np.uint16
    assert np.allclose(depth_png / 1000.0, labels["depth"][1], atol=5e-4)
    coco = json.loads((root / "keypoints.json").read_text())
    assert coco["categories"][0]["keypoints"] == ["p", "q"] and coco["categories"][0]["skeleton"] == [[1, 2]]
    files = {im["id"]: im["file_name"] for im in coco["images"]}
    by_file = {files[a["image_id"]]: a for a in coco["annotations"]}
    assert by_file["000000.png"]["keypoints"] == [1.5, 2.25, 2, 8.0, -1.0, 0]
    assert by_file["000001.png"]["keypoints"][:3] == [4.75, 0.5, 1]  # hidden but in the image
    assert by_file["000000.png"]["num_keypoints"] == 1
    assert json.loads((root / "classes.json").read_text()) == {"000000": 0, "000001": 2, "000002": 1}
    assert json.loads((root / "labels.json").read_text())["count"] == 3


def test_subset_of_kinds_and_iteration(tmp_path):
    ids, images, labels = _data()
    names = {"class": NAMES["class"]}
    write_folder(tmp_path / "set", ids, images, {"class": labels["class"]}, names)
    folder = LabelledFolder(tmp_path / "set")
    items = list(folder)
    assert len(folder) == 3 and set(items[2]) == {"id", "image", "class"} and items[2]["class"] == 1
    assert not (tmp_path / "set" / "masks").exists()


def test_failed_write_leaves_nothing_and_keeps_the_old_folder(tmp_path):
    ids, images, labels = _data()
    write_folder(tmp_path / "set", ids, images, labels, NAMES)
    with pytest.raises(RuntimeError):
        with FolderWriter(tmp_path / "set", NAMES, overwrite=True) as writer:
            writer.add(ids[:1], images[:1], {k: v[:1] for k, v in labels.items()})
            raise RuntimeError("crash")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]
    assert read_folder(tmp_path / "set")[0] == ids
    with pytest.raises(DganError, match="already exists"):
        write_folder(tmp_path / "set", ids, images, labels, NAMES)
    write_folder(tmp_path / "set", ids[:2], images[:2], {k: v[:2] for k, v in labels.items()}, NAMES,
                 overwrite=True)
    assert read_folder(tmp_path / "set")[0] == ids[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / "labels.json").unlink(), "labels.json: missing"),
    (lambda root: (root / "labels.json").write_text("{not json"), "labels.json: not valid JSON"),
    (lambda root: (root / "masks" / "000001.png").unlink(), "000001.png: missing"),
    (lambda root: (root / "masks" / "000002.png").write_bytes(b"junk"), "000002.png: not a readable image"),
    (lambda root: (root / "images" / "000002.png").unlink(), "lists 3 images, images/ holds 2"),
    (lambda root: (root / "classes.json").write_text("{}"), "classes.json: no class for image 000000"),
    (lambda root: (root / "depth" / "000000.npy").write_bytes(b"junk"), "000000.npy: not a readable"),
    (lambda root: (root / "keypoints.json").write_text('{"images": []}'), "keypoints.json: not a COCO"),
])
def test_damaged_folder_fails_with_one_line_naming_the_file(tmp_path, damage, message):
    ids, images, labels = _data()
    root = write_folder(tmp_path / "set", ids, images, labels, NAMES)
    damage(root)
    with pytest.raises(DganError, match=message) as err:
        read_folder(root)
    assert "\n" not in err.value.one_line()


def test_depth_png_is_read_when_the_npy_is_absent(tmp_path):
    ids, images, labels = _data()
    root = write_folder(tmp_path / "set", ids, images, labels, NAMES)
    for npy in (root / "depth").glob("*.npy"):
        npy.unlink()
    depth = read_folder(root)[2]["depth"]
    assert np.allclose(depth, labels["depth"], atol=5e-4)


def test_bad_input_is_refused(tmp_path):
    ids, images, labels = _data()
    with pytest.raises(DganError, match="duplicate ids"):
        write_folder(tmp_path / "a", ["1", "1", "2"], images, labels, NAMES)
    with pytest.raises(DganError, match="invalid id"):
        write_folder(tmp_path / "b", ["a/b", "c", "d"], images, labels, NAMES)
    bad = dict(labels, segmentation=labels["segmentation"] + 3)
    with pytest.raises(DganError, match="beyond the declared classes"):
        write_folder(tmp_path / "c", ids, images, bad, NAMES)
    with pytest.raises(DganError, match="unknown label kind"):
        write_folder(tmp_path / "d", ids, images, labels, dict(NAMES, edges={}))
    assert list(tmp_path.iterdir()) == []
