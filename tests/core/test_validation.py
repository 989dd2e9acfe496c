"""Request validation, with cases derived from the Rekognition model that botocore ships.

Valid requests and violating values are built from each shape's own constraints, so the tests
follow the model; the few hand-picked samples (PATTERN_SAMPLES) are themselves checked against it.
"""

from __future__ import annotations

import copy
import math
import re
import unicodedata

import pytest

from app.core import service_model
from app.core.errors import ImageTooLargeException, InvalidParameterException
from app.core.validation import UnknownOperationError, validate_request

# Known-good values for every patterned string shape reachable from the 16 operations.
PATTERN_SAMPLES = {
    "CollectionId": "my-collection_1.0",
    "UserId": "user:alice-01",
    "FaceId": "0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0",
    "ExternalImageId": "photo:2024-01.jpg",
    "ClientRequestToken": "token-123_abc",
    "S3Bucket": "my.bucket-01",
    "TagKey": "team",
    "TagValue": "vision",
}

# Only ImageBlob has a dedicated "too large" error (AWS: ImageTooLargeException).
TOO_LARGE = {"ImageBlob": ImageTooLargeException}

FACE_ID = PATTERN_SAMPLES["FaceId"]
IMAGE_MAX = 5_242_880


def _shape(name: str) -> dict:
    return service_model.shape(name)


def _member_shape_name(operation: str, member: str) -> str:
    return service_model.input_shape(operation)["members"][member]["shape"]


def _ascii_subset(pattern: str) -> str:
    """The pattern with Java Unicode categories narrowed to their ASCII members.

    Python's re has no \\p{..}; a string that matches the narrowed pattern matches the original.
    """
    return pattern.replace(r"\p{L}", "a-zA-Z").replace(r"\p{N}", "0-9").replace(r"\p{Z}", " ")


def _model_accepts_string(shape: dict, value: str) -> bool:
    """Independent oracle for samples: lengths, enum, pattern straight from the model."""
    if len(value) < shape.get("min", 0) or len(value) > shape.get("max", math.inf):
        return False
    if "enum" in shape and value not in shape["enum"]:
        return False
    return "pattern" not in shape or re.fullmatch(_ascii_subset(shape["pattern"]), value) is not None


# --- value generation from the model ---------------------------------------------------------


def valid_value(name: str, shape: dict, full: bool = False):
    kind = shape["type"]
    if kind == "structure":
        members = shape["members"] if full else {m: shape["members"][m] for m in shape.get("required", ())}
        return {m: valid_value(spec["shape"], _shape(spec["shape"]), full) for m, spec in members.items()}
    if kind == "string":
        if "enum" in shape:
            return shape["enum"][0]
        if "pattern" in shape:
            return PATTERN_SAMPLES[name]
        return "a" * max(shape.get("min", 0), 1)
    if kind in ("integer", "long", "float", "double"):
        return shape.get("min", shape.get("max", 1))
    if kind == "boolean":
        return True
    if kind == "blob":
        return b"\xff" * max(shape.get("min", 0), 1)
    if kind == "timestamp":
        return 0
    if kind == "list":
        item_name = shape["member"]["shape"]
        return [valid_value(item_name, _shape(item_name), full)] * max(shape.get("min", 0), 1)
    if kind == "map":
        key = valid_value(shape["key"]["shape"], _shape(shape["key"]["shape"]))
        return {key: valid_value(shape["value"]["shape"], _shape(shape["value"]["shape"]), full)}
    raise AssertionError(f"no generator for {kind}")


def distinct_keys(name: str, count: int) -> list[str]:
    sample = valid_value(name, _shape(name))
    return [f"{sample}{i}" for i in range(count)]


def fill(name: str, shape: dict, length: int) -> str:
    """A string of `length` characters that satisfies everything but (possibly) the length."""
    sample = valid_value(name, shape)
    return (sample[:1] or "a") * length


