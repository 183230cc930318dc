"""The small world of the manual-import tests: cache image size, sample ids, LABELS."""

H, W = 8, 12  # not square, so that a swapped height/width shows
IDS = ["000000", "000001", "000002", "000003"]
LABELS = {
    "segmentation": {"classes": ["background", "face", "eye"],
                     "palette": [[0, 0, 0], [200, 150, 100], [0, 0, 255]]},
    "keypoints": {"names": ["left_eye", "right_eye", "nose"], "skeleton": [[0, 1]]},
    "depth": {"unit": "m", "png_scale": 100},
}
