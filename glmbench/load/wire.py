"""Streamed HTTP/1.1 over plain non-blocking sockets, each read stamped by the kernel.

The load client's hot path for ``http://`` targets. A request is one
pre-built byte string (request line, headers and body) written with one
``send``; the response is read with ``recvmsg`` straight from the event loop's
readiness callback and parsed by httptools (llhttp, the parser uvicorn uses),
whose body callback hands each piece of the de-chunked body to the SSE decoder.
There is no stream object, task or buffer copy per chunk.

Where the platform allows (Linux), every socket asks for the kernel's receive
timestamp (``SO_TIMESTAMPNS``): the moment the data reached the socket,
whatever the event loop was busy with. It is mapped onto the monotonic clock
(``perf_counter_ns``) at the read, and the user-space time of the read is kept
beside it as the client's delay. Elsewhere the user-space time is the stamp.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
import sys
import time
from collections.abc import Callable
from time import perf_counter_ns

import httptools

from glmbench.load.sse import StreamDecoder, StreamError
from glmbench.results.records import RequestRecord
from glmbench.util.text import one_line

__all__ = ["ConnectionPool", "WireRequest", "begin", "exchange", "kernel_stamps"]

# SO_TIMESTAMPNS (the "old" value, a struct timespec of two longs) is 35 on
# every Linux architecture but a few with their own socket.h; the control
# message it produces has the same number. Python does not export it.
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@ll")
_ANC_SIZE = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0
_READ_SIZE = 256 * 1024
# How much of an error body is read and kept in the record's reason.
_SHOWN_BODY = 4096
_CUT_ERRNOS = (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED)


def _probe_kernel_stamps() -> bool:
    """True when a loopback TCP socket here carries SO_TIMESTAMPNS stamps (Linux, not every sandbox)."""
    if not sys.platform.startswith("linux") or not _ANC_SIZE or _TIMESPEC.size != 16:
        return False
    socks: list[socket.socket] = []
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        socks.append(listener)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        a = socket.create_connection(listener.getsockname(), timeout=30)
        socks.append(a)
        b, _ = listener.accept()
        socks.append(b)
        b.settimeout(30)  # generous: a starved machine must not turn the stamps off
        b.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        # The kernel switches receive stamping on for the whole machine a moment after the
        # first socket asks (deferred work), so the first packets may come unstamped: try a few.
        for _ in range(50):
            a.sendall(b"x")
            _data, anc, _flags, _addr = b.recvmsg(16, _ANC_SIZE)
            if any(level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS for level, kind, _ in anc):
                return True
            time.sleep(0.01)
        return False
    except OSError:
        return False
    finally:
        for sock in socks:
            sock.close()


_KERNEL_STAMPS: bool | None = None


def kernel_stamps() -> bool:
    """Whether reads here are stamped by the kernel (checked once per process)."""
    global _KERNEL_STAMPS
    if _KERNEL_STAMPS is None:
        _KERNEL_STAMPS = _probe_kernel_stamps()
    return _KERNEL_STAMPS


class ConnectionPool:
    """Keep-alive connections to one ``host:port``, opened ahead of time when asked.

    Each connection is watched by one readiness callback for its whole life
    (registering a reader per request cost more than the request's own
    ``send``): while a request owns the connection its reads go to that
    request; while it is idle, anything it says (the server closing it, bytes
    nobody asked for) gets it closed and out of the pool.
    """

    def __init__(self, host: str, port: int, stamps: bool | None = None) -> None:
        self.host, self.port = host, port
        self.stamps = kernel_stamps() if stamps is None else stamps
        self._idle: list[socket.socket] = []
        self._addr: tuple[int, tuple] | None = None
        # Every open connection by descriptor: the request reading it, or None while it is idle.
        self._owner: dict[int, WireRequest | None] = {}
        self._socks: dict[int, socket.socket] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # Work the reads leave for later (decoding, settling a reply), run once the reads polled with it are
        # served: a timer, unlike a soon callback, runs after the I/O callbacks polled in its loop turn.
        self._later: list[Callable[[], None]] = []

    async def _address(self) -> tuple[int, tuple]:
        if self._addr is None:
            infos = await asyncio.get_running_loop().getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            family, _type, _proto, _name, addr = infos[0]
            self._addr = (family, addr)
        return self._addr

    async def connect(self) -> socket.socket:
        """A new connection, watched and not yet idle (OSError when the server cannot be reached)."""
        family, addr = await self._address()
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.stamps:
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            await asyncio.get_running_loop().sock_connect(sock, addr)
        except BaseException:
            sock.close()
            raise
        self._loop = loop = asyncio.get_running_loop()
        fd = sock.fileno()
        self._owner[fd] = None
        self._socks[fd] = sock
        loop.add_reader(fd, self._readable, fd)
        return sock

    def _readable(self, fd: int) -> None:
        owner = self._owner.get(fd)
        if owner is not None:
            owner._readable()
            return
        # Idle: the server closed it, or sent bytes nobody asked for. Either way it is not to be used again
        # (closed, it stays in the idle list until take() passes it over: a server closing thousands of idle
        # connections at once costs one look each).
        sock = self._socks.get(fd)
        if sock is not None:
            self.discard(sock)

    async def open(self, n: int) -> None:
        """Have ``n`` idle connections ready, so that connecting stays out of the timed run."""
        self._idle = [s for s in self._idle if s.fileno() >= 0]
        missing = n - len(self._idle)
        if missing <= 0:
            return
        done = await asyncio.gather(*(self.connect() for _ in range(missing)), return_exceptions=True)
        # Those the server has not already closed, or spoken on, while the others were connecting.
        self._idle.extend(s for s in done if isinstance(s, socket.socket) and s.fileno() >= 0)

    def take(self) -> socket.socket | None:
        """An idle connection the server has not closed meanwhile, or None.

        Without kernel stamps an idle connection is also peeked at, for bytes
        its watcher has not been called for yet; with them, a reply stamped
        before its request left says so (:meth:`WireRequest._read`).
        """
        idle = self._idle
        while idle:
            sock = idle.pop()
            if sock.fileno() < 0:
                continue  # closed by its watcher while idle
            if self.stamps:
                return sock
            try:
                sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                return sock  # nothing to read: alive
            except OSError:
                pass
            # The server closed it while idle, sent bytes nobody asked for, or it broke.
            self.discard(sock)
        return None

    def later(self, work: Callable[[], None]) -> None:
        """Run ``work`` after the reads that are ready now (one timer for all that is left this way)."""
        if not self._later:
            asyncio.get_running_loop().call_later(0, self._run_later)
        self._later.append(work)

    def _run_later(self) -> None:
        work, self._later = self._later, []
        for item in work:
            try:
                item()
            except Exception as exc:  # noqa: BLE001 - one request's fault never strands the others' replies
                asyncio.get_running_loop().call_exception_handler(
                    {"message": "glmbench: a reply's deferred work failed", "exception": exc})

    def claim(self, sock: socket.socket, req: WireRequest) -> None:
        """Reads of ``sock`` go to ``req`` from now on."""
        self._owner[sock.fileno()] = req

    def give(self, sock: socket.socket) -> None:
        """Back to the pool, idle."""
        self._owner[sock.fileno()] = None
        self._idle.append(sock)

    def discard(self, sock: socket.socket) -> None:
        """Stop watching ``sock`` and close it."""
        fd = sock.fileno()
        if fd >= 0 and self._socks.get(fd) is sock:
            del self._owner[fd], self._socks[fd]
            if self._loop is not None and not self._loop.is_closed():
                try:
                    self._loop.remove_reader(fd)
                except (ValueError, OSError):
                    pass
        sock.close()

    def close(self) -> None:
        for sock in list(self._socks.values()):
            self.discard(sock)
        self._idle.clear()


class WireRequest:
    """One streamed request on one connection, driven by readiness callbacks; its outcome goes into the record.

    ``future`` resolves when the response ended, failed or timed out (``end_ns``
    says when: the last read's stamp after a whole reply); ``on_end(end_ns)``,
    when given, is called right then, inside the read that ended it, before
    anything awaiting the future runs: a closed loop sends its next request from
    there. A read only parses the HTTP framing: its SSE events are decoded, and
    the future set, once the other reads polled with it are served
    (:meth:`ConnectionPool.later`), each event with its own read's stamp, so
    that a step of hundreds of streams is read, and the ends' next requests
    sent, before any of it is decoded. A reused connection the server had closed before answering is not an
    end (``retry``: the exchange tries once more on a new one). The
    connection goes back to the pool only after a whole, keep-alive response
    and only when nothing followed it. An interim ``1xx`` response (``100
    Continue``) is skipped; the final one is the reply. Bytes after the reply's
    end (a second response a server pipelined or misframed) are never read into
    this record: the connection is closed instead, as nobody can tell whose they are.
    """

    __slots__ = ("loop", "pool", "sock", "record", "decoder", "parser", "future", "status", "ctype", "shown",
                 "received", "complete", "failure", "ts", "delays", "last_ns", "stall_ns", "timer", "deadline_ns",
                 "stamps", "total_s", "sender", "framed", "streaming", "keep_alive", "interim", "trailing",
                 "encoding", "raw", "end_ns", "on_end", "reused", "held", "read_ns", "ended", "decoding", "reads")

    def __init__(self, pool: ConnectionPool, sock: socket.socket, record: RequestRecord, decoder: StreamDecoder,
                 total_s: float, stall_s: float | None, on_end: Callable[[int], None] | None = None,
                 reused: bool = False) -> None:
        self.loop = asyncio.get_running_loop()
        self.pool, self.sock, self.record, self.decoder = pool, sock, record, decoder
        self.parser = httptools.HttpResponseParser(self)
        self.future: asyncio.Future[None] = self.loop.create_future()
        self.status = 0
        self.ctype: bytes | None = None
        self.framed = False  # a length or chunking says where the body ends; else the connection's end does
        self.shown = bytearray()
        self.received = 0
        self.complete = False
        self.failure: str | None = None
        self.ts = 0
        self.streaming = False
        self.keep_alive = False
        self.interim = False  # the message being parsed is a 1xx, not the reply
        self.trailing = False  # bytes came after the reply ended
        self.encoding: bytes | None = None
        self.raw = 0  # bytes read from the socket, headers included
        self.sender: asyncio.Task | None = None
        self.stamps = pool.stamps
        self.delays: list[int] | None = [] if pool.stamps else None
        self.last_ns = perf_counter_ns()
        self.stall_ns = int(stall_s * 1e9) if stall_s else 0
        self.timer: asyncio.TimerHandle | None = None  # one timer per request: the stall check or the deadline
        self.deadline_ns = 0
        self.total_s = total_s
        self.end_ns = 0
        self.on_end = on_end
        self.reused = reused
        # Body pieces read and not yet decoded, and per read (end of its pieces in held, stamp, time of the
        # read): decoded once the reads polled with them are served (_decode_soon), so that a read costs its
        # parse and no more.
        self.held: list[bytes] = []
        self.reads: list[tuple[int, int, int]] = []
        self.decoding = False  # a decode of what is held is due
        self.read_ns = 0  # when the current read was made (user space)
        self.ended = False  # the reply has ended (the future is set a moment later, see _finish)

    # -- httptools callbacks (after the reply is complete, whatever follows is ignored)
    def on_message_begin(self) -> None:
        if self.complete:
            self.trailing = True
            return
        self.ctype = self.encoding = None
        self.framed = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.complete:
            return
        name = name.lower()
        if name == b"content-type":
            self.ctype = value
        elif name == b"content-length":
            self.framed = True
        elif name == b"transfer-encoding":
            codings = {c.strip() for c in value.lower().split(b",")} - {b"chunked", b"identity", b""}
            self.framed = self.framed or b"chunked" in value.lower()
            if codings:
                self.encoding = b", ".join(sorted(codings))
        elif name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            self.encoding = value.strip()

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.interim = True  # 100 Continue, 103 Early Hints: the reply is still to come
            return
        self.status = status
        self.record.http_status = status
        self.streaming = status == 200 and self._is_stream()
        if self.streaming and self.encoding is not None:
            # The SSE events cannot be read, nor timed, through a compression glmbench did not ask for.
            self.failure = (f"HTTP 200 but the stream is compressed ({one_line(self.encoding.decode('latin-1'), 40)}"
                            f" encoding) although glmbench asked for none: turn compression off on the server "
                            f"or proxy")

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self.received += len(body)
        if self.streaming:
            if self.failure is None:
                self.held.append(body)
        elif len(self.shown) < _SHOWN_BODY:
            self.shown += body[: _SHOWN_BODY - len(self.shown)]

    def on_message_complete(self) -> None:
        if self.complete:
            return
        if self.interim:
            self.interim = False
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # the parser forgets it once the message is over

    # -- the rest
    def _is_stream(self) -> bool:
        ctype = self.ctype
        return ctype is None or ctype.split(b";")[0].strip().lower() == b"text/event-stream"

    def start(self, data: bytes) -> None:
        """Send ``data`` (one write when it fits, the rest as the socket drains) and watch for the reply."""
        self.started(data, *send_now(self.sock, self.record, data))

    def started(self, data: bytes, sent: int, error: OSError | None) -> None:
        """Watch for the reply to ``data``, of which :func:`send_now` wrote ``sent`` bytes (or failed)."""
        if error is not None:
            self._fail_os(error)
            return
        if sent < len(data):
            self.sender = self.loop.create_task(self._send_rest(data[sent:]))
            self.sender.add_done_callback(self._sent)
        self.pool.claim(self.sock, self)
        # The whole-request limit runs from when the call was issued, connecting included.
        record = self.record
        self.deadline_ns = (record.send_ns or record.wire_ns) + int(self.total_s * 1e9)
        self._arm(perf_counter_ns())

    async def _send_rest(self, rest: bytes) -> None:
        await self.loop.sock_sendall(self.sock, rest)

    def _sent(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None and not self.ended:
            exc = task.exception()
            self._fail_os(exc if isinstance(exc, OSError) else OSError(str(exc)))

    def _readable(self) -> None:
        try:
            self._read()
        except Exception as exc:  # never leave a reader behind that fails on every wake-up
            self._finish(f"client error reading the response: {type(exc).__name__}: {one_line(str(exc), 120)}")

    def _read(self) -> None:
        try:
            data, anc, _flags, _addr = self.sock.recvmsg(_READ_SIZE, _ANC_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail_os(exc)
            return
        user = perf_counter_ns()
        self.last_ns = self.read_ns = user
        if anc and self.stamps:
            # The kernel's CLOCK_REALTIME stamp, moved onto the monotonic clock as it stands now
            # (a read without one, as when stamping is just being switched on, keeps the read's time).
            sec, nsec = _TIMESPEC.unpack_from(anc[0][2])
            kernel = sec * 1_000_000_000 + nsec - (time.time_ns() - perf_counter_ns())
            self.ts = ts = kernel if kernel < user else user
        else:
            self.ts = ts = user
        if not data:
            self._eof()
            return
        if not self.raw and self.reused and ts < self.record.wire_ns:
            # Stamped before the request left: bytes an idle connection held that its watcher had not yet
            # been called for (the pool does not peek when reads are stamped). Nobody's reply, never this one's.
            self._finish("the kept-alive connection held bytes from before the request was sent (a reply nobody "
                         "asked for): the server or a proxy in between sent more than it was asked", keep=False)
            return
        self.raw += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish("the server switched protocols")
            return
        except httptools.HttpParserError as exc:
            if self.complete and self.failure is None:
                self._finish(None, keep=False)  # garbage after a whole reply: not this reply's
            else:
                self._finish(self.failure or f"malformed HTTP response: {one_line(str(exc), 120)}")
            return
        held = self.held
        if held and (not self.reads or self.reads[-1][0] < len(held)):
            self.reads.append((len(held), ts, user))
            if not self.complete and not self.decoding:
                self.decoding = True
                self.pool.later(self._decode_soon)
        if self.failure is not None:
            self._finish(self.failure)
        elif self.complete:
            self._finish(None, keep=not self.trailing)

    def _eof(self) -> None:
        # A body without length or chunking ends with the connection: that is its proper end.
        if self.failure is None and (self.complete or (self.status and not self.framed)):
            self.complete = True
            self._finish(None, keep=False)
        else:
            self._finish(self.failure or "stream cut mid-way: server disconnected")

    def _fail_os(self, exc: OSError) -> None:
        if exc.errno in _CUT_ERRNOS:
            self._finish("stream cut mid-way: server disconnected" if self.status or self.received
                         else "stream cut mid-way: connection reset")
        else:
            self._finish(f"{type(exc).__name__}: {one_line(str(exc), 120)}")

    def _arm(self, now: int) -> None:
        wake = min(self.deadline_ns, self.last_ns + self.stall_ns) if self.stall_ns else self.deadline_ns
        self.timer = self.loop.call_later(max(wake - now, 0) / 1e9, self._check)

    def _check(self) -> None:
        if self.ended:
            return
        now = perf_counter_ns()
        if now >= self.deadline_ns:
            self._finish(f"timeout after {self.total_s:g} s (--timeout)")
        elif self.stall_ns and now - self.last_ns >= self.stall_ns:
            self._finish(f"stalled: no data for {self.stall_ns / 1e9:g} s (--stall-timeout)")
        else:
            self._arm(now)

    @property
    def retry(self) -> bool:
        """A reused connection cut before a byte of the reply came: the server's keep-alive ran out as the
        request left, so the exchange sends it again on a new connection."""
        return self.reused and self.raw == 0 and (self.failure or "").startswith("stream cut")

    def _decode_soon(self) -> None:
        self.decoding = False
        if self.ended:
            return  # decoded as it settles
        self._decode_held()
        if self.failure is not None:
            self._finish(self.failure)

    def _decode_held(self) -> None:
        """Hand the held body pieces to the SSE decoder, each stamped with its read's time."""
        held, reads = self.held, self.reads
        if not reads or reads[-1][0] < len(held):
            reads.append((len(held), self.ts, self.read_ns))  # a read whose parse failed part-way
        chunks = self.record.chunk_ns
        delays = self.delays
        feed = self.decoder.feed
        start = 0
        for end, ts, read_ns in reads:
            if self.failure is not None:
                break
            before = len(chunks)
            try:
                for body in held[start:end]:
                    feed(ts, body)
            except StreamError as exc:
                self.failure = str(exc)
            if delays is not None and len(chunks) != before:
                delays.extend([read_ns - ts] * (len(chunks) - before))
            start = end
        held.clear()
        reads.clear()

    def _finish(self, failure: str | None, keep: bool = True) -> None:
        if self.ended:
            return
        self.ended = True
        whole = failure is None and self.complete
        if self.held and not whole:
            self._decode_held()  # a reply cut short or refused: all it said first
            failure = failure or self.failure
        self.failure = failure
        self.end_ns = self.ts if self.complete and self.ts else perf_counter_ns()
        self.release(keep=keep and whole and self.keep_alive)
        try:
            if self.on_end is not None and not self.retry:
                self.on_end(self.end_ns)  # the next request leaves now, before this reply's last read is decoded
        finally:
            # The rest waits for the reads already waiting: in a wave of ends, every next request leaves before
            # any ended one is decoded and kept.
            self.pool.later(self._settle)

    def _settle(self) -> None:
        if self.held:
            # A protocol error in the last events fails the record; the connection, whole on the wire, stays.
            self._decode_held()
        if not self.future.done():
            self.future.set_result(None)

    def abort(self) -> None:
        """End the request now (the run stopped): the connection is closed, the reply left unread."""
        self._finish(None, keep=False)

    def release(self, keep: bool = False) -> None:
        """Stop watching the socket; back to the pool if ``keep``, else closed."""
        sock = self.sock
        if sock is None:
            return
        self.sock = None  # type: ignore[assignment]
        if self.timer is not None:
            self.timer.cancel()
        if self.sender is not None and not self.sender.done():
            self.sender.cancel()
        if keep:
            self.pool.give(sock)
        else:
            self.pool.discard(sock)

    def body_text(self) -> str:
        return bytes(self.shown).decode("utf-8", "replace")

    def content_type(self) -> str | None:
        return None if self.ctype is None else self.ctype.decode("latin-1", "replace")


def send_now(sock: socket.socket, record: RequestRecord, data: bytes) -> tuple[int, OSError | None]:
    """Write what of ``data`` the socket takes now, stamping ``record.wire_ns`` first: (bytes sent, error)."""
    record.wire_ns = perf_counter_ns()
    try:
        return sock.send(data), None
    except BlockingIOError:
        return 0, None
    except OSError as exc:
        return 0, exc


def begin(pool: ConnectionPool, data: bytes, record: RequestRecord, decoder: StreamDecoder, timeout_s: float,
          stall_s: float | None, on_end: Callable[[int], None] | None = None) -> WireRequest | None:
    """Send ``data`` now on an idle pooled connection, before returning; None when the pool has none.

    The bytes leave first and the request that reads the reply is made after:
    nothing but the send stands between a freed slot and its next request
    (the connection's watcher does not run before this returns).
    """
    sock = pool.take()
    if sock is None:
        return None
    sent, error = send_now(sock, record, data)
    req = WireRequest(pool, sock, record, decoder, timeout_s, stall_s, on_end, reused=True)
    req.started(data, sent, error)
    return req


async def exchange(pool: ConnectionPool, data: bytes, record: RequestRecord, decoder: StreamDecoder,
                   timeout_s: float, stall_s: float | None, on_end: Callable[[int], None] | None = None) -> WireRequest:
    """Send ``data`` on a pooled connection, else a new one, and read the whole reply into ``record``.

    A reused connection that the server closed before saying anything (its
    keep-alive ran out as the request left) is replaced by a new one once.
    Connection failures raise OSError; everything after is in the result.
    """
    req = begin(pool, data, record, decoder, timeout_s, stall_s, on_end)
    if req is not None:
        try:
            await req.future
        finally:
            req.release()
        if not req.retry:
            return req
        record.http_status = None
    sock = await asyncio.wait_for(pool.connect(), timeout_s)
    req = WireRequest(pool, sock, record, decoder, timeout_s, stall_s, on_end)
    try:
        req.start(data)
        await req.future
    finally:
        req.release()
    return req
