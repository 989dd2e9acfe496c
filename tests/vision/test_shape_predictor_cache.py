"""The parsed landmark model is cached: later loads skip the slow parse and predict the same."""

import time

import numpy as np

from app.vision import shape_predictor as sp
from app.vision.model_cache import models_dir


def test_cached_arrays_equal_a_fresh_parse(tmp_path, monkeypatch):
    monkeypatch.setenv("REKURATOR_CACHE_DIR", str(tmp_path / "cache"))
    fresh = sp.ShapePredictor(use_cache=False)
    first = sp.ShapePredictor()  # parses and writes the cache
    assert list(models_dir().glob("shape_predictor.*.npz.*"))
    parses = []
    monkeypatch.setattr(sp.ShapePredictor, "_parse", lambda self, reader: parses.append(1) or {})
    start = time.perf_counter()
    cached = sp.ShapePredictor()
    assert parses == []  # read from the cache, not parsed
    assert time.perf_counter() - start < 1.0
    for name in sp._ARRAYS:
        assert np.array_equal(getattr(cached, name), getattr(fresh, name))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)
    for model in (first, cached):
        assert np.array_equal(model.predict(image, (40, 50, 150, 160)), fresh.predict(image, (40, 50, 150, 160)))
