"""`dgan annotate-import`: every format into the cache, and every bad input refused whole."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dgan_cli.cache import CacheReader

sys.path.insert(0, str(Path(__file__).parent))
from manual_data import H, LABELS, W  # noqa: E402


def labelme(sample_id: str, shapes: list, height: int = H, width: int = W) -> dict:
    return {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": f"{sample_id}.png",
            "imageData": None, "imageHeight": height, "imageWidth": width}


def shape(label: str, points: list, kind: str = "polygon", **flags) -> dict:
    return {"label": label, "points": points, "group_id": None, "description": "", "shape_type": kind,
            "flags": flags}


def write_labelme(folder, docs: dict) -> None:
    folder.mkdir(exist_ok=True)
    for name, doc in docs.items():
        (folder / f"{name}.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))


def import_(run_cli, registry, folder, cache, labels, fmt="labelme", *extra):
    return run_cli("annotate-import", folder, "--cache", cache, "--format", fmt, "--labels", labels, *extra,
                   registry=registry)


def stored(cache, kind):
    with CacheReader(cache) as r:
        return r.labelled(kind).tolist(), r.labels(kind)


FACE = shape("face", [[1, 1], [11, 7]], "rectangle")
EYE = shape("eye", [[2, 2], [5, 2], [5, 4], [2, 4]])


def test_labelme_polygons_points_and_class_order(run_cli, registry, sampled_cache, labels_file, tmp_path):
    folder = tmp_path / "ann"
    # The eye is drawn first; it must still end up on top of the face (later class in LABELS wins).
    write_labelme(folder, {"000001": labelme("000001", [
        EYE, FACE, shape("left_eye", [[3.5, 3.0]], "point"),
        shape("nose", [[6.0, 5.5]], "point", occluded=True)])})
    (folder / "samples.json").write_text(json.dumps({"samples": {}}))  # `dgan sample`'s index is not an annotation
    result = import_(run_cli, registry, folder, sampled_cache, labels_file, "labelme", "--json", tmp_path / "s.json")
    assert result.code == 0, result.err
    expected = np.zeros((H, W), np.int16)
    expected[1:7, 1:11] = 1
    expected[2:4, 2:5] = 2
    labelled, masks = stored(sampled_cache, "segmentation")
    assert labelled == [1]
    np.testing.assert_array_equal(masks[1], expected)
    labelled, keypoints = stored(sampled_cache, "keypoints")
    assert labelled == [1]
    np.testing.assert_array_equal(keypoints[1], [[3.5, 3.0, 1], [0, 0, 0], [6.0, 5.5, 0]])
    summary = json.loads((tmp_path / "s.json").read_text())["imported"]
    assert summary["segmentation"]["pixels"] == {"background": 36, "face": 54, "eye": 6, "(ignored)": 0}
    assert summary["keypoints"]["visible"] == {"left_eye": 1, "right_eye": 0, "nose": 0}
    assert "pixels: eye" in result.out

    # --unlabelled ignore leaves uncovered pixels out of training (-1).
    assert import_(run_cli, registry, folder, sampled_cache, labels_file, "labelme", "--unlabelled", "ignore").code == 0
    np.testing.assert_array_equal(stored(sampled_cache, "segmentation")[1][1], np.where(expected == 0, -1, expected))


def test_png_masks_indexed_and_rgb(run_cli, registry, sampled_cache, labels_file, tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    indexed = np.zeros((H, W), np.uint8)
    indexed[2:5, 3:9] = 1
    indexed[0, :] = 255  # ignore
    image = Image.fromarray(indexed, mode="P")
    image.putpalette([0, 0, 0, 200, 150, 100, 0, 0, 255] + [255] * (3 * 253))  # 256 entries, or PNG drops bits
    image.save(folder / "000000.png")
    colours = np.zeros((H, W, 3), np.uint8)
    colours[4:, :] = (0, 0, 255)
    Image.fromarray(colours).save(folder / "000003.png")
    assert import_(run_cli, registry, folder, sampled_cache, labels_file, "png-masks").code == 0
    labelled, masks = stored(sampled_cache, "segmentation")
    assert labelled == [0, 3]
    np.testing.assert_array_equal(masks[0], np.where(indexed == 255, -1, indexed.astype(np.int16)))
    np.testing.assert_array_equal(masks[3], np.where(np.arange(H)[:, None] >= 4, 2, 0) * np.ones((1, W)))
    assert (masks[1] == -1).all()  # unlabelled samples hold the head's fill


def test_coco_keypoints_by_name_with_visibility(run_cli, registry, sampled_cache, labels_file, tmp_path):
    coco = {"images": [{"id": 7, "file_name": "000002.png", "width": W, "height": H}],
            "categories": [{"id": 1, "name": "face", "keypoints": ["nose", "left_eye", "right_eye"],
                            "skeleton": [[2, 3]]}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "num_keypoints": 2,
                             "keypoints": [6.5, 5.5, 2, 3.0, 2.5, 1, 20.0, 1.0, 0]}]}
    (tmp_path / "keypoints.json").write_text(json.dumps(coco))
    result = import_(run_cli, registry, tmp_path / "keypoints.json", sampled_cache, labels_file, "coco-keypoints")
    assert result.code == 0, result.err
    labelled, keypoints = stored(sampled_cache, "keypoints")
    assert labelled == [2]
    # LABELS order is left_eye, right_eye, nose; v=2 -> visible, v=1 (hidden) and v=0 (outside) -> not visible.
    np.testing.assert_array_equal(keypoints[2], [[3.0, 2.5, 0], [20.0, 1.0, 0], [6.5, 5.5, 1]])


def test_labelled_folder_imports_with_every_format(run_cli, registry, sampled_cache, tmp_path):
    """A folder written by dgan's labelled-folder writer, imported kind by kind, gives back its labels."""
    from dgan_cli.labelled_folder import read_folder, write_folder

    rng = np.random.default_rng(1)
    ids = ["000001", "000003"]
    labels = {"segmentation": rng.integers(0, 3, (2, H, W)).astype(np.uint8),
              "keypoints": np.array([[[1.5, 2.5, 1], [3.5, 1.5, 0], [9.5, 6.5, 1]]] * 2, np.float32),
              "depth": rng.uniform(1, 3, (2, H, W)).astype(np.float32)}
    folder = write_folder(tmp_path / "folder", ids, rng.integers(0, 256, (2, H, W, 3), dtype=np.uint8), labels,
                          LABELS)
    _, _, expected, _ = read_folder(folder)
    for fmt in ("png-masks", "coco-keypoints", "depth"):
        result = import_(run_cli, registry, folder, sampled_cache, folder / "labels.json", fmt)
        assert result.code == 0, result.err
    for kind in ("segmentation", "keypoints", "depth"):
        labelled, values = stored(sampled_cache, kind)
        assert labelled == [1, 3]
        np.testing.assert_array_equal(values[[1, 3]], expected[kind])


