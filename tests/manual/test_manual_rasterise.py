"""Shapes to masks: a pixel belongs to a shape when its centre lies inside it."""
from __future__ import annotations

import numpy as np

from dgan_plugins.manual.rasterise import circle_mask, polygon_mask, rectangle_mask


def grid(rows: list[str]) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in rows])


def test_rectangle_polygon_with_fractional_corners():
    # Centres x = j + 0.5 in [1.2, 5.2] -> columns 1..4; y in [1.2, 4.2] -> rows 1..3.
    expected = grid(["........",
                     ".####...",
                     ".####...",
                     ".####...",
                     "........",
                     "........"])
    mask = polygon_mask([(1.2, 1.2), (5.2, 1.2), (5.2, 4.2), (1.2, 4.2)], (6, 8))
    np.testing.assert_array_equal(mask, expected)


def test_triangle_hand_computed():
    # Inside when (j + 0.5) + (i + 0.5) < 7.6, i.e. i + j <= 6; the vertex order does not matter.
    expected = grid(["#######.",
                     "######..",
                     "#####...",
                     "####....",
                     "###.....",
                     "##......",
                     "#.......",
                     "........"])
    for points in ([(0, 0), (7.6, 0), (0, 7.6)], [(0, 7.6), (7.6, 0), (0, 0)]):
        np.testing.assert_array_equal(polygon_mask(points, (8, 8)), expected)


def test_concave_polygon_and_shared_edges():
    # A U shape: the notch (columns 2..3, rows 0..2) stays empty.
    u_shape = [(0, 0), (2, 0), (2, 3), (4, 3), (4, 0), (6, 0), (6, 5), (0, 5)]
    expected = grid(["##..##",
                     "##..##",
                     "##..##",
                     "######",
                     "######"])
    np.testing.assert_array_equal(polygon_mask(u_shape, (5, 6)), expected)
    # Two rectangles sharing the edge x = 3 through pixel centres: every pixel in exactly one.
    left = rectangle_mask((0, 0), (3.5, 4), (4, 6))
    right = rectangle_mask((3.5, 0), (6, 4), (4, 6))
    assert not (left & right).any() and (left | right).all()


def test_circle_and_shapes_outside_the_image():
    # Radius 1.6 around (2.5, 2.5): centres at distance 0, 1 and 1.41 are in, those at 2 and more are out.
    mask = circle_mask((2.5, 2.5), (2.5, 4.1), (5, 5))
    expected = grid([".....",
                     ".###.",
                     ".###.",
                     ".###.",
                     "....."])
    np.testing.assert_array_equal(mask, expected)
    assert not polygon_mask([(20, 20), (30, 20), (30, 30)], (5, 5)).any()
    assert polygon_mask([(-5, -5), (50, -5), (50, 50), (-5, 50)], (5, 5)).all()
