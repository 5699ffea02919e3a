"""DOM KeyboardEvent ``key``/``code`` → X keysyms."""

from __future__ import annotations

from collections.abc import Iterable

from Xlib import XK

# DOM `key` values that are not single characters.
NAMED_KEYS: dict[str, str] = {
    "Enter": "Return",
    "Backspace": "BackSpace",
    "Tab": "Tab",
    "Escape": "Escape",
    "Esc": "Escape",
    " ": "space",
    "Spacebar": "space",
    "ArrowLeft": "Left",
    "ArrowRight": "Right",
    "ArrowUp": "Up",
    "ArrowDown": "Down",
    "Left": "Left",
    "Right": "Right",
    "Up": "Up",
    "Down": "Down",
    "Home": "Home",
    "End": "End",
    "PageUp": "Prior",
    "PageDown": "Next",
    "Delete": "Delete",
    "Del": "Delete",
    "Insert": "Insert",
    "Shift": "Shift_L",
    "Control": "Control_L",
    "Alt": "Alt_L",
    "AltGraph": "ISO_Level3_Shift",
    "Meta": "Super_L",
    "OS": "Super_L",
    "Super": "Super_L",
    "CapsLock": "Caps_Lock",
    "NumLock": "Num_Lock",
    "ScrollLock": "Scroll_Lock",
    "ContextMenu": "Menu",
    "Pause": "Pause",
    "PrintScreen": "Print",
    "Clear": "Clear",
    "Help": "Help",
    "AudioVolumeUp": "XF86AudioRaiseVolume",
    "AudioVolumeDown": "XF86AudioLowerVolume",
    "AudioVolumeMute": "XF86AudioMute",
    "MediaPlayPause": "XF86AudioPlay",
    "BrowserBack": "XF86Back",
    "BrowserForward": "XF86Forward",
    "BrowserRefresh": "XF86Reload",
    "Dead": "",
    "Unidentified": "",
    "Process": "",
}
for _n in range(1, 25):
    NAMED_KEYS[f"F{_n}"] = f"F{_n}"

# DOM `code` of modifier keys, so left and right are told apart.
MODIFIER_CODES: dict[str, str] = {
    "ShiftLeft": "Shift_L",
    "ShiftRight": "Shift_R",
    "ControlLeft": "Control_L",
    "ControlRight": "Control_R",
    "AltLeft": "Alt_L",
    "AltRight": "Alt_R",
    "MetaLeft": "Super_L",
    "MetaRight": "Super_R",
    "OSLeft": "Super_L",
    "OSRight": "Super_R",
}

# Modifier names used in messages → keysym to hold.
MODIFIER_KEYSYMS: dict[str, str] = {
    "shift": "Shift_L",
    "ctrl": "Control_L",
    "alt": "Alt_L",
    "meta": "Super_L",
}
MODIFIER_OF_KEY: dict[str, str] = {
    "Shift": "shift",
    "Control": "ctrl",
    "Alt": "alt",
    "Meta": "meta",
    "OS": "meta",
}

# Keys on the numeric keypad: DOM reports the same `key` as the main block.
KEYPAD_CODES: dict[str, str] = {
    "NumpadEnter": "KP_Enter",
}


def char_keysym(char: str) -> int:
    """Keysym for one character (Latin-1 directly, anything else as a Unicode keysym)."""
    cp = ord(char)
    if 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xFF:
        return cp
    if char == "\n":
        return XK.string_to_keysym("Return")
    if char == "\t":
        return XK.string_to_keysym("Tab")
    return 0x01000000 | cp


def dom_to_keysym(key: str, code: str = "") -> int | None:
    """Map a DOM ``key`` (and ``code``) to a keysym, or None if it means nothing to X."""
    if code in MODIFIER_CODES:
        return XK.string_to_keysym(MODIFIER_CODES[code])
    if code in KEYPAD_CODES:
        return XK.string_to_keysym(KEYPAD_CODES[code])
    if key in NAMED_KEYS:
        name = NAMED_KEYS[key]
        if not name:
            return None
        sym = XK.string_to_keysym(name)
        return sym or None
    if len(key) == 1:
        return char_keysym(key)
    # a word we do not know; fall back to the physical key
    if code.startswith("Key") and len(code) == 4:
        return char_keysym(code[3].lower())
    if code.startswith("Digit") and len(code) == 6:
        return char_keysym(code[5])
    return None


def shortcut_key(key: str, mods: Iterable[str]) -> str:
    """A letter pressed with Ctrl, Alt or Meta and without Shift names its key, not its case.
    With Caps Lock on a browser reports Ctrl+A as key "A"; typed as the capital letter it would
    press Shift as well, and Ctrl+Shift+A is another shortcut (or one the key policy refuses)."""
    held = set(mods)
    if len(key) == 1 and key.isalpha() and held & {"ctrl", "alt", "meta"} and "shift" not in held:
        return key.lower()
    return key
