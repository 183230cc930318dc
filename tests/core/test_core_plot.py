"""dgan_cli.plot: round ticks and a chart that shows its series."""
import numpy as np
import pytest
from PIL import Image

from dgan_cli.plot import Series, line_chart, nice_ticks


@pytest.mark.parametrize("lo, hi, expected", [
    (0, 1, [0, 0.25, 0.5, 0.75, 1.0]),
    (3, 97, [0, 25, 50, 75, 100]),
    (0.31, 0.33, [0.31, 0.315, 0.32, 0.325, 0.33]),
    (5, 5, [4, 6, 8, 10]),  # an empty range is widened, not divided by zero
])
def test_nice_ticks_cover_the_range_in_round_steps(lo, hi, expected):
    assert nice_ticks(lo, hi) == pytest.approx(expected)


def test_line_chart_draws_each_series_in_its_colour(tmp_path):
    path = line_chart([Series("a", [0, 10], [0, 1]), Series("b", [0, 10], [1, 0], spread=[0.1, 0.1])],
                      tmp_path / "c.png", title="t", x_label="x", y_label="y")
    pixels = {tuple(p) for p in np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)}
    assert (31, 119, 180) in pixels and (214, 39, 40) in pixels


def test_line_chart_refuses_mismatched_series(tmp_path):
    with pytest.raises(ValueError):
        line_chart([Series("a", [0, 1], [0])], tmp_path / "c.png", title="t", x_label="x", y_label="y")


def test_line_chart_widens_to_fit_a_long_legend_name(tmp_path):
    short = Image.open(line_chart([Series("a", [0, 1], [0, 1])], tmp_path / "s.png",
                                  title="t", x_label="x", y_label="y"))
    name = "DatasetGAN (N annotated GAN samples), a legend name far longer than the margin"
    long = Image.open(line_chart([Series(name, [0, 1], [0, 1])], tmp_path / "l.png",
                                 title="t", x_label="x", y_label="y"))
    assert short.size == (720, 440) and long.size[0] > 720 and long.size[1] == 440
    pixels = np.asarray(long.convert("L"))
    assert (pixels[:, -6:] == 255).all()  # the name ends inside the image
