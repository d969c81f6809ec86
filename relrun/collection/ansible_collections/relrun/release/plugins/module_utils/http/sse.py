"""Server-sent events: a line parser and a blocking stream reader with a deadline.

The reader is single-threaded on purpose: the caller opens the stream, triggers the event
with a separate request, then reads until the event or the deadline. Bytes the server
sends meanwhile wait in the socket buffer, so nothing is lost between the two.
"""

from __future__ import annotations

import http.client
import time
from typing import Any

from .client import DEFAULT_TLS, RequestFailed, Tls, open_connection, request_headers


class SseEvent:
    """One dispatched event.

    Attributes:
        event: the event type (``message`` when the server named none).
        data: the data lines joined with newlines.
        id: the ``id:`` field, or None.
    """

    def __init__(self, event: str, data: str, event_id: str | None):
        self.event = event
        self.data = data
        self.id = event_id

    def __repr__(self) -> str:
        return f"SseEvent(event={self.event!r}, data={self.data!r}, id={self.id!r})"


class SseParser:
    """Incremental parser of the ``text/event-stream`` format (WHATWG HTML, 9.2).

    Feed it one line at a time; a blank line dispatches the event being built.
    Attributes count what went by, for messages when the wanted event never comes.
    """

    def __init__(self) -> None:
        self.events_seen = 0
        self.comments_seen = 0
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed_line(self, line: str) -> SseEvent | None:
        """Consume one line (with or without its line ending).

        Returns:
            The event dispatched by this line, if any.
        """
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments_seen += 1
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        # "retry" and unknown fields do not matter to a check.
        return None

    def _dispatch(self) -> SseEvent | None:
        if not self._data and not self._event:
            return None
        event = SseEvent(self._event or "message", "\n".join(self._data), self._id)
        self._event, self._data = "", []
        self.events_seen += 1
        return event


class SseStream:
    """An open event stream over http.client.

    Attributes:
        status: HTTP status of the stream response.
        content_type: its Content-Type header.
        parser: the parser (for counts).
    """

    def __init__(
        self,
        url: str,
        headers: dict[str, str] | None,
        connect_timeout: float,
        tls: Tls = DEFAULT_TLS,
    ):
        """Open the stream and read the response headers.

        Raises:
            RequestFailed: when there is no response.
        """
        self._conn, target = open_connection(url, connect_timeout, tls)
        merged = request_headers(headers, False)
        merged["Accept"] = "text/event-stream"
        merged["Cache-Control"] = "no-cache"
        try:
            self._conn.request("GET", target, headers=merged)
            self._resp = self._conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self._conn.close()
            raise RequestFailed(f"GET {url}: {exc or type(exc).__name__}") from exc
        self.status = self._resp.status
        self.content_type = self._resp.getheader("Content-Type") or ""
        self.parser = SseParser()
        self.ended = False
        self._pending: list[SseEvent] = []

    def wait_ready(self, deadline: float) -> bool:
        """Wait for the first line the server sends (a comment or an event).

        Servers commonly subscribe the client only after sending the headers, then say
        so with a first comment (``: connected``); an event triggered before that could
        be missed. Servers that send nothing first cost the wait until ``deadline``.

        Returns:
            True when a line arrived before the deadline.
        """
        line = self._readline(deadline)
        if line is None:
            return False
        event = self.parser.feed_line(line)
        if event is not None:
            self._pending.append(event)
        return True

    def _readline(self, deadline: float) -> str | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        sock = self._conn.sock
        if sock is not None:
            sock.settimeout(remaining)
        try:
            raw = self._resp.readline()
        except (TimeoutError, OSError, http.client.HTTPException):
            return None
        if not raw:
            self.ended = True
            return None
        return raw.decode("utf-8", errors="replace")

    def next_event(self, deadline: float) -> SseEvent | None:
        """Block until the next event or the monotonic ``deadline``.

        Returns:
            The event, or None when the deadline passed or the server closed the stream
            (``ended`` tells which).
        """
        if self._pending:
            return self._pending.pop(0)
        while True:
            line = self._readline(deadline)
            if line is None:
                return None
            event = self.parser.feed_line(line)
            if event is not None:
                return event

    def close(self) -> None:
        """Close the connection (the server notices and drops the subscriber)."""
        self._conn.close()

    def __enter__(self) -> SseStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
