import uuid

from app.core.ids import _NAMESPACE, _uuid5, face_id, face_ids, image_id


def test_fast_uuid5_equals_the_standard_library():
    for name in ["", "face|m|abc|x|0", "image|dlib|" + "f" * 64 + "|ext:1", "ünïcode"]:
        assert _uuid5(name) == str(uuid.uuid5(_NAMESPACE, name))


def test_ids_depend_on_every_input():
    base = face_id("m", "d", "e", 0)
    assert uuid.UUID(base).version == 5
    assert len({base, face_id("m2", "d", "e", 0), face_id("m", "d2", "e", 0), face_id("m", "d", "e2", 0),
                face_id("m", "d", "e", 1), face_id("m", "d", None, 0)}) == 6
    assert image_id("m", "d", None) == image_id("m", "d", None) != image_id("m", "d", "x")


def test_face_ids_of_an_image_equal_face_id_one_by_one():
    for ext in [None, "", "ext:1", "ünïcode"]:
        places = [0, 3, 1, 12, 107]
        assert face_ids("dlib_resnet_v1", "ab" * 32, ext, places) == [
            face_id("dlib_resnet_v1", "ab" * 32, ext, p) for p in places]
    assert face_ids("m", "d", None, []) == []
