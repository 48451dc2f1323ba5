"""A small TCP proxy that models a failover address (a VIP or a sentinel-managed name):
clients keep one URL while the door is switched to another server, and every connection open
at the switch is cut, as a failover cuts them."""

from __future__ import annotations

import socket
import threading


class FrontDoor:
    """A threaded TCP proxy on a free local port, forwarding to one Redis at a time.

    `switch(target)` cuts every open connection and sends new ones to the new target, as a
    failover address does; `switch(None)` refuses everyone (connections close at once)."""

    def __init__(self, target: tuple[str, int] | None) -> None:
        self._target = target
        self._generation = 0
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(256)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name=f"door-{self.port}",
                                          daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def target(self) -> tuple[str, int] | None:
        return self._target

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                downstream, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._connect, args=(downstream,), daemon=True).start()

    def _connect(self, downstream: socket.socket) -> None:
        with self._lock:
            target, generation = self._target, self._generation
        if target is None:
            downstream.close()
            return
        try:
            upstream = socket.create_connection(target, timeout=2)
            upstream.settimeout(None)
        except OSError:
            downstream.close()
            return
        pair = (downstream, upstream)
        with self._lock:
            current = generation == self._generation and not self._closed.is_set()
            if current:
                self._pairs.add(pair)
        if not current:  # switched while connecting: this one belongs to the old target
            _close(pair)
            return
        downstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=self._pump, args=(upstream, downstream, pair),
                         daemon=True).start()
        self._pump(downstream, upstream, pair)

    def _pump(self, source: socket.socket, sink: socket.socket, pair) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        with self._lock:
            self._pairs.discard(pair)
        _close(pair)

    def switch(self, target: tuple[str, int] | None) -> int:
        """Send new connections to `target`; cut the open ones. Returns how many were cut."""
        with self._lock:
            self._target = target
            self._generation += 1
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            _close(pair)
        return len(pairs)

    def close(self) -> None:
        self._closed.set()
        self.switch(None)
        self._listener.close()
        self._acceptor.join(timeout=2)

    def __enter__(self) -> FrontDoor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _close(pair: tuple[socket.socket, socket.socket]) -> None:
    for sock in pair:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv()
        except OSError:
            pass
        sock.close()
