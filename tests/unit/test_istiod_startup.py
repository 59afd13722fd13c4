"""istiod's start-up model (rules/consumers/istiod.py) without Go: the encoding/pem port, the Go
release per revision, and the rules that change with it. tests/differential checks the same
model against Go 1.25 itself."""

import pytest

from azext_meshca.model import gopem
from azext_meshca.rules.consumers import istiod
from sandbox.casets import BASE, NOW, frame, make_set

PEM = b"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("how, decoded", [
    ("plain", True), ("crlf", True), ("indent-body", True), ("header", True),
    ("bom", False), ("indent", False), ("text-before", False),
])
def test_pem_decode_follows_go(how, decoded):
    """pem.go Decode: -----BEGIN must start a line; blanks inside the base64 are removed."""
    block, _ = gopem.pem_decode(frame(PEM, how))
    assert (block is not None) == decoded
    if decoded:
        assert block.label == b"CERTIFICATE" and block.der == b"\x01\x02\x03"


def test_pem_decode_skips_a_block_that_does_not_decode():
    block, rest = gopem.pem_decode(frame(PEM, "corrupt-before"))
    assert block.der == b"\x01\x02\x03" and rest == b""


def test_pem_decode_keeps_headers_that_the_pool_then_skips():
    block, _ = gopem.pem_decode(frame(PEM, "header"))
    assert block.headers == {"Comment": "meshca"}


REVISION_GO = [("asm-1-22", (1, 22)), ("asm-1-25", (1, 23)), ("asm-1-26", (1, 24)), ("asm-1-28", (1, 25)),
               ("asm-1-30", (1, 25)), ("asm-1-99", (1, 25)), (None, (1, 25))]


@pytest.mark.parametrize("revision, go", REVISION_GO)
def test_each_revision_is_judged_by_the_go_of_its_release(revision, go):
    assert istiod.go_for_revision(revision) == go


@pytest.mark.parametrize("changes, go, refused", [
    ({"ca_negative_serial": True}, (1, 22), False),   # accepted before Go 1.23
    ({"ca_negative_serial": True}, (1, 25), True),
    ({"root_key": "rsa768"}, (1, 23), False),         # accepted before Go 1.24
    ({"root_key": "rsa768"}, (1, 25), True),
    ({"ca_policy": True}, (1, 23), True),             # critical and unhandled before Go 1.24...
    ({"ca_policy": True}, (1, 25), True),             # ...refused by policy validation from 1.24
])
def test_what_istiod_refuses_depends_on_its_go(changes, go, refused):
    verdict = istiod.startup(make_set(dict(BASE, **changes)), NOW, go)
    assert (verdict["istiod"] is not None) == refused, verdict["istiod"] and verdict["istiod"].text


def test_policy_refusal_class_differs_by_go_release():
    objects = make_set(dict(BASE, ca_policy=True))
    assert istiod.startup(objects, NOW, (1, 23))["istiod"].kind == istiod.UNHANDLED_CRITICAL
    assert istiod.startup(objects, NOW, (1, 25))["istiod"].kind == istiod.POLICY


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
_GOOD = make_set(BASE)
_PIECES = st.sampled_from([b"-----BEGIN CERTIFICATE-----\n", b"-----END CERTIFICATE-----\n", b"\n", b"AQID",
                           b"-----BEGIN PRIVATE KEY-----\n", b"-----END PRIVATE KEY-----\n", b"a: b\n", b"\xef\xbb\xbf"])
_OBJECT = st.one_of(st.binary(max_size=300), st.lists(_PIECES, max_size=20).map(b"".join),
                    st.sampled_from(sorted(_GOOD.values())).flatmap(
                        lambda good: st.integers(0, len(good)).map(lambda cut: good[:cut])))


@hypothesis.given(objects=st.fixed_dictionaries({name: _OBJECT for name in _GOOD}))
def test_startup_never_raises_on_any_bytes(objects):
    """Whatever the four objects hold, the model answers (a refusal or none), never an exception."""
    verdict = istiod.startup(objects, NOW)
    assert set(verdict) == {"istiod", "agent"}
    for refusal in verdict.values():
        assert refusal is None or (refusal.kind and refusal.text)
