"""Room codes."""

from controlplane.rooms import codes


def test_codes_are_short_unambiguous_and_distinct():
    seen = {codes.new_code() for _ in range(5000)}
    assert len(seen) == 5000
    for code in seen:
        assert len(code) == codes.LENGTH
        assert not set(code) & set("0O1lI")
        assert codes.is_valid(code)


def test_alphabet_has_no_lookalikes():
    assert not set(codes.ALPHABET) & set("0O1lIo")
    assert len(set(codes.ALPHABET)) == len(codes.ALPHABET) == 32


def test_lookup_normalises_case_and_rejects_junk():
    assert codes.is_valid(" ABCDEFGH ".replace("A", "a"))
    assert codes.normalise("AbCd2345") == "abcd2345"
    for bad in ["", "abc", "abcdefg0", "abcdefgl", "../etc/x", "abcdefghi"]:
        assert not codes.is_valid(bad)
