"""The public label-import API (dgan_cli.annotations): formats by name, all-or-nothing writes."""
from __future__ import annotations

import numpy as np
import pytest

from dgan_cli import hookimpl
from dgan_cli.annotations import Annotation, ImportRequest, import_labels, read_annotations
from dgan_cli.cache import CacheReader, CacheSpec, CacheWriter, LabelSchema
from dgan_cli.errors import DganError
from dgan_cli.registry import Registry
from dgan_cli.specs import FormatSpec, HeadSpec


class MapHead:
    def __init__(self, name, shape_of, dtype):
        self.name, self.shape_of, self.dtype = name, shape_of, dtype

    def label_schema(self, image_hw):
        return LabelSchema(self.shape_of(image_hw), self.dtype, 0)


def registry() -> Registry:
    reg = Registry()

    class Plugin:
        @hookimpl
        def dgan_heads(self):
            return [HeadSpec(name="normals", summary="n", build=lambda names=None: MapHead(
                        "normals", lambda hw: (*hw, 3), "float32")),
                    HeadSpec(name="mask", summary="m", build=lambda names=None: MapHead(
                        "mask", tuple, "uint8"))]

        @hookimpl
        def dgan_formats(self):
            def read(request):
                return [Annotation(f"{i:06d}", "mask", np.ones(request.image_hw), "f") for i in range(2)]
            return [FormatSpec(name="ones", summary="all ones", read=read, options=("x",))]

    reg.register(Plugin(), "p")
    return reg


@pytest.fixture
def cache(tmp_path):
    path = tmp_path / "c.h5"
    writer = CacheWriter.open(path, CacheSpec(image_shape=(4, 4, 3)))
    writer.append(images=np.zeros((3, 4, 4, 3), np.uint8))
    writer.finish()
    return path


def test_import_stores_every_kind_in_head_storage(cache):
    reg = registry()
    anns = read_annotations("ones", ImportRequest(cache.parent, (4, 4), options={"x": "1"}), reg)
    anns.append(Annotation("000002", "normals", np.full((4, 4, 3), 0.5), "n.npy"))
    plan = import_labels(cache, anns, reg)
    assert plan["mask"].indices == [0, 1] and plan["normals"].indices == [2]
    with CacheReader(cache) as reader:
        assert reader.labelled("mask").tolist() == [0, 1] and reader.labels("mask", [0]).dtype == np.uint8
        assert np.allclose(reader.labels("normals", [2]), 0.5)


def test_a_refused_value_or_sample_writes_nothing(cache):
    reg = registry()
    good = Annotation("000000", "mask", np.ones((4, 4)), "a")
    for bad, message in ((Annotation("000001", "normals", np.ones((4, 4)), "b"), "shape"),
                         (Annotation("999999", "normals", np.ones((4, 4, 3)), "b"), "unknown sample"),
                         (Annotation("000000", "mask", np.ones((4, 4)), "b"), "already annotated"),
                         (Annotation("000001", "nope", np.ones((4, 4)), "b"), "unknown head")):
        with pytest.raises(DganError, match=message):
            import_labels(cache, [good, bad], reg)
        with CacheReader(cache) as reader:
            assert reader.label_kinds == []


def test_a_failed_write_restores_the_cache(cache, monkeypatch):
    reg = registry()
    import_labels(cache, [Annotation("000000", "mask", np.full((4, 4), 7), "a")], reg)
    real = CacheWriter._set_labels

    def fail_on_normals(self, kind, indices, values):
        if kind == "normals":
            raise OSError("disk gone")
        real(self, kind, indices, values)

    monkeypatch.setattr(CacheWriter, "_set_labels", fail_on_normals)
    anns = [Annotation("000000", "mask", np.full((4, 4), 1), "a"), Annotation("000001", "mask", np.ones((4, 4)), "a"),
            Annotation("000001", "normals", np.ones((4, 4, 3)), "n")]
    with pytest.raises(OSError):
        import_labels(cache, anns, reg)
    with CacheReader(cache) as reader:
        assert reader.label_kinds == ["mask"]  # the new kind is gone again
        assert reader.labelled("mask").tolist() == [0]
        assert (reader.labels("mask", [0]) == 7).all()  # the old value is back


def test_format_lookup_and_options_are_checked(cache):
    reg = registry()
    with pytest.raises(DganError, match="unknown annotation format 'one'") as caught:
        read_annotations("one", ImportRequest(cache.parent, (4, 4)), reg)
    assert caught.value.hint == "did you mean 'ones'?"
    with pytest.raises(DganError, match="has no option 'y'"):
        read_annotations("ones", ImportRequest(cache.parent, (4, 4), options={"y": "1"}), reg)
