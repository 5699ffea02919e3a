"""The web app's refresh token, as a cookie its scripts cannot read.

A browser that asks for it (`X-Token-Transport: cookie` on login, refresh and logout) gets the
refresh token in an `HttpOnly; Secure; SameSite=Strict` cookie and `refresh_token: null` in the
body: an injected script can use the session while the page is open but never carry the 7-day
token away. The cookie goes only to the two routes that read it (one cookie per path, same value):
no other request of the page, and no log of one, carries it. Reading it needs the header too, which
a cross-site form or a cross-origin fetch without a CORS preflight cannot send (SameSite=Strict
already keeps the cookie off cross-site requests).

`Secure` is set everywhere: browsers keep Secure cookies from http://localhost and
http://127.0.0.1 (secure contexts), so `make run` works over plain HTTP; any other http:// address
gets no cookie and its sign-in lasts as long as the page (docs/deployment.md, TLS).

API clients leave the header out and keep the refresh token in the JSON bodies, as before.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Cookie, Header, Response

from controlplane.api.errors import ApiError
from controlplane.auth.schemas import RefreshIn, TokenPair

COOKIE = "wp_refresh"
PATHS = ("/api/auth/refresh", "/api/auth/logout")

TokenTransport = Annotated[
    Literal["body", "cookie"],
    Header(
        alias="X-Token-Transport",
        description="`cookie`: the refresh token travels in an HttpOnly cookie (the web app); "
        "`body` (the default): in the JSON bodies (API clients)",
    ),
]
RefreshCookie = Annotated[
    str | None,
    Cookie(
        alias=COOKIE,
        description="The refresh token, set by login/refresh with `X-Token-Transport: cookie`",
    ),
]


def set_refresh_cookie(response: Response, token: str, *, max_age_s: int) -> None:
    for path in PATHS:
        response.set_cookie(
            COOKIE,
            token,
            max_age=max_age_s,
            path=path,
            secure=True,
            httponly=True,
            samesite="strict",
        )


def clear_refresh_cookie(response: Response) -> None:
    for path in PATHS:
        response.delete_cookie(COOKIE, path=path, secure=True, httponly=True, samesite="strict")


def deliver(pair: TokenPair, response: Response, transport: str, *, days: int) -> TokenPair:
    """The tokens as the client asked: all in the body, or the refresh token as the cookie
    (kept by the browser as long as the token lives, REFRESH_TOKEN_DAYS)."""
    if transport != "cookie" or pair.refresh_token is None:
        return pair
    set_refresh_cookie(response, pair.refresh_token, max_age_s=days * 86400)
    return pair.model_copy(update={"refresh_token": None})


def presented(body: RefreshIn | None, transport: str, cookie: str | None) -> str:
    """The refresh token a refresh or logout presents: the body's, else (cookie transport) the
    cookie's. The cookie is never read without the header (CSRF, above). A body token with the
    header is how the web app moves a token an older version stored into the cookie."""
    if body is not None:
        return body.refresh_token
    if transport == "cookie" and cookie:
        return cookie[:256]
    raise ApiError(401, "invalid_refresh_token", "Refresh token is invalid or expired")