def violations(name: str, shape: dict):
    """(label, bad value, expected error class, rule fragment, extra path) for one shape.

    `extra path` is appended to the member's path: list items and map values live below it.
    """
    kind = shape["type"]
    low, high = shape.get("min"), shape.get("max")
    if kind == "string":
        yield "type-int", 123, InvalidParameterException, "type string", ""
        if low:
            yield "too-short", fill(name, shape, low - 1), InvalidParameterException, f"greater than or equal to {low}", ""
        if high is not None:
            yield "too-long", fill(name, shape, high + 1), InvalidParameterException, f"less than or equal to {high}", ""
        if "enum" in shape:
            yield "not-in-enum", "NOT_AN_ENUM_VALUE", InvalidParameterException, "enum value set", ""
            yield "enum-wrong-case", shape["enum"][0].lower(), InvalidParameterException, "enum value set", ""
        if "pattern" in shape:
            sample = valid_value(name, shape)
            for label, bad in (("pattern-bang", sample + "!"), ("pattern-newline", sample + "\n")):
                yield label, bad, InvalidParameterException, "regular expression pattern", ""
    elif kind in ("integer", "long"):
        yield "type-str", "5", InvalidParameterException, "type integer", ""
        yield "type-bool", True, InvalidParameterException, "type integer", ""
        yield "type-float", 1.5, InvalidParameterException, "type integer", ""
        if low is not None:
            yield "below-min", low - 1, InvalidParameterException, f"greater than or equal to {low}", ""
        if high is not None:
            yield "above-max", high + 1, InvalidParameterException, f"less than or equal to {high}", ""
    elif kind in ("float", "double"):
        yield "type-str", "5", InvalidParameterException, "type number", ""
        yield "type-bool", False, InvalidParameterException, "type number", ""
        yield "nan", math.nan, InvalidParameterException, "finite", ""
        yield "inf", math.inf, InvalidParameterException, "finite", ""
        if low is not None:
            yield "below-min", low - 0.1, InvalidParameterException, f"greater than or equal to {low}", ""
        if high is not None:
            yield "above-max", high + 0.1, InvalidParameterException, f"less than or equal to {high}", ""
    elif kind == "boolean":
        yield "type-str", "true", InvalidParameterException, "type boolean", ""
        yield "type-int", 1, InvalidParameterException, "type boolean", ""
    elif kind == "blob":
        yield "type-str", "abc", InvalidParameterException, "type blob", ""
        if low:
            yield "too-small", b"\xff" * (low - 1), InvalidParameterException, f"greater than or equal to {low}", ""
        if high is not None:
            yield "too-large", b"\xff" * (high + 1), TOO_LARGE.get(name, InvalidParameterException), f"less than or equal to {high}", ""
    elif kind == "list":
        item_name = shape["member"]["shape"]
        item_shape = _shape(item_name)
        good = valid_value(item_name, item_shape)
        yield "type-str", "x", InvalidParameterException, "type list", ""
        yield "type-dict", {"a": 1}, InvalidParameterException, "type list", ""
        if low:
            yield "too-few", [good] * (low - 1), InvalidParameterException, f"greater than or equal to {low}", ""
        if high is not None:
            yield "too-many", [good] * (high + 1), InvalidParameterException, f"less than or equal to {high}", ""
        count = max(3, low or 0) if high is None or high >= 3 else high
        index = min(2, count - 1)
        yield "null-item", _with_item([good] * count, index, None), InvalidParameterException, "not be null", f"[{index}]"
        for label, bad, error, rule, extra in violations(item_name, item_shape):
            yield f"item-{label}", _with_item([good] * count, index, bad), error, rule, f"[{index}]{extra}"
    elif kind == "map":
        key_name, value_name = shape["key"]["shape"], shape["value"]["shape"]
        good_key = valid_value(key_name, _shape(key_name))
        good_value = valid_value(value_name, _shape(value_name))
        yield "type-list", [], InvalidParameterException, "type map", ""
        yield "key-type-int", {1: good_value}, InvalidParameterException, "Map keys", ""
        if high is not None:
            too_many = dict.fromkeys(distinct_keys(key_name, high + 1), good_value)
            yield "too-many", too_many, InvalidParameterException, f"less than or equal to {high}", ""
        for label, bad, error, rule, extra in violations(key_name, _shape(key_name)):
            if isinstance(bad, str):
                yield f"key-{label}", {bad: good_value}, error, "Map keys", ""
        for label, bad, error, rule, extra in violations(value_name, _shape(value_name)):
            yield f"value-{label}", {good_key: bad}, error, rule, f"[{good_key!r}]{extra}"
    elif kind == "structure":
        yield "type-list", [], InvalidParameterException, "type structure", ""
        for member, spec in shape["members"].items():
            for label, bad, error, rule, extra in violations(spec["shape"], _shape(spec["shape"])):
                yield f"{member}-{label}", {**valid_value(name, shape, True), member: bad}, error, rule, f".{member}{extra}"


def _with_item(items: list, index: int, value) -> list:
    items = list(items)
    items[index] = value
    return items


