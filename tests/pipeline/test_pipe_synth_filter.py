"""The `js` filter: image scores from uncertainty maps, and which samples it drops."""
import numpy as np
import pytest

from dgan_cli.registry import default_registry


def _filter(**options):
    return default_registry().get("filter", "js").build(**options)


def test_pipe_synth_filter_aggregations_by_hand():
    umap = np.arange(20, dtype=np.float32).reshape(4, 5)  # 0..19
    assert _filter().score(umap, None) == pytest.approx(190.0)
    assert _filter(aggregate="top10-mean").score(umap, None) == pytest.approx(18.5)  # mean of 18, 19
    with pytest.raises(ValueError, match="aggregate must be one of"):
        _filter(aggregate="max")


def test_pipe_synth_filter_drops_the_most_uncertain_fraction():
    f = _filter()
    scores = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0, 0.0])
    assert np.flatnonzero(~f.keep(scores, 0.2)).tolist() == [2, 6]
    assert f.keep(scores, 0.0).all() and f.keep(scores[:0], 0.1).shape == (0,)
    ties = np.array([1.0, 1.0, 1.0, 0.0])
    assert np.flatnonzero(~f.keep(ties, 0.25)).tolist() == [2]  # among equals the later goes first
    nan = np.array([0.5, np.nan, 0.1, 0.2])
    assert np.flatnonzero(~f.keep(nan, 0.25)).tolist() == [1]  # no score counts as least certain


def test_pipe_synth_filter_combines_heads_by_mean_rank():
    # head A ranks sample 0 worst, head B ranks sample 3 worst; sample 1 is second-worst in both
    scores = np.array([[9.0, 0.0], [8.0, 8.0], [1.0, 1.0], [0.0, 9.0], [2.0, 2.0]])
    assert np.flatnonzero(~_filter().keep(scores, 0.2)).tolist() == [1]
