"""Text people type (chat messages, room titles) as plain text: one cleaning rule (pure)."""

from __future__ import annotations

import unicodedata

# Bidirectional overrides and isolates can make text display differently from what it is.
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def clean_text(text: str) -> str:
    """Chat text as plain text: newlines kept, tabs become spaces, other control characters and
    bidi overrides dropped, surrounding whitespace trimmed. Emoji (and their ZWJ sequences)
    are untouched."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    kept = [
        ch
        for ch in text
        if ch == "\n" or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _BIDI_CONTROLS)
    ]
    return "".join(kept).strip()