def _violation_cases():
    for operation in service_model.OPERATIONS:
        for member, spec in service_model.input_shape(operation)["members"].items():
            for label, bad, error, rule, extra in violations(spec["shape"], _shape(spec["shape"])):
                yield pytest.param(operation, member, bad, error, rule, member + extra, id=f"{operation}-{member}-{label}")


def _boundary_cases():
    """Values exactly at each model limit, which must be accepted."""
    for operation in service_model.OPERATIONS:
        for member, spec in service_model.input_shape(operation)["members"].items():
            name, shape = spec["shape"], _shape(spec["shape"])
            kind = shape["type"]
            for bound in ("min", "max"):
                if bound not in shape:
                    continue
                limit = shape[bound]
                if kind == "string":
                    value = fill(name, shape, limit)
                elif kind in ("integer", "long", "float", "double"):
                    value = limit
                elif kind == "blob":
                    value = b"\xff" * limit
                elif kind == "list":
                    item_name = shape["member"]["shape"]
                    value = [valid_value(item_name, _shape(item_name))] * limit
                elif kind == "map":
                    value_name = shape["value"]["shape"]
                    value = dict.fromkeys(distinct_keys(shape["key"]["shape"], limit), valid_value(value_name, _shape(value_name)))
                else:
                    continue
                yield pytest.param(operation, member, value, id=f"{operation}-{member}-{bound}")


def _request(operation: str, full: bool = False) -> dict:
    return valid_value("", service_model.input_shape(operation), full)


def _reachable_string_shapes():
    seen = {}

    def walk(name):
        if name in seen:
            return
        shape = seen[name] = _shape(name)
        if shape["type"] == "structure":
            for spec in shape["members"].values():
                walk(spec["shape"])
        elif shape["type"] == "list":
            walk(shape["member"]["shape"])
        elif shape["type"] == "map":
            walk(shape["key"]["shape"])
            walk(shape["value"]["shape"])

    for operation in service_model.OPERATIONS:
        for spec in service_model.input_shape(operation)["members"].values():
            walk(spec["shape"])
    return {name: shape for name, shape in seen.items() if shape["type"] == "string"}


# --- the model itself ------------------------------------------------------------------------


def test_all_operations_exist_in_installed_model():
    assert len(set(service_model.OPERATIONS)) == 16
    for operation in service_model.OPERATIONS:
        assert service_model.input_shape(operation)["type"] == "structure"
        assert service_model.output_shape(operation)["type"] == "structure"
        assert "InvalidParameterException" in service_model.operation_errors(operation)


def test_service_model_unknown_names_raise_key_error():
    with pytest.raises(KeyError, match="NoSuchOperation"):
        service_model.input_shape("NoSuchOperation")
    with pytest.raises(KeyError, match="NoSuchShape"):
        service_model.shape("NoSuchShape")


def test_operations_with_images_declare_image_too_large():
    # validation raises ImageTooLargeException only where the model says the operation can.
    for operation in service_model.OPERATIONS:
        has_image = "Image" in service_model.input_shape(operation)["members"]
        assert has_image == ("ImageTooLargeException" in service_model.operation_errors(operation)), operation


@pytest.mark.parametrize(
    ("operation", "member", "low", "high"),
    [
        ("CreateCollection", "CollectionId", 1, 255),
        ("CreateUser", "UserId", 1, 128),
        ("IndexFaces", "ExternalImageId", 1, 255),
        ("AssociateFaces", "ClientRequestToken", 1, 64),
        ("AssociateFaces", "FaceIds", 1, 100),
        ("DisassociateFaces", "FaceIds", 1, 100),
        ("ListUsers", "MaxResults", 1, 500),
        ("ListFaces", "MaxResults", 0, 4096),
        ("ListCollections", "MaxResults", 0, 4096),
        ("ListFaces", "NextToken", None, 255),
        ("AssociateFaces", "UserMatchThreshold", 0, 100),
        ("SearchFaces", "FaceMatchThreshold", 0, 100),
    ],
)
def test_limits_quoted_in_semantics_doc_match_model(operation, member, low, high):
    shape = _shape(_member_shape_name(operation, member))
    assert shape.get("min") == low
    assert shape["max"] == high


