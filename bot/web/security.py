"""Security headers on every response (a pure ASGI middleware, so WebSockets pass untouched)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def csp(frame_ancestors: str) -> str:
    # No inline script anywhere; the widget styles itself with a constructed stylesheet.
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def frame_csp(host_origin: str) -> str:
    """The widget frame's page: framed only by the one host page origin the loader stated (and
    the server allows); every other page of this server keeps its own frame-ancestors."""
    return csp(host_origin)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, frame_ancestors: str = "'none'") -> None:
        self.app = app
        self.console_csp = csp("'none'")  # the console is never framed, whatever the setting
        self.headers = {
            "content-security-policy": csp(frame_ancestors),
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "cross-origin-opener-policy": "same-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=()",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if scope["path"].startswith("/console"):
                    headers.setdefault("content-security-policy", self.console_csp)
                    # "same-origin", not "no-referrer": with no-referrer Chrome sends
                    # `Origin: null` on the sign-in form's POST, and the console checks Origin.
                    headers.setdefault("referrer-policy", "same-origin")
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                if scope.get("scheme") == "https":
                    headers.setdefault("strict-transport-security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, with_headers)
