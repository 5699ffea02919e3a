"""The room browser's ad blocker: filter lists compiled by a pure parser (`filters`), applied
over DevTools (`blocker`: refused hosts, `script`: the generic cosmetic rules as injected CSS)."""
