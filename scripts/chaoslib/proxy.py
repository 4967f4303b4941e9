"""A loopback TCP proxy that can be made unreachable on demand.

The chaos run puts it in front of the moto server so that SQS (and only the
processes pointed at the proxy) can be cut off mid-run. Two kinds of outage:

- ``reset``: every open connection is reset and every new one is accepted and
  reset at once (what a crashed or restarting endpoint looks like);
- ``blackhole``: bytes stop flowing both ways and new connections are
  accepted and never answered (what a network partition looks like: callers
  wait for their own timeouts);
- ``flaky``: a brownout. Half of the new connections are reset at once, and
  a reply is cut off before it reaches the caller with probability 0.3 (the
  service acted — a message was received, sent or deleted — and the caller
  never hears of it: SQS's receive counts climb without a delivery).

It listens on 127.0.0.1 only and forwards to 127.0.0.1 only. Its event loop
runs on a daemon thread; ``outage()`` and ``restore()`` are thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from dataclasses import dataclass, field

HOST = "127.0.0.1"
MODES = ("reset", "blackhole", "flaky")
FLAKY_REFUSE = 0.5
FLAKY_CUT_REPLY = 0.3
_CHUNK = 65536


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST, not a FIN: the peer sees 'connection reset'."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class ProxyStats:
    connections: int = 0
    refused: int = 0  # accepted during an outage and reset or held
    cut: int = 0  # open connections reset when an outage began


@dataclass
class OutageProxy:
    target_port: int
    mode: str = "reset"
    seed: int = 0
    port: int = 0
    stats: ProxyStats = field(default_factory=ProxyStats)
    _down: bool = False
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _held: set[asyncio.StreamWriter] = field(default_factory=set)  # blackholed: cut on restore
    _rng: random.Random = field(default_factory=random.Random)
    _thread: threading.Thread | None = None

    def start(self) -> int:
        """Listen on a free loopback port (returned) on a background thread."""
        if self.mode not in MODES:
            raise ValueError(f"outage mode must be one of {', '.join(MODES)}")
        ready = threading.Event()
        self._rng = random.Random(self.seed)
        self._loop = asyncio.new_event_loop()

        async def listen() -> None:
            self._server = await asyncio.start_server(self._serve, HOST, 0)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()

        def run() -> None:
            loop = self._loop
            assert loop is not None
            asyncio.set_event_loop(loop)
            loop.run_until_complete(listen())
            loop.run_forever()
            # Stopped: let the cancelled connections end (no "destroyed but pending").
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()

        self._thread = threading.Thread(target=run, name="chaos-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the proxy did not start listening")
        return self.port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def down(self) -> bool:
        return self._down

    def outage(self) -> None:
        self._call(self._begin_outage)

    def restore(self) -> None:
        self._call(self._end_outage)

    def stop(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or self._thread is None:
            return
        self._call(self._shutdown)
        self._thread.join(10)

    def _call(self, fn: object) -> None:
        assert self._loop is not None
        done = threading.Event()

        def run() -> None:
            try:
                fn()  # type: ignore[operator]
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    # --- on the loop's thread ----------------------------------------------------

    def _begin_outage(self) -> None:
        self._down = True
        if self.mode == "flaky":
            return  # open connections live on; their replies may be cut
        for writer in list(self._open):
            self.stats.cut += 1
            if self.mode == "reset":
                _reset(writer)
            else:
                self._held.add(writer)  # its bytes are dropped until the outage ends
        if self.mode == "reset":
            self._open.clear()

    def _end_outage(self) -> None:
        self._down = False
        # A blackholed connection lost bytes mid-request: cut it, its caller reconnects.
        for writer in list(self._held):
            _reset(writer)
            self._open.discard(writer)
        self._held.clear()

    def _shutdown(self) -> None:
        assert self._loop is not None
        if self._server is not None:
            self._server.close()
        for writer in self._open | self._held:
            _reset(writer)
        self._open.clear()
        self._held.clear()
        self._loop.call_soon(self._loop.stop)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._handle(reader, writer)
        finally:  # however it ended (cancelled at shutdown too), the caller's end is closed
            if not writer.transport.is_closing():
                _reset(writer)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        if self._down and self.mode == "flaky" and self._rng.random() >= FLAKY_REFUSE:
            pass  # this one gets through (its reply may still be cut)
        elif self._down:
            self.stats.refused += 1
            if self.mode in ("reset", "flaky"):
                _reset(writer)
                return
            self._held.add(writer)
            with contextlib.suppress(Exception):
                while await reader.read(_CHUNK):
                    pass  # swallowed: a blackhole answers nothing
            self._held.discard(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            _reset(writer)
            return
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer), self._pipe(up_reader, writer, writer, up_writer)
            )
        finally:
            for end in (writer, up_writer):
                self._open.discard(end)
                with contextlib.suppress(Exception):
                    end.close()

    def _cut_reply(self) -> bool:
        return self._rng.random() < FLAKY_CUT_REPLY

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        *reply_ends: asyncio.StreamWriter,
    ) -> None:
        """Copy ``source`` to ``sink``; ``reply_ends`` (the reply direction only)
        are both ends, reset when a flaky outage cuts a reply."""
        with contextlib.suppress(Exception):
            while chunk := await source.read(_CHUNK):
                if self._down and self.mode == "blackhole":
                    continue  # dropped on the floor (reset mode cut us already)
                if self._down and self.mode == "flaky" and reply_ends and self._cut_reply():
                    self.stats.cut += 1
                    for end in reply_ends:
                        _reset(end)
                    return
                sink.write(chunk)
                await sink.drain()
        with contextlib.suppress(Exception):
            sink.close()
