from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from controlplane.auth import refresh_tokens as rt
from controlplane.auth.refresh_tokens import TokenCheck

KEY = "k" * 40


def test_current_reused_and_forged():
    sid, nonce = uuid.uuid4(), rt.new_nonce()
    t0 = rt.parse(rt.issue(secret_key=KEY, session_id=sid, generation=0, nonce=nonce))
    t1 = rt.parse(rt.issue(secret_key=KEY, session_id=sid, generation=1, nonce=nonce))
    assert t0 and t1
    assert (
        rt.check(token=t1, secret_key=KEY, nonce=nonce, current_generation=1) is TokenCheck.current
    )
    assert (
        rt.check(token=t0, secret_key=KEY, nonce=nonce, current_generation=1) is TokenCheck.reused
    )
    assert (
        rt.check(token=t1, secret_key=KEY, nonce=nonce, current_generation=0) is TokenCheck.invalid
    )
    assert (
        rt.check(token=t1, secret_key="x" * 40, nonce=nonce, current_generation=1)
        is TokenCheck.invalid
    )
    assert (
        rt.check(token=t1, secret_key=KEY, nonce=rt.new_nonce(), current_generation=1)
        is TokenCheck.invalid
    )


@given(st.text(max_size=300))
def test_parse_never_raises(text):
    parsed = rt.parse(text)
    assert parsed is None or parsed.generation >= 0