def test_depth_npy_and_16bit_png(run_cli, registry, sampled_cache, labels_file, tmp_path):
    folder = tmp_path / "depth"
    folder.mkdir()
    exact = np.linspace(1, 2, H * W, dtype=np.float32).reshape(H, W)
    exact[0, 0] = np.nan
    np.save(folder / "000000.npy", exact)
    Image.fromarray(np.full((H, W), 7, np.uint16)).save(folder / "000000.png")  # the .npy wins
    coded = np.full((H, W), 150, np.uint16)
    coded[1, 2] = 0  # unlabelled
    Image.fromarray(coded).save(folder / "000001.png")
    assert import_(run_cli, registry, folder, sampled_cache, labels_file, "depth").code == 0
    labelled, depth = stored(sampled_cache, "depth")
    assert labelled == [0, 1]
    np.testing.assert_array_equal(depth[0], exact)
    expected = np.full((H, W), 1.5, np.float32)
    expected[1, 2] = np.nan
    np.testing.assert_allclose(depth[1], expected)


def test_depth_at_or_beyond_the_far_plane_is_unlabelled(run_cli, registry, sampled_cache, labels_file, tmp_path):
    labels = json.loads(labels_file.read_text())
    labels["depth"] = {**labels.get("depth", {}), "far": 1.75}
    labels_file.write_text(json.dumps(labels))
    folder = tmp_path / "depth"
    folder.mkdir()
    depth = np.linspace(1, 2, H * W, dtype=np.float32).reshape(H, W)
    np.save(folder / "000000.npy", depth)
    assert import_(run_cli, registry, folder, sampled_cache, labels_file, "depth").code == 0
    _, stored_depth = stored(sampled_cache, "depth")
    np.testing.assert_array_equal(stored_depth[0], np.where(depth >= 1.75, np.nan, depth))
    assert 0 < np.isnan(stored_depth[0]).sum() < H * W

    labels["depth"]["far"] = -3
    labels_file.write_text(json.dumps(labels))
    result = import_(run_cli, registry, folder, sampled_cache, labels_file, "depth")
    assert result.code == 2 and "depth 'far' must be a positive number" in result.err


