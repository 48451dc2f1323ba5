"""The admission script's own line to Redis: one socket per thread, one send and one read.

redis-py's client wraps every command in layers the hot path does not need: a retry policy,
argument checks, a parser that polls before it reads. Together they cost the web worker about
as much CPU as the rest of a purchase. Here the socket is opened by redis-py (so the URL's
password, database and unix socket work exactly as everywhere else) and the script is
registered through it; the call itself packs its arguments with hiredis and reads the reply
with hiredis's Reader, the parser redis-py uses anyway.

There is no retry: an admission is not idempotent without its key, so a retried call could
sell twice. A line that breaks before the command was sent raises `redis.ConnectionError`
(nothing ran); one that breaks after it raises `OutcomeUnknown` (the script may have run).
Either way the line is closed and opened again on the next call.

The line speaks RESP2, so no out-of-band message (RESP3 pushes, maintenance notices) can be
taken for the script's reply; TLS (`rediss://`) lines work too.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import threading
import time

import hiredis
import redis
from django.conf import settings

# A Redis that stops answering must not hang a web thread: the kernel's own receive and send
# timeouts (no poll() before each read, unlike a Python socket timeout).
IO_TIMEOUT_SECONDS = 5
# A line idle this long may have been closed by Redis (restart, `timeout`, CLIENT KILL): it is
# checked without blocking before it is used again. Under load a line is never idle this long.
IDLE_CHECK_SECONDS = 1.0

_local = threading.local()


class OutcomeUnknown(redis.ConnectionError):
    """The command was sent and then the line broke: it may or may not have run."""


class HotLine:
    """A registered Lua script, called over this thread's own connection. Scripts called this
    way answer a table whose first element is a verdict string (anything else means the line
    is out of step)."""

    def __init__(self, *, url: str, source: str) -> None:
        self._client = redis.Redis.from_url(url, decode_responses=True, protocol=2)
        self._script = self._client.register_script(source)
        self._connection = None
        self._reader: hiredis.Reader | None = None
        self._used_at = 0.0
        self.calls = 0

    def _open(self) -> socket.socket:
        connection = self._client.connection_pool.make_connection()
        connection.connect()
        sock: socket.socket = connection._sock  # opened, authenticated and on the right db
        sock.settimeout(None)
        timeout = struct.pack("ll", IO_TIMEOUT_SECONDS, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
        self._connection = connection
        self._reader = hiredis.Reader(encoding="utf-8", replyError=redis.ResponseError)
        return sock

    def close(self) -> None:
        if self._connection is not None:
            self._connection.disconnect()
        self._connection = self._reader = None

    def _alive(self, sock: socket.socket) -> bool:
        """An idle line with something to read has been closed by Redis (an end of file) or
        is out of step (bytes nobody asked for): either way it is opened again. poll() and
        not a peek, so that a TLS socket is checked the same way."""
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)

    def _round_trip(self, packed: bytes):
        now = time.monotonic()
        sock = self._connection._sock if self._connection else None
        if sock is not None and now - self._used_at > IDLE_CHECK_SECONDS and not self._alive(sock):
            self.close()
            sock = None
        if sock is None:
            sock = self._open()
        self._used_at = now
        reader = self._reader
        self.calls += 1
        sent = False
        try:
            sock.sendall(packed)
            sent = True
            while (reply := reader.gets()) is False:
                chunk = sock.recv(65536)
                if not chunk:
                    raise OSError("Redis closed the connection")
                reader.feed(chunk)
        except (OSError, hiredis.ProtocolError, ValueError) as error:  # EAGAIN: a timeout
            self.close()
            kind = OutcomeUnknown if sent else redis.ConnectionError
            raise kind(f"Redis line broken: {error}") from None
        except BaseException:  # whatever it was, a half-read reply must not reach the next call
            self.close()
            raise
        return reply

    def __call__(self, *, keys: list, args: list):
        """EVALSHA the script; on NOSCRIPT (Redis restarted or flushed its scripts) load it and
        send again, which is safe: NOSCRIPT means nothing ran."""
        command = ("EVALSHA", self._script.sha, len(keys), *keys, *args)
        reply = self._round_trip(hiredis.pack_command(command))
        if isinstance(reply, redis.ResponseError):
            if not str(reply).startswith("NOSCRIPT"):
                raise reply
            self._script.sha = self._client.script_load(self._script.script)
            command = ("EVALSHA", self._script.sha, *command[2:])
            reply = self._round_trip(hiredis.pack_command(command))
            if isinstance(reply, redis.ResponseError):
                raise reply
        if not (isinstance(reply, list) and reply and isinstance(reply[0], str)):
            self.close()  # not the script's answer: the line is out of step
            raise OutcomeUnknown(f"unexpected reply from Redis: {reply!r:.80}")
        return reply


def forget() -> None:
    """Close and drop this thread's lines (they are opened again on the next call)."""
    for opened in (getattr(_local, "lines", None) or {}).values():
        opened.close()
    _local.lines = None


def line(name: str, source_of) -> HotLine:
    """This thread's line for script ``name`` (made again in a forked child)."""
    lines = getattr(_local, "lines", None)
    if lines is None or _local.pid != os.getpid():
        _local.pid, _local.lines = os.getpid(), {}
        lines = _local.lines
    if name not in lines:
        lines[name] = HotLine(url=settings.REDIS_URL, source=source_of(name))
    return lines[name]
