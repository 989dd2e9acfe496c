"""Option value syntax on a synthetic model with every member type (the in-scope operations lack booleans)."""

import base64

import pytest
from botocore.model import ShapeResolver

from app.cli.exit_codes import ParamError
from app.cli.global_options import raising_parser
from app.cli.options import add_member_options, member_values
from app.cli.pagination import decode_starting_token, encode_token
from app.cli.param_values import apply_binary_format
from app.cli.shorthand import ShorthandError, parse

SHAPES = {
    "Req": {"type": "structure", "required": ["Name"], "members": {
        "Name": {"shape": "Str"}, "Enabled": {"shape": "Bool"}, "Count": {"shape": "Int"}, "Ratio": {"shape": "Flt"},
        "Filters": {"shape": "FilterList"}, "Labels": {"shape": "LabelMap"}, "Data": {"shape": "Blob"},
        "Ids": {"shape": "StrList"}}},
    "Str": {"type": "string"}, "Bool": {"type": "boolean"}, "Int": {"type": "integer"}, "Flt": {"type": "float"},
    "Blob": {"type": "blob"},
    "StrList": {"type": "list", "member": {"shape": "Str"}},
    "FilterList": {"type": "list", "member": {"shape": "Filter"}},
    "Filter": {"type": "structure", "members": {"Key": {"shape": "Str"}, "Values": {"shape": "StrList"},
                                                "Limit": {"shape": "Int"}, "Strict": {"shape": "Bool"}}},
    "LabelMap": {"type": "map", "key": {"shape": "Str"}, "value": {"shape": "Str"}},
}
SHAPE = ShapeResolver(SHAPES).get_shape_by_name("Req")


def values(*argv):
    parser = raising_parser()
    add_member_options(parser, SHAPE)
    namespace, unknown = parser.parse_known_args(list(argv))
    assert unknown == []
    return member_values(SHAPE, namespace)


def test_scalars_and_boolean_flags():
    assert values("--name", "n", "--enabled", "--count", "3", "--ratio", "0.5") == {
        "Name": "n", "Enabled": True, "Count": 3, "Ratio": 0.5}
    assert values("--no-enabled") == {"Enabled": False}
    assert values("--enabled", "--no-enabled") == {"Enabled": False}  # the last one wins, as in argparse/aws


def test_lists_of_scalars_and_of_structures():
    assert values("--ids", "a", "b") == {"Ids": ["a", "b"]}
    assert values("--ids", '["a", "b"]') == {"Ids": ["a", "b"]}
    assert values("--filters", "Key=k,Values=x,y,Limit=2,Strict=true", '{"Key": "j"}') == {"Filters": [
        {"Key": "k", "Values": ["x", "y"], "Limit": 2, "Strict": True}, {"Key": "j"}]}
    assert values("--filters", '[{"Key": "k"}]') == {"Filters": [{"Key": "k"}]}


def test_maps_and_shorthand_errors():
    assert values("--labels", "a=1,b=two") == {"Labels": {"a": "1", "b": "two"}}
    assert values("--labels", '{"a": "1"}') == {"Labels": {"a": "1"}}
    with pytest.raises(ParamError, match="Unknown key 'Nope', valid choices are: Key, Values, Limit, Strict"):
        values("--filters", "Nope=1")
    with pytest.raises(ParamError, match="expected an integer for Limit"):
        values("--filters", "Limit=many")
    with pytest.raises(ParamError, match="expected true or false"):
        values("--filters", "Strict=maybe")
    with pytest.raises(ParamError, match="Error parsing parameter '--count'"):
        values("--count", "1.5")


def test_shorthand_grammar():
    assert parse('A=[x, y],B={C=1,D="a, b"},E=\'q=r\'') == {"A": ["x", "y"], "B": {"C": "1", "D": "a, b"}, "E": "q=r"}
    assert parse("A=1,2,B=3") == {"A": ["1", "2"], "B": "3"}
    assert parse('A="say \\"hi\\""') == {"A": 'say "hi"'}
    for bad in ("=x", "A={B=1", "A=[1,2", 'A="open', "A=1,A=2"):
        with pytest.raises(ShorthandError):
            parse(bad)


def test_blob_formats():
    text = base64.b64encode(b"\x00\xffimage").decode()
    assert apply_binary_format({"Data": text}, SHAPE, "base64") == {"Data": b"\x00\xffimage"}
    assert apply_binary_format({"Data": "plain"}, SHAPE, "raw-in-base64-out") == {"Data": b"plain"}
    assert apply_binary_format({"Data": b"\x01raw"}, SHAPE, "base64") == {"Data": b"\x01raw"}  # fileb:// bytes
    with pytest.raises(ParamError, match="Invalid base64"):
        apply_binary_format({"Data": "not base64!"}, SHAPE, "base64")


def test_starting_token_forms():
    token = encode_token({"NextToken": "abc", "boto_truncate_amount": 2})
    assert decode_starting_token(token, "NextToken") == ({"NextToken": "abc"}, 2)
    assert decode_starting_token("abc.def", "NextToken") == ({"NextToken": "abc.def"}, 0)  # a service token as is
    assert decode_starting_token("abc___3", "NextToken") == ({"NextToken": "abc"}, 3)  # botocore's older form
    with pytest.raises(ParamError, match="Bad starting token"):
        decode_starting_token("a___b___c", "NextToken")