def test_image_bytes_limit_and_patterns_quoted_in_doc_match_model():
    image = _shape(_member_shape_name("IndexFaces", "Image"))
    blob = _shape(image["members"]["Bytes"]["shape"])
    assert (blob["min"], blob["max"]) == (1, IMAGE_MAX)
    assert _shape("CollectionId")["pattern"] == r"[a-zA-Z0-9_.\-]+"
    assert _shape("UserId")["pattern"] == r"[a-zA-Z0-9_.\-:]+"
    assert _shape("ExternalImageId")["pattern"] == r"[a-zA-Z0-9_.\-:]+"
    assert _shape("ClientRequestToken")["pattern"] == r"^[a-zA-Z0-9-_]+$"
    assert _shape("FaceId")["pattern"] == "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_every_patterned_string_has_a_sample_that_satisfies_the_model():
    strings = _reachable_string_shapes()
    patterned = {name for name, shape in strings.items() if "pattern" in shape and "enum" not in shape}
    assert patterned == set(PATTERN_SAMPLES)
    for name in patterned:
        assert _model_accepts_string(strings[name], PATTERN_SAMPLES[name]), name


def test_generated_pattern_violations_really_violate_the_model():
    # On ASCII text the narrowed categories are exact: check that claim, then use re as the oracle.
    ascii_text = "".join(map(chr, range(128)))
    for category, narrowed in (("L", "[a-zA-Z]"), ("N", "[0-9]"), ("Z", "[ ]")):
        in_category = {c for c in ascii_text if unicodedata.category(c).startswith(category)}
        assert in_category == set(re.findall(narrowed, ascii_text))
    checked = 0
    for name, shape in _reachable_string_shapes().items():
        for label, bad, _, rule, _ in violations(name, shape):
            if "pattern" in rule:
                assert bad.isascii()
                assert re.fullmatch(_ascii_subset(shape["pattern"]), bad) is None, (name, label)
                checked += 1
    assert checked == 2 * len(PATTERN_SAMPLES)


# --- generated cases ---------------------------------------------------------------------------


@pytest.mark.parametrize("operation", service_model.OPERATIONS)
def test_minimal_valid_request_passes(operation):
    request = _request(operation)
    assert set(request) == set(service_model.input_shape(operation).get("required", ()))
    validate_request(operation, request)


@pytest.mark.parametrize("operation", service_model.OPERATIONS)
def test_full_valid_request_passes(operation):
    request = _request(operation, full=True)
    assert set(request) == set(service_model.input_shape(operation)["members"])
    validate_request(operation, request)


@pytest.mark.parametrize(("operation", "member", "bad", "error", "rule", "path"), list(_violation_cases()))
def test_generated_violation_is_rejected(operation, member, bad, error, rule, path):
    request = _request(operation, full=True)
    request[member] = bad
    with pytest.raises(error) as caught:
        validate_request(operation, request)
    message = str(caught.value)
    assert message.startswith(f"{operation}: ")
    assert f"'{path}'" in message
    assert rule in message


@pytest.mark.parametrize(("operation", "member", "value"), list(_boundary_cases()))
def test_values_at_model_limits_are_accepted(operation, member, value):
    request = _request(operation, full=True)
    request[member] = value
    validate_request(operation, request)


@pytest.mark.parametrize("operation", service_model.OPERATIONS)
def test_missing_or_null_required_member_is_rejected(operation):
    for member in service_model.input_shape(operation).get("required", ()):
        for request in ({k: v for k, v in _request(operation).items() if k != member}, {**_request(operation), member: None}):
            with pytest.raises(InvalidParameterException, match=rf"at '{member}' .*must not be null"):
                validate_request(operation, request)


@pytest.mark.parametrize("operation", service_model.OPERATIONS)
def test_unknown_member_is_rejected(operation):
    expected = ", ".join(service_model.input_shape(operation)["members"])
    with pytest.raises(InvalidParameterException) as caught:
        validate_request(operation, {**_request(operation), "Bogus": 1})
    assert str(caught.value) == f"{operation}: Unknown parameter 'Bogus'; expected one of: {expected}"


# --- explicit cases from the brief and the semantics doc ---------------------------------------


def _associate(**overrides) -> dict:
    return {"CollectionId": "c1", "UserId": "u1", "FaceIds": [FACE_ID], **overrides}


def test_associate_faces_accepts_100_rejects_101_and_empty():
    validate_request("AssociateFaces", _associate(FaceIds=[FACE_ID] * 100))
    with pytest.raises(InvalidParameterException, match=r"'FaceIds' .*less than or equal to 100"):
        validate_request("AssociateFaces", _associate(FaceIds=[FACE_ID] * 101))
    with pytest.raises(InvalidParameterException, match=r"'FaceIds' .*greater than or equal to 1"):
        validate_request("AssociateFaces", _associate(FaceIds=[]))


