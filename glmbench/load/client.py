"""The streaming HTTP client: one timestamp per network read, handed with the bytes to the SSE decoder.

``http://`` targets go through :mod:`glmbench.load.wire`: pooled keep-alive
sockets read straight from the event loop's readiness callbacks, each read
stamped by the kernel where the platform allows. ``https://`` targets (and
``--http-client aiohttp``) go through one shared aiohttp session, stamped with
``perf_counter_ns()`` as each read returns. Request bodies are serialised
before the send timestamp is taken.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from glmbench.datasets.base import Sample
from glmbench.errors import GlmbenchError
from glmbench.load import wire
from glmbench.load.reply import Reply
from glmbench.load.sse import StreamDecoder, StreamError
from glmbench.load.workload import RequestSpec
from glmbench.results.records import RequestRecord
from glmbench.util.text import one_line

if TYPE_CHECKING:
    from aiohttp.client_proto import ResponseHandler
    from aiohttp.client_reqrep import ConnectionKey

__all__ = ["StreamClient", "Target", "probe_target", "served_model"]

# No compression: events are timed as they arrive, which a compressed stream would blur.
_JSON = {"Content-Type": "application/json", "Accept": "text/event-stream", "Accept-Encoding": "identity"}


class Target:
    """An OpenAI-compatible server: base URL ending in ``/v1``, model name, optional API key."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None,
                 adapt_request: Callable[[dict[str, Any]], None] | None = None,
                 warmup_path: str = "/v1/models") -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        # The server's own request dialect (e.g. no ignore_eos), applied to every body.
        self.adapt_request = adapt_request
        # A cheap GET that opens the first connection before timing starts.
        self.warmup_path = warmup_path

    @property
    def root_url(self) -> str:
        """The server root, where ``/health`` and ``/metrics`` live."""
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, but a connection goes back to the pool a moment after its reply ended, once the read
    that ended it has been parsed to its end.

    aiohttp releases a connection the moment a reply's body ends, half-way through parsing the read that held
    that end; bytes after it (a second, unasked-for response) are parsed only then. A request issued in between
    would be sent on that connection and read the stray response as its own. A tick later the connection's
    ``should_close`` knows of those bytes, and aiohttp closes it instead of pooling it.
    """

    def _release(self, key: ConnectionKey, protocol: ResponseHandler, *, should_close: bool = False) -> None:
        release = super()._release
        self._loop.call_soon(lambda: release(key, protocol, should_close=should_close))


async def _on_body_sent(_session: object, ctx: object, _params: object) -> None:
    # Runs right before aiohttp hands the body to the transport.
    record = ctx.trace_request_ctx  # type: ignore[attr-defined]
    if record is not None and not record.wire_ns:
        record.wire_ns = perf_counter_ns()


# How much of an error body is read and kept in the record's reason.
_SHOWN_BODY = 4096


class StreamClient:
    """Sends benchmark requests and fills their records. Use as an async context manager."""

    def __init__(self, target: Target, spec: RequestSpec) -> None:
        self.target = target
        self.spec = spec
        self.url = f"{target.base_url}/{'chat/completions' if spec.api == 'chat' else 'completions'}"
        self._session: aiohttp.ClientSession | None = None
        self._pool: wire.ConnectionPool | None = None
        # Inside wave(): requests whose bytes have left and whose readers are built when the wave ends.
        self._wave: list[tuple[Any, ...]] | None = None
        parts = urlsplit(self.url)
        if spec.http_client == "wire" and parts.scheme == "http" and parts.hostname:
            port = parts.port or 80
            self._pool = wire.ConnectionPool(parts.hostname, port)
            host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
            headers = {**_JSON, "User-Agent": "glmbench", **target.headers()}
            self._head = (f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                          + "".join(f"{k}: {v}\r\n" for k, v in headers.items())).encode("latin-1")

    @property
    def kernel_stamps(self) -> bool:
        """True when reads are stamped by the kernel, not by the event loop."""
        return self._pool is not None and self._pool.stamps

    async def __aenter__(self) -> StreamClient:
        connector = _Connector(limit=0, ttl_dns_cache=None, force_close=False)
        trace = aiohttp.TraceConfig()
        trace.on_request_chunk_sent.append(_on_body_sent)
        self._session = aiohttp.ClientSession(
            trace_configs=[trace],
            connector=connector,
            headers=self.target.headers(),
            timeout=aiohttp.ClientTimeout(total=self.spec.timeout_s, sock_read=self.spec.stall_timeout_s),
            auto_decompress=False,
        )
        return self

    async def warm_up(self, connections: int = 1) -> None:
        """One untimed request, so that first-call costs (TLS context, imports, connection) stay out of the
        figures, and ``connections`` keep-alive connections opened before the clock starts."""
        assert self._session is not None, "use StreamClient as 'async with'"
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.open(max(connections, 1)), 30)
            except (OSError, asyncio.TimeoutError, TimeoutError):
                pass  # the timed requests will say what is wrong
        try:
            async with self._session.get(f"{self.target.root_url}{self.target.warmup_path}") as resp:
                await resp.read()
                if resp.status != 200:
                    # A server that failed the request may drop the connection without
                    # saying so (uvicorn after an exception); never reuse it for a timed request.
                    resp.close()
        except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError):
            pass

    async def __aexit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._session is not None:
            await self._session.close()

    def body(self, sample: Sample) -> bytes:
        """The request body for ``sample``, serialised once, before timing starts."""
        spec = self.spec
        payload: dict[str, Any] = {
            "model": self.target.model,
            "max_tokens": sample.output_tokens,
            "temperature": spec.temperature,
        }
        if spec.api == "chat":
            payload["messages"] = [{"role": "user", "content": sample.prompt}]
        else:
            payload["prompt"] = sample.prompt
        if spec.ignore_eos:
            payload["ignore_eos"] = True
        return self.streamed(payload)

    def streamed(self, payload: dict[str, Any]) -> bytes:
        """A request body of any shape (a BFCL entry's, say), asked as a stream with usage, in the server's
        dialect, with the suite's extra fields; serialised."""
        payload = {**payload, "stream": True,
                   "stream_options": {"include_usage": True, "continuous_usage_stats": self.spec.continuous_usage}}
        if self.target.adapt_request is not None:
            self.target.adapt_request(payload)
        payload.update(self.spec.extra_body)
        return orjson.dumps(payload)

    def prepare(self, body: bytes) -> bytes:
        """What :meth:`start` sends for ``body``: on the wire path the whole HTTP request, framed once, before
        timing starts; else the body itself."""
        if self._pool is None:
            return body
        return self._head + b"Content-Length: %d\r\n\r\n%b" % (len(body), body)

    async def send(self, record: RequestRecord, body: bytes, reply: Reply | None = None) -> None:
        """Send one request and fill ``record`` (and ``reply``, with what was said); a failure is recorded,
        never raised."""
        await self.start(record, self.prepare(body), reply)

    @contextlib.contextmanager
    def wave(self) -> Iterator[None]:
        """Requests started inside go on the wire one after the other, with nothing else between their sends;
        what reads their replies is built as the block ends (nothing can read them before: no read runs
        inside one callback). A burst of 512 leaves in about the time of its 512 ``send`` calls."""
        if self._pool is None or self._wave is not None:
            yield
            return
        wave: list[tuple[Any, ...]] = []
        self._wave = wave
        try:
            yield
        finally:
            self._wave = None
            spec = self.spec
            for sock, sent, error, record, request, reply, on_end, done in wave:
                decoder = StreamDecoder(record, spec.api, reply)
                started = wire.WireRequest(self._pool, sock, record, decoder, spec.timeout_s,
                                           spec.stall_timeout_s, on_end, reused=True)
                started.started(request, sent, error)
                self._follow(record, request, decoder, started, on_end, done)

    def start(self, record: RequestRecord, request: bytes, reply: Reply | None = None,
              on_end: Callable[[int], None] | None = None) -> Awaitable[None]:
        """Send ``request`` (from :meth:`prepare`) and return what to await for ``record`` to be filled.

        On the wire path the bytes are on the wire before this returns when
        the pool has an idle connection (else once the awaitable has connected
        one), and ``on_end(end_ns)`` is called the moment the reply ends,
        inside the read that ended it and before the awaitable resumes: a
        closed loop's next request leaves from there. aiohttp sends once the
        awaitable runs and never calls ``on_end``: the caller frees its slot
        when the awaitable returns.

        A request sent here comes back as a future that the reply's own
        callbacks settle (no task, nothing to wake when it is sent: a wave of
        them costs little more than its sends); cancelling it ends the request
        and leaves ``record`` unfinished (not ok, no error) for the caller to
        mark. Otherwise it is a coroutine, which must be awaited.
        """
        assert self._session is not None, "use StreamClient as 'async with'"
        if self._pool is None:
            return self._send_aiohttp(record, request, reply)
        if self._wave is not None:
            sock = self._pool.take()
            if sock is not None:
                sent, error = wire.send_now(sock, record, request)
                record.send_ns = record.wire_ns
                done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._wave.append((sock, sent, error, record, request, reply, on_end, done))
                return done
        spec = self.spec
        decoder = StreamDecoder(record, spec.api, reply)
        record.send_ns = perf_counter_ns()
        started = wire.begin(self._pool, request, record, decoder, spec.timeout_s, spec.stall_timeout_s, on_end)
        if started is None:
            return self._send_wire(record, request, decoder, on_end)
        return self._follow(record, request, decoder, started, on_end)

    def _follow(self, record: RequestRecord, request: bytes, decoder: StreamDecoder, started: wire.WireRequest,
                on_end: Callable[[int], None] | None,
                into: asyncio.Future[None] | None = None) -> asyncio.Future[None]:
        loop = started.loop
        done: asyncio.Future[None] = loop.create_future() if into is None else into
        again: list[asyncio.Task] = []

        def replied(_future: asyncio.Future[None]) -> None:
            started.release()
            if done.done():
                return
            if started.retry:  # the pooled connection was closed under it: once more, on a new one
                record.http_status = None
                task = loop.create_task(self._send_wire(record, request, decoder, on_end))
                again.append(task)
                task.add_done_callback(lambda t: _settle(done, t))
                return
            self._fill(record, started, decoder)
            done.set_result(None)

        def ended(_done: asyncio.Future[None]) -> None:
            if done.cancelled():  # the run stopped: the request goes with it
                started.abort()
                for task in again:
                    task.cancel()
                if not record.end_ns:
                    record.end_ns = perf_counter_ns()

        started.future.add_done_callback(replied)
        done.add_done_callback(ended)
        return done

    async def _send_aiohttp(self, record: RequestRecord, body: bytes, reply: Reply | None) -> None:
        assert self._session is not None
        decoder = StreamDecoder(record, self.spec.api, reply)
        feed = decoder.feed
        record.send_ns = perf_counter_ns()
        try:
            async with self._session.post(self.url, data=body, headers=_JSON, trace_request_ctx=record) as resp:
                record.http_status = resp.status
                if resp.status != 200:
                    text = (await resp.content.read(_SHOWN_BODY)).decode("utf-8", "replace")
                    record.error = f"HTTP {resp.status}: {one_line(text)}"
                    return
                kind = resp.headers.get("Content-Type")
                if kind is not None and resp.content_type != "text/event-stream":
                    # A proxy's error page, or a server that ignored stream=true: say what came back.
                    text = (await resp.content.read(_SHOWN_BODY)).decode("utf-8", "replace")
                    record.error = f"HTTP 200 but {one_line(kind, 60)}, not an event stream: {one_line(text) or '(empty)'}"
                    return
                encoding = resp.headers.get("Content-Encoding", "").strip()
                if encoding and encoding.lower() != "identity":
                    record.error = (f"HTTP 200 but the stream is compressed ({one_line(encoding, 40)} encoding) "
                                    f"although glmbench asked for none: turn compression off on the server or proxy")
                    return
                # aiohttp hands the connection back the moment the body ends, which may be half-way
                # through a read that also holds a second, unasked-for response: that one would be
                # queued for the next request on this connection. Kept here to close it then.
                protocol = resp.connection.protocol if resp.connection is not None else None
                received = 0
                readany = resp.content.readany
                while data := await readany():
                    received += len(data)
                    feed(perf_counter_ns(), data)
                if protocol is not None and protocol.should_close:
                    protocol.close()
            record.end_ns = perf_counter_ns()
            finished = decoder.close(record.end_ns)
            if not received:
                record.error = "HTTP 200 with an empty body: no event stream"
                return
        except StreamError as exc:
            record.error = str(exc)
            return
        except aiohttp.SocketTimeoutError:
            record.error = f"stalled: no data for {self.spec.stall_timeout_s:g} s (--stall-timeout)"
            return
        except (asyncio.TimeoutError, TimeoutError):
            record.error = f"timeout after {self.spec.timeout_s:g} s (--timeout)"
            return
        except aiohttp.ClientPayloadError as exc:
            record.error = f"stream cut mid-way: {one_line(str(exc), 120)}"
            return
        except aiohttp.ServerDisconnectedError:
            record.error = "stream cut mid-way: server disconnected"
            return
        except aiohttp.ClientConnectorError as exc:
            record.error = f"cannot connect: {one_line(str(exc), 120)}"
            return
        except aiohttp.ClientError as exc:
            record.error = f"{type(exc).__name__}: {one_line(str(exc), 120)}"
            return
        finally:
            if not record.end_ns:
                record.end_ns = perf_counter_ns()
        if not finished:
            record.error = "stream ended without [DONE] or finish_reason"
        elif not record.chunk_ns:
            record.error = "stream carried no tokens"
        else:
            record.ok = True


    async def _send_wire(self, record: RequestRecord, data: bytes, decoder: StreamDecoder,
                         on_end: Callable[[int], None] | None) -> None:
        pool, spec = self._pool, self.spec
        assert pool is not None
        try:
            req = await wire.exchange(pool, data, record, decoder, spec.timeout_s, spec.stall_timeout_s, on_end)
        except (asyncio.TimeoutError, TimeoutError):
            record.end_ns = perf_counter_ns()
            record.error = f"timeout after {spec.timeout_s:g} s (--timeout)"
            return
        except OSError as exc:
            record.end_ns = perf_counter_ns()
            record.error = f"cannot connect: {one_line(exc.strerror or str(exc), 120)}"
            return
        self._fill(record, req, decoder)

    @staticmethod
    def _fill(record: RequestRecord, req: wire.WireRequest, decoder: StreamDecoder) -> None:
        """The record of a reply the wire has read to its end (or failed on)."""
        if req.stamps:
            record.stamps = "kernel"
            record.chunk_delay_ns = req.delays or []
        record.end_ns = req.end_ns
        status = req.status
        if status and status != 200:
            record.error = f"HTTP {status}: {one_line(req.body_text())}"
            return
        kind = req.content_type()
        if status and not req.streaming:
            record.error = (f"HTTP 200 but {one_line(kind or '', 60)}, not an event stream: "
                            f"{one_line(req.body_text()) or '(empty)'}")
            return
        if req.failure is not None:
            record.error = req.failure
            return
        try:
            finished = decoder.close(record.end_ns)
        except StreamError as exc:
            record.error = str(exc)
            return
        if not req.received:
            record.error = "HTTP 200 with an empty body: no event stream"
        elif not finished:
            record.error = "stream ended without [DONE] or finish_reason"
        elif not record.chunk_ns:
            record.error = "stream carried no tokens"
        else:
            record.ok = True


def _settle(done: asyncio.Future[None], task: asyncio.Task) -> None:
    """``done`` as ``task`` ended, unless it was settled already."""
    if done.done():
        return
    if task.cancelled():
        done.cancel()
    elif (exc := task.exception()) is not None:
        done.set_exception(exc)
    else:
        done.set_result(None)


async def probe_target(target: Target, timeout_s: float = 10.0) -> None:
    """Fail fast, with the next step, when no OpenAI API answers at ``target``.

    Any answer but 404, 401 and 403 passes: some servers fail ``/models`` itself
    (``transformers serve`` without a hub cache) and still serve completions.
    """
    url = f"{target.base_url}/models"
    try:
        async with aiohttp.ClientSession(headers=target.headers()) as session:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                status = resp.status
    except aiohttp.ClientConnectorError as exc:
        os_error = getattr(exc, "os_error", None)
        reason = getattr(os_error, "strerror", None) or type(exc).__name__
        raise GlmbenchError(f"cannot reach {target.base_url}: {reason}",
                            "start the server or check --endpoint (it should end in /v1)") from None
    except (asyncio.TimeoutError, TimeoutError):
        raise GlmbenchError(f"no answer from {url} within {timeout_s:g} s",
                            "check that the server is up and not overloaded, and the port of --endpoint") from None
    except (aiohttp.ClientError, OSError) as exc:
        # Something listens there, but what it said is not HTTP (another service on that port).
        raise GlmbenchError(f"{target.base_url} does not answer HTTP ({type(exc).__name__})",
                            "check the host and port of --endpoint: another service may be listening there") from None
    if status in (401, 403):
        raise GlmbenchError(f"{url} refused the API key (HTTP {status})", "set --api-key or OPENAI_API_KEY")
    if status == 404:
        if not target.base_url.endswith("/v1"):
            raise GlmbenchError(f"{url} answered HTTP 404: {target.base_url} is not an OpenAI API root",
                                f"pass the URL ending in /v1: --endpoint {target.base_url}/v1")
        raise GlmbenchError(f"{url} answered HTTP 404: no OpenAI-compatible API at {target.base_url}",
                            "check --endpoint: it should be the server's API root, ending in /v1")


async def served_model(target: Target, timeout_s: float = 10.0) -> str:
    """The first model listed at ``/v1/models``, for runs that did not name one."""
    await probe_target(target, timeout_s)
    try:
        async with aiohttp.ClientSession(headers=target.headers()) as session:
            async with session.get(f"{target.base_url}/models", timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                data = orjson.loads(await resp.read())
        return str(data["data"][0]["id"])
    except (aiohttp.ClientError, orjson.JSONDecodeError, KeyError, IndexError, TypeError, TimeoutError):
        raise GlmbenchError(f"{target.base_url}/models lists no model", "pass --model NAME") from None