def test_reimport_replaces_labels_of_the_same_samples(run_cli, registry, sampled_cache, labels_file, tmp_path):
    write_labelme(tmp_path / "a", {"000001": labelme("000001", [FACE]), "000002": labelme("000002", [EYE])})
    assert import_(run_cli, registry, tmp_path / "a", sampled_cache, labels_file).code == 0
    write_labelme(tmp_path / "b", {"000001": labelme("000001", [EYE])})
    assert import_(run_cli, registry, tmp_path / "b", sampled_cache, labels_file).code == 0
    labelled, masks = stored(sampled_cache, "segmentation")
    assert labelled == [1, 2]
    np.testing.assert_array_equal(masks[1], masks[2])  # sample 1 now holds only the eye, like sample 2


BAD_FILES = {
    "missing label name": (labelme("000002", [shape("ear", [[1, 1], [3, 1], [3, 3]])]), "label 'ear' is not"),
    "missing keypoint name": (labelme("000002", [shape("chin", [[1, 1]], "point")]), "point 'chin' is not"),
    "size mismatch": (labelme("000002", [FACE], height=16, width=16), "size mismatch"),
    "unknown sample": (labelme("000099", [FACE]), "unknown sample '000099'"),
    "corrupt JSON": ('{"shapes": [', "corrupt JSON"),
    "unsupported shape": (labelme("000002", [shape("face", [[1, 1], [3, 3]], "cuboid")]), "'cuboid' is not supported"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_labelme_file_fails_whole_and_keeps_earlier_labels(case, run_cli, registry, sampled_cache,
                                                               labels_file, tmp_path):
    write_labelme(tmp_path / "first", {"000001": labelme("000001", [FACE, EYE])})
    assert import_(run_cli, registry, tmp_path / "first", sampled_cache, labels_file).code == 0
    before = stored(sampled_cache, "segmentation")

    doc, message = BAD_FILES[case]
    # A good re-annotation of sample 1 sorts first; it must not be written either.
    write_labelme(tmp_path / "second", {"000001": labelme("000001", [EYE]), "000002": doc})
    result = import_(run_cli, registry, tmp_path / "second", sampled_cache, labels_file)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and message in result.err
    assert "000002.json" in result.err  # names the file
    after = stored(sampled_cache, "segmentation")
    assert after[0] == before[0]
    np.testing.assert_array_equal(after[1], before[1])


def test_other_bad_inputs_are_one_line(run_cli, registry, sampled_cache, labels_file, tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    Image.fromarray(np.full((H, W), 5, np.uint8)).save(folder / "000000.png")
    cases = [(folder, "png-masks", "class index 5 is not in"),
             (folder, "pointcloud", "unknown annotation format"),
             (tmp_path / "nowhere", "labelme", "no such annotation folder")]
    colours = tmp_path / "colours"
    colours.mkdir()
    Image.fromarray(np.full((H, W, 3), 9, np.uint8)).save(colours / "000000.png")
    cases.append((colours, "png-masks", "colour (9, 9, 9) is not a class colour"))
    coco = {"images": [{"id": 1, "file_name": "000000.png"}], "categories": [{"id": 1, "keypoints": ["nose"]}],
            "annotations": [{"image_id": 1, "category_id": 1, "keypoints": [1, 1, 3]}]}
    (tmp_path / "kp.json").write_text(json.dumps(coco))
    cases.append((tmp_path / "kp.json", "coco-keypoints", "visibility 3"))
    for path, fmt, message in cases:
        result = import_(run_cli, registry, path, sampled_cache, labels_file, fmt)
        assert result.code == 2 and message in result.err, (fmt, result.err)
        assert len(result.err.strip().splitlines()) == 1
    with CacheReader(sampled_cache) as r:
        assert r.label_kinds == []  # nothing was declared by the failed imports

    no_depth = tmp_path / "labels-no-depth.json"
    no_depth.write_text(json.dumps({k: v for k, v in LABELS.items() if k != "depth"}))
    (tmp_path / "d").mkdir()
    Image.fromarray(np.ones((H, W), np.uint16)).save(tmp_path / "d" / "000000.png")
    result = import_(run_cli, registry, tmp_path / "d", sampled_cache, no_depth, "depth")
    assert result.code == 2 and "no 'depth' entry" in result.err
    result = import_(run_cli, registry, folder, tmp_path / "missing.h5", labels_file, "png-masks")
    assert result.code == 2 and "no such cache" in result.err