def test_bad_face_id_is_named_by_index():
    face_ids = [FACE_ID] * 10
    face_ids[3] = "not-a-uuid"
    with pytest.raises(InvalidParameterException) as caught:
        validate_request("AssociateFaces", _associate(FaceIds=face_ids))
    assert str(caught.value) == (
        "AssociateFaces: Value 'not-a-uuid' at 'FaceIds[3]' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    )


@pytest.mark.parametrize("bad", [123, None, b"x"])
def test_non_string_face_id_in_list_is_named_by_index(bad):
    face_ids = [FACE_ID] * 5
    face_ids[4] = bad
    with pytest.raises(InvalidParameterException, match=r"at 'FaceIds\[4\]'"):
        validate_request("AssociateFaces", _associate(FaceIds=face_ids))


def test_face_ids_joined_by_nul_inside_one_item_are_rejected():
    # Guards the bulk list check: one item holding two valid ids and the separator must fail.
    with pytest.raises(InvalidParameterException, match=r"at 'FaceIds\[1\]'.*regular expression"):
        validate_request("AssociateFaces", _associate(FaceIds=[FACE_ID, f"{FACE_ID}\x00{FACE_ID}"]))


def test_upper_case_uuid_is_rejected_because_pattern_is_lower_hex():
    upper = FACE_ID.upper()
    with pytest.raises(InvalidParameterException, match=r"'FaceIds\[0\]'.*regular expression"):
        validate_request("AssociateFaces", _associate(FaceIds=[upper]))
    with pytest.raises(InvalidParameterException, match=r"'FaceId'.*regular expression"):
        validate_request("SearchFaces", {"CollectionId": "c1", "FaceId": upper})
    validate_request("SearchFaces", {"CollectionId": "c1", "FaceId": FACE_ID})


@pytest.mark.parametrize("threshold", [0, 100, 0.0, 100.0, 75, 99.5])
def test_threshold_in_range_is_accepted(threshold):
    validate_request("AssociateFaces", _associate(UserMatchThreshold=threshold))
    validate_request("SearchFaces", {"CollectionId": "c1", "FaceId": FACE_ID, "FaceMatchThreshold": threshold})


@pytest.mark.parametrize(
    ("threshold", "rule"),
    [
        (-0.1, "greater than or equal to 0"),
        (100.1, "less than or equal to 100"),
        (math.nan, "finite number"),
        (math.inf, "finite number"),
        (True, "type number"),
        ("80", "type number"),
    ],
)
def test_threshold_out_of_range_or_not_a_number_is_rejected(threshold, rule):
    with pytest.raises(InvalidParameterException, match=rf"'UserMatchThreshold'.*{rule}"):
        validate_request("AssociateFaces", _associate(UserMatchThreshold=threshold))


def test_bool_given_for_integer_is_rejected():
    with pytest.raises(InvalidParameterException, match=r"Value true at 'MaxResults'.*type integer \(got boolean\)"):
        validate_request("ListUsers", {"CollectionId": "c1", "MaxResults": True})
    validate_request("ListUsers", {"CollectionId": "c1", "MaxResults": 1})


def test_unknown_member_message_lists_expected_members():
    with pytest.raises(InvalidParameterException) as caught:
        validate_request("AssociateFaces", _associate(FaceId=FACE_ID))
    assert str(caught.value) == (
        "AssociateFaces: Unknown parameter 'FaceId'; expected one of: "
        "CollectionId, UserId, FaceIds, UserMatchThreshold, ClientRequestToken"
    )


def test_unknown_nested_member_is_named_by_path():
    with pytest.raises(InvalidParameterException, match=r"Unknown parameter 'Image.Url'; expected one of: Bytes, S3Object"):
        validate_request("IndexFaces", {"CollectionId": "c1", "Image": {"Url": "http://x"}})


def test_missing_required_member_is_rejected():
    with pytest.raises(InvalidParameterException, match=r"^AssociateFaces: Value null at 'UserId' .*Member must not be null$"):
        validate_request("AssociateFaces", {"CollectionId": "c1", "FaceIds": [FACE_ID]})


def test_null_optional_member_counts_as_absent():
    validate_request("ListFaces", {"CollectionId": "c1", "NextToken": None, "MaxResults": None})


@pytest.mark.parametrize(
    ("token", "rule"),
    [("a" * 65, "less than or equal to 64"), ("abc.def", "regular expression"), ("", "greater than or equal to 1")],
)
def test_bad_client_request_token_is_rejected(token, rule):
    for operation in ("AssociateFaces", "CreateUser"):
        request = _associate(ClientRequestToken=token) if operation == "AssociateFaces" else {
            "CollectionId": "c1", "UserId": "u1", "ClientRequestToken": token}
        with pytest.raises(InvalidParameterException, match=rf"'ClientRequestToken'.*{rule}"):
            validate_request(operation, request)


def test_client_request_token_of_64_chars_is_accepted():
    validate_request("AssociateFaces", _associate(ClientRequestToken="a-_9" * 16))


def test_collection_id_pattern_must_match_whole_string():
    with pytest.raises(InvalidParameterException) as caught:
        validate_request("CreateCollection", {"CollectionId": "ab c"})
    assert str(caught.value) == (
        "CreateCollection: Value 'ab c' at 'CollectionId' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [a-zA-Z0-9_.\-]+"
    )


def test_image_bytes_limits():
    validate_request("IndexFaces", {"CollectionId": "c1", "Image": {"Bytes": bytes(IMAGE_MAX)}})
    with pytest.raises(ImageTooLargeException, match=r"'Image.Bytes'.*less than or equal to 5242880") as caught:
        validate_request("IndexFaces", {"CollectionId": "c1", "Image": {"Bytes": bytes(IMAGE_MAX + 1)}})
    assert len(str(caught.value)) < 300  # the blob itself is never echoed
    with pytest.raises(InvalidParameterException, match=r"'Image.Bytes'.*greater than or equal to 1"):
        validate_request("SearchFacesByImage", {"CollectionId": "c1", "Image": {"Bytes": b""}})


def test_image_bytes_size_counts_bytes_of_a_memoryview():
    view = memoryview(bytes(IMAGE_MAX + 8)).cast("Q")  # fewer items than bytes
    assert len(view) < IMAGE_MAX
    with pytest.raises(ImageTooLargeException):
        validate_request("SearchUsersByImage", {"CollectionId": "c1", "Image": {"Bytes": view}})
    validate_request("SearchUsersByImage", {"CollectionId": "c1", "Image": {"Bytes": bytearray(b"\xff\xd8")}})


def test_tuples_are_lists():
    validate_request("DeleteFaces", {"CollectionId": "c1", "FaceIds": (FACE_ID, FACE_ID)})


@pytest.mark.parametrize("key", ["team", "équipe", "日本 チーム", "k:v/w=x+y-z@q", "ns:aws:x"])
def test_tag_keys_with_unicode_letters_are_accepted(key):
    validate_request("CreateCollection", {"CollectionId": "c1", "Tags": {key: "值 1"}})


@pytest.mark.parametrize("key", ["aws:team", "a!", "tab\there"])
def test_tag_keys_outside_the_pattern_are_rejected(key):
    with pytest.raises(InvalidParameterException, match=r"at 'Tags' .*Map keys must satisfy constraint"):
        validate_request("CreateCollection", {"CollectionId": "c1", "Tags": {key: "v"}})


def test_enum_value_is_checked():
    validate_request("IndexFaces", {"CollectionId": "c1", "Image": {"Bytes": b"x"}, "QualityFilter": "HIGH"})
    with pytest.raises(InvalidParameterException, match=r"'QualityFilter'.*enum value set: \[NONE, AUTO"):
        validate_request("IndexFaces", {"CollectionId": "c1", "Image": {"Bytes": b"x"}, "QualityFilter": "VERY_HIGH"})
    with pytest.raises(InvalidParameterException, match=r"'DetectionAttributes\[1\]'.*enum value set"):
        validate_request("IndexFaces", {"CollectionId": "c1", "Image": {"Bytes": b"x"}, "DetectionAttributes": ["ALL", "all"]})


@pytest.mark.parametrize("params", [[], "CollectionId=c1", None])
def test_params_must_be_an_object(params):
    with pytest.raises(InvalidParameterException, match=r"^DescribeCollection: Request parameters must be a JSON object"):
        validate_request("DescribeCollection", params)


@pytest.mark.parametrize("operation", ["DetectFaces", "Nope", "associatefaces", None])
def test_unknown_operation_raises_unknown_operation_error(operation):
    with pytest.raises(UnknownOperationError) as caught:
        validate_request(operation, {})
    assert isinstance(caught.value, LookupError)
    assert not isinstance(caught.value, InvalidParameterException)


def test_validation_does_not_modify_the_request():
    request = _request("AssociateFaces", full=True)
    before = copy.deepcopy(request)
    validate_request("AssociateFaces", request)
    assert request == before
