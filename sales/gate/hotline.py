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

The line also knows which Redis dataset it reaches (`core.redis_dataset`): read over the line
itself when it opens and again every DATASET_CHECK_SECONDS, and written into the script's
arguments at send time. A Redis that came back from an older snapshot, or a replica promoted
behind the same address, breaks the line (or is found at the next check); the script then sees
a dataset other than the one its gate was loaded on and sells nothing.
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

from core import embedded_redis
from core.redis_dataset import dataset_of_info, parse_info

# A Redis that stops answering must not hang a web thread: the kernel's own receive and send
# timeouts (no poll() before each read, unlike a Python socket timeout).
IO_TIMEOUT_SECONDS = 5
# A line idle this long may have been closed by Redis (restart, `timeout`, CLIENT KILL): it is
# checked without blocking before it is used again. Under load a line is never idle this long.
IDLE_CHECK_SECONDS = 1.0
# How stale a line's idea of its dataset may be: a Redis swapped behind a proxy that keeps the
# client's connection open is noticed within this long.
DATASET_CHECK_SECONDS = 1.0

_local = threading.local()


class OutcomeUnknown(redis.ConnectionError):
    """The command was sent and then the line broke: it may or may not have run."""


class HotLine:
    """A registered Lua script, called over this thread's own connection. Scripts called this
    way answer a table whose first element is a verdict string (anything else means the line
    is out of step)."""

    def __init__(self, *, url: str, source: str) -> None:
        self._client = redis.Redis.from_url(url, decode_responses=True, protocol=2,
                                            **embedded_redis.pool_options(url))
        self._script = self._client.register_script(source)
        self._connection = None
        self._reader: hiredis.Reader | None = None
        self._used_at = 0.0
        self._dataset: str | None = None
        self._dataset_at = 0.0
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
        self._dataset = None  # a new line may reach another server: ask before sending
        return sock

    def close(self) -> None:
        if self._connection is not None:
            self._connection.disconnect()
        self._connection = self._reader = None
        self._dataset = None

    def _alive(self, sock: socket.socket) -> bool:
        """An idle line with something to read has been closed by Redis (an end of file) or
        is out of step (bytes nobody asked for): either way it is opened again. poll() and
        not a peek, so that a TLS socket is checked the same way."""
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)

    def _line(self) -> socket.socket:
        """This thread's open socket, checked if it sat idle, opened again if it was lost."""
        now = time.monotonic()
        sock = self._connection._sock if self._connection else None
        if sock is not None and now - self._used_at > IDLE_CHECK_SECONDS and not self._alive(sock):
            self.close()
            sock = None
        if sock is None:
            sock = self._open()
        self._used_at = now
        return sock

    def _exchange(self, sock: socket.socket, packed: bytes, replies: int = 1) -> list:
        """Send `packed` and read `replies` replies; a broken line is closed and raises."""
        reader = self._reader
        self.calls += 1
        sent = False
        answers = []
        try:
            sock.sendall(packed)
            sent = True
            while len(answers) < replies:
                while (reply := reader.gets()) is False:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise OSError("Redis closed the connection")
                    reader.feed(chunk)
                answers.append(reply)
        except (OSError, hiredis.ProtocolError, ValueError) as error:  # EAGAIN: a timeout
            self.close()
            kind = OutcomeUnknown if sent else redis.ConnectionError
            raise kind(f"Redis line broken: {error}") from None
        except BaseException:  # whatever it was, a half-read reply must not reach the next call
            self.close()
            raise
        return answers

    def _round_trip(self, packed: bytes):
        return self._exchange(self._line(), packed)[0]

    def dataset(self) -> str:
        """The dataset this line reaches, read over the line itself (at most once a second).
        Nothing has been sent for the script yet, so a line that breaks here sold nothing."""
        sock = self._line()
        now = time.monotonic()
        if self._dataset is None or now - self._dataset_at > DATASET_CHECK_SECONDS:
            packed = (hiredis.pack_command(("INFO", "server"))
                      + hiredis.pack_command(("INFO", "replication")))
            try:
                server, replication = self._exchange(sock, packed, replies=2)
            except OutcomeUnknown as error:
                raise redis.ConnectionError(str(error)) from None
            if not (isinstance(server, str) and isinstance(replication, str)):
                self.close()
                raise redis.ConnectionError(f"unexpected INFO reply: {server!r:.80}")
            self._dataset = dataset_of_info(parse_info(server), parse_info(replication))
            self._dataset_at = now
        return self._dataset

    def commands(self, commands: list[tuple]) -> list:
        """Send plain commands in one write and read their replies (a reply that is an error
        comes back as a `redis.ResponseError`, not raised). For writes that may be lost but
        never repeated: there is no retry here either."""
        packed = b"".join(hiredis.pack_command(command) for command in commands)
        return self._exchange(self._line(), packed, replies=len(commands))

    def __call__(self, *, keys: list, args: list, dataset_at: int | None = None):
        """EVALSHA the script; on NOSCRIPT (Redis restarted or flushed its scripts) load it and
        send again, which is safe: NOSCRIPT means nothing ran. With `dataset_at`, that
        argument is replaced by the dataset this very line reaches, read before sending."""
        if dataset_at is not None:
            args = list(args)
            args[dataset_at] = self.dataset()
        command = ("EVALSHA", self._script.sha, len(keys), *keys, *args)
        reply = self._round_trip(hiredis.pack_command(command))
        if isinstance(reply, redis.ResponseError):
            if not str(reply).startswith("NOSCRIPT"):
                raise reply
            self._script.sha = self._client.script_load(self._script.script)
            if dataset_at is not None:  # the line may have been opened again meanwhile
                args[dataset_at] = self.dataset()
            command = ("EVALSHA", self._script.sha, len(keys), *keys, *args)
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


def line(name: str, source_of, url: str | None = None) -> HotLine:
    """This thread's line for script ``name`` (made again in a forked child), to settings'
    Redis or, on a cluster, to the master at `url`."""
    lines = getattr(_local, "lines", None)
    if lines is None or _local.pid != os.getpid():
        _local.pid, _local.lines = os.getpid(), {}
        lines = _local.lines
    slot = name if url is None else (name, url)
    if slot not in lines:
        lines[slot] = HotLine(url=url or settings.REDIS_URL, source=source_of(name))
    return lines[slot]
