"""The one place that extends uvicorn's internal h11 protocol class (`uvicorn.protocols.http.h11_impl.H11Protocol`,
not a public API: pyproject pins uvicorn <1 for it, and tests/test_library_internals.py checks the members used here).

Why a subclass: uvicorn has no public setting for either policy below. It closes idle keep-alive connections
(`timeout_keep_alive`) but not a client that connects and then sends nothing, or drips its headers a byte at a
time (slowloris), and its protocol-level 400s (garbage request line, oversized headers, a bad Content-Length) are
plain text where every other refusal of `memo serve` is an OpenAI-shaped JSON error. Both happen before an ASGI
app or middleware is called, so nothing public can do them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class H11Policy(H11Protocol):
    """uvicorn's h11 protocol plus two policies: a deadline for the request line and headers, and its
    protocol-level 400s in the API's JSON shape (`bad_request_body(message)` makes the body)."""

    header_timeout_s = 10.0
    max_connections: int | None = None
    crowded_timeout_s = 1.0  # past max_connections, idle connections get this long to send a request
    bad_request_body: Callable[[str], bytes] = staticmethod(lambda msg: msg.encode())
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport):
        super().connection_made(transport)
        self._arm()
        if self.max_connections is not None and len(self.connections) > self.max_connections:
            # crowded: every connection waiting for a request (idle keep-alive, or connected and silent) gets a
            # short deadline, so a flood of idle sockets cannot lock real clients out for header_timeout_s
            for conn in list(self.connections):
                if isinstance(conn, H11Policy) and conn._header_timer is not None:
                    conn._arm(self.crowded_timeout_s)

    def _arm(self, timeout: float | None = None) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(timeout or self.header_timeout_s, self._header_timeout)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # headers are in: from here the app's body deadline and the request deadline apply

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._arm()  # before super(): it may start the next pipelined request at once
        super().on_response_complete()

    def connection_lost(self, exc):
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):  # mid-response: no room for an answer
            self.transport.close()
            return
        body = self.bad_request_body(msg)
        headers = [
            (b"content-type", b"application/json"),
            (b"connection", b"close"),
            (b"content-length", str(len(body)).encode()),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()


def policy_protocol(
    header_timeout_s: float, max_connections: int | None, bad_request_body: Callable[[str], bytes]
) -> type[H11Protocol]:
    """The protocol class for `uvicorn.Config(http=...)` (a class, uvicorn's public way to pick the protocol)."""
    return type(
        "H11Policy",
        (H11Policy,),
        {
            "header_timeout_s": header_timeout_s,
            "max_connections": max_connections,
            "bad_request_body": staticmethod(bad_request_body),
        },
    )
