import pytest

from app.core.detail_codec import LANDMARK_TYPES, decode_detail, encode_detail

LANDMARKS = [{"Type": t, "X": 0.1 + i / 10, "Y": 0.25 + i / 7} for i, t in enumerate(LANDMARK_TYPES)]
POSE = {"Roll": 1.5, "Yaw": -23.877, "Pitch": 0.25}
QUALITY = {"Brightness": 49.367, "Sharpness": 87.471}


def test_standard_detail_packs_and_round_trips():
    stored = encode_detail(LANDMARKS, POSE, QUALITY)
    assert isinstance(stored, bytes) and len(stored) == 61
    back = decode_detail(stored)
    assert [lm["Type"] for lm in back["Landmarks"]] == list(LANDMARK_TYPES)
    for got, want in zip(back["Landmarks"], LANDMARKS):
        assert got["X"] == pytest.approx(want["X"], rel=1e-6) and got["Y"] == pytest.approx(want["Y"], rel=1e-6)
    assert back["Pose"] == pytest.approx(POSE, rel=1e-6) and back["Quality"] == pytest.approx(QUALITY, rel=1e-6)
    assert back["Pose"]["Yaw"] == -23.877  # no float32 noise digits in what clients see


def test_other_shapes_fall_back_to_json():
    odd = [{"Type": "leftPupil", "X": 0.5, "Y": 0.5}]
    stored = encode_detail(odd, {}, QUALITY)
    assert isinstance(stored, str)
    assert decode_detail(stored) == {"Landmarks": odd, "Quality": QUALITY}
    assert decode_detail("{}") == {}


def test_unknown_format_byte_is_refused():
    stored = bytearray(encode_detail(LANDMARKS, POSE, QUALITY))
    stored[0] = 9
    with pytest.raises(ValueError, match="format 9"):
        decode_detail(bytes(stored))
