"""Fault-injecting OpenAI-compatible HTTP server for the fault-matrix tests.

Standard library only (asyncio streams); it deliberately shares no code with
glmbench's simulator or client.  Run as ``python tests/faultserver.py --port N``;
unknown arguments are ignored, only ``--port`` and ``--host`` are read (the
bind address is always loopback).  Everything else comes from the environment:

FAULT_MODE (default ``ok``), per completion request:
  ok            normal SSE stream (chunked) when ``"stream": true``, else JSON (the API default)
  http500 / http429 / http400
                that status with a JSON error body (429 adds ``Retry-After: 1``)
  cut           headers and 2 token events, then the socket is closed
  badjson       the second event is ``data: {not json``
  stall         headers and 1 token event, then silence (connection kept open)
  stall-head    request read, nothing ever sent
  noheaders     200 with only ``Transfer-Encoding: chunked`` (no Content-Type)
  html          200 text/html gateway page
  empty         200 text/event-stream with ``Content-Length: 0``
  huge          first token event carries 4 MiB of content in one write
  crlf          SSE lines end with CRLF
  comments      ``: keep-alive`` comment events and ``event: message`` lines
  split         every event written in 1-3 byte HTTP chunks, drained each
  packed        the whole reply body as one HTTP chunk in one write
  error-event   one token event, then an ``{"error": ...}`` event and [DONE]
  hostile       tokens (and the default model id) carry markup/escape text
  hostile-error hostile text (raw ESC, BEL, rich markup, HTML, a newline) as the error: odd-numbered
                requests get an HTTP 500 whose text/plain body is those raw bytes, even-numbered
                ones one token event and then an ``{"error": ...}`` event carrying the same text
                (JSON-escaped as ``\\u001b``, which decodes to a real ESC in the message)
  nothttp       every connection gets an SSH banner and is closed
  pipelined     a whole second response (3 tokens, another id) follows the reply's end in the same write
  continue100   ``HTTP/1.1 100 Continue`` first, the reply 20 ms later
  torn          the reply's events, then a torn last line ``data: {"id":...`` and the body's end (no [DONE])
  torn-huge     the same with a 10 MB unterminated last line
  bare-cr       SSE lines end with a bare CR (legal)
  multiline     every event's JSON spread over several ``data:`` lines (legal)
  bom           the body starts with a UTF-8 byte-order mark (legal)
  gzip          ``Content-Encoding: gzip``, the body gzip-compressed
Every stream's chunks carry the id ``cmpl-<n>``, n the request's number.

FAULT_MODEL (default ``fault-model``), FAULT_TOKENS (8), FAULT_ITL_MS (2),
FAULT_TTFT_MS (5), FAULT_OK_FIRST (0: requests 1..N are served as ``ok``),
FAULT_FAIL_FIRST (0: when set, requests 1..N get FAULT_MODE and every later one ``ok``),
FAULT_DIE_AFTER (requests 1..N are served, request N+1 sends its headers and
one token event and the process exits with ``os._exit(1)``),
FAULT_STARTUP (``ok`` | ``exit`` | ``never-ready`` | ``slow``, FAULT_STARTUP_S=2),
FAULT_NO_METRICS=1 (/metrics is 404), FAULT_IGNORE_TERM=1 (SIGTERM ignored),
FAULT_CHILD=1 (spawn a sleeping child in the same process group, FAULT_MARK on its command line),
FAULT_LOG=path (append ``<n> <mode>`` per completion request).
"""
from __future__ import annotations

import asyncio
import gzip
import ipaddress
import json
import os
import signal
import subprocess
import sys

ENV = os.environ
MODE = ENV.get("FAULT_MODE", "ok")
HOSTILE_TOKENS = ["[/]", "[bold red]x[/bold red]", "[link=http://evil.example]click[/link]",
                  "\x1b]0;pwned\x07", "\x1b[2J", "<script>alert(1)</script>", "| pipe | table |", "\n"]
HOSTILE_MODEL = "hostile[/]\x1b]0;pwned\x07[link=http://evil.example]m[/link]<script>alert(1)</script>|x|"
HOSTILE_ERROR = ("injected [/] \x1b[2J <script>alert(1)</script> [bold red]x[/bold red] "
                 "\x1b]0;pwned\x07 | pipe | table |\nsecond line")
MODEL = ENV.get("FAULT_MODEL") or (HOSTILE_MODEL if MODE == "hostile" else "fault-model")
TOKENS = int(ENV.get("FAULT_TOKENS", "8"))
ITL = float(ENV.get("FAULT_ITL_MS", "2")) / 1000
TTFT = float(ENV.get("FAULT_TTFT_MS", "5")) / 1000
OK_FIRST = int(ENV.get("FAULT_OK_FIRST", "0"))
FAIL_FIRST = int(ENV.get("FAULT_FAIL_FIRST", "0"))
DIE_AFTER = int(ENV["FAULT_DIE_AFTER"]) if ENV.get("FAULT_DIE_AFTER") else None
STARTUP = ENV.get("FAULT_STARTUP", "ok")
COMPLETION_PATHS = ("/v1/chat/completions", "/v1/completions")
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}
state = {"requests": 0}


def parse_args(argv: list[str]) -> tuple[str, int]:
    host, port, i = "127.0.0.1", 0, 0
    while i < len(argv):
        arg, val = argv[i], None
        if "=" in arg and arg.startswith("--"):
            arg, val = arg.split("=", 1)
        elif i + 1 < len(argv):
            val = argv[i + 1]
        if arg == "--port" and val is not None:
            port = int(val)
        elif arg == "--host" and val is not None:
            host = val
        i += 1
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return (host if loopback else "127.0.0.1"), port


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Conn:
    def __init__(self, writer: asyncio.StreamWriter, keep_alive: bool):
        self.w, self.keep_alive = writer, keep_alive

    def head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if not self.keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def send(self, status: int, body: bytes, ctype: str | None = "application/json",
                   extra: list[tuple[str, str]] = ()) -> None:
        headers = ([("Content-Type", ctype)] if ctype else []) + list(extra)
        headers.append(("Content-Length", str(len(body))))
        self.w.write(self.head(status, headers) + body)
        await self.w.drain()

    async def send_json(self, status: int, obj, extra=()) -> None:
        await self.send(status, dumps(obj).encode(), extra=extra)

    async def start_stream(self, ctype: str | None = "text/event-stream") -> None:
        headers = [("Content-Type", ctype), ("Cache-Control", "no-cache")] if ctype else []
        self.w.write(self.head(200, headers + [("Transfer-Encoding", "chunked")]))
        await self.w.drain()

    async def chunk(self, data: bytes) -> None:
        self.w.write(chunk(data))
        await self.w.drain()

    async def end_stream(self) -> None:
        self.w.write(b"0\r\n\r\n")
        await self.w.drain()


def error_event_message(mode: str) -> str:
    """The message of an ``{"error": ...}`` event; JSON carries the hostile text's ESC as ``\\u001b``."""
    return HOSTILE_ERROR if mode == "hostile-error" else "injected error event"


def token_events(chat: bool, n: int, prompt_tokens: int, mode: str, rid: str = "cmpl-1") -> list[str]:
    """JSON payloads of a normal stream: n token chunks, then the usage chunk."""
    kind = "chat.completion.chunk" if chat else "text_completion"
    out = []
    for i in range(n):
        text = "tok "
        if mode == "hostile":
            text = HOSTILE_TOKENS[i % len(HOSTILE_TOKENS)] + " "
        elif mode == "huge" and i == 0:
            text = "x" * (4 * 1024 * 1024)
        choice = {"index": 0, **({"delta": {"content": text}} if chat else {"text": text}),
                  "finish_reason": "length" if i == n - 1 else None}
        out.append(dumps({"id": rid, "object": kind, "created": 0, "model": MODEL,
                          "choices": [choice]}))
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": n,
             "total_tokens": prompt_tokens + n}
    out.append(dumps({"id": rid, "object": kind, "created": 0, "model": MODEL,
                      "choices": [], "usage": usage}))
    return out


def second_response(chat: bool) -> bytes:
    """A whole framed response of 3 tokens under another id: what a pipelining or misframing peer appends."""
    body = "".join(f"data: {e}\n\n" for e in token_events(chat, 3, 1, "ok", "cmpl-stray")) + "data: [DONE]\n\n"
    return (f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
            + body).encode()


async def stream_reply(c: Conn, mode: str, events: list[str], chat: bool = True) -> None:
    nl = {"crlf": "\r\n", "bare-cr": "\r"}.get(mode, "\n")
    frames = [f"data: {e}{nl}{nl}" for e in events] + [f"data: [DONE]{nl}{nl}"]
    if mode == "multiline":
        # Break each JSON payload after its commas onto data: lines of their own (they join with newlines).
        frames = ["".join(f"data: {part},\n" for part in e.split(",")[:-1]) + f"data: {e.split(',')[-1]}\n\n"
                  for e in events] + ["data: [DONE]\n\n"]
    elif mode == "bom":
        frames[0] = "\ufeff" + frames[0]
    elif mode in ("torn", "torn-huge"):
        tail = "x" * (10 * 1024 * 1024) if mode == "torn-huge" else ""
        frames[-1] = 'data: {"id":"cmpl-torn","choi' + tail
    if mode == "continue100":
        c.w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await c.w.drain()
        await asyncio.sleep(0.02)
    if mode == "gzip":
        data = gzip.compress("".join(frames).encode())
        c.w.write(c.head(200, [("Content-Type", "text/event-stream"), ("Content-Encoding", "gzip"),
                               ("Content-Length", str(len(data)))]) + data)
        await c.w.drain()
        return
    if mode == "badjson" and len(frames) > 2:
        frames[1] = "data: {not json\n\n"
    elif mode in ("error-event", "hostile-error"):
        err = {"error": {"message": error_event_message(mode), "code": 500}}
        frames = [frames[0], f"data: {dumps(err)}\n\n", "data: [DONE]\n\n"]
    elif mode == "comments":
        frames = [(": keep-alive\n\n" + ("event: message\n" if i % 2 == 0 else "") + f)
                  for i, f in enumerate(frames)]
    await c.start_stream(None if mode == "noheaders" else "text/event-stream")
    await asyncio.sleep(TTFT)
    if mode == "packed":
        await c.chunk("".join(frames).encode())
        await c.end_stream()
        return
    n_tokens = len(events) - 1
    for i, frame in enumerate(frames):
        if i > 0 and i < n_tokens:
            await asyncio.sleep(ITL)
        data = frame.encode()
        if mode == "split":
            pos = k = 0
            while pos < len(data):
                size, k = 1 + k % 3, k + 1
                await c.chunk(data[pos:pos + size])
                pos += size
        else:
            await c.chunk(data)
        if mode == "cut" and i == 1:
            c.w.close()  # no terminating chunk: the reply just ends
            return
        if mode == "stall" and i == 0:
            await asyncio.sleep(3600)
            return
    if mode == "pipelined":
        c.w.write(b"0\r\n\r\n" + second_response(chat))  # one write: the reply's end and a stray reply
        await c.w.drain()
        return
    await c.end_stream()


async def completion(c: Conn, path: str, body: bytes) -> None:
    state["requests"] += 1
    n = state["requests"]
    mode = "ok" if n <= OK_FIRST or (FAIL_FIRST and n > FAIL_FIRST) else MODE
    if DIE_AFTER is not None and n > DIE_AFTER:
        mode = "die"
    if ENV.get("FAULT_LOG"):
        with open(ENV["FAULT_LOG"], "a") as fh:
            fh.write(f"{n} {mode}\n")
            fh.flush()
    try:
        req = json.loads(body or b"{}")
        req = req if isinstance(req, dict) else {}
    except ValueError:
        req = {}
    chat = path == "/v1/chat/completions"
    max_tokens = req.get("max_tokens") or req.get("max_completion_tokens")
    ntok = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else TOKENS
    prompt_tokens = max(1, len(body) // 4)
    if mode == "die":
        await c.start_stream()
        await c.chunk(f"data: {token_events(chat, 1, 1, 'ok')[0]}\n\n".encode())
        await asyncio.sleep(0.05)
        os._exit(1)
    if mode == "hostile-error" and n % 2:
        # The raw bytes, as a proxy or a broken server may send them: no JSON to escape anything.
        return await c.send(500, HOSTILE_ERROR.encode(), "text/plain; charset=utf-8")
    if mode in ("http500", "http429", "http400"):
        code = int(mode[4:])
        extra = [("Retry-After", "1")] if code == 429 else []
        return await c.send_json(code, {"error": {"message": f"injected {code}", "type": "fault"}}, extra)
    if mode == "html":
        page = b"<html><body><h1>Gateway says hi</h1></body></html>"
        return await c.send(200, page, "text/html")
    if mode == "empty":
        return await c.send(200, b"", "text/event-stream")
    if mode == "stall-head":
        await asyncio.sleep(3600)
        return
    if req.get("stream", False):
        return await stream_reply(c, mode, token_events(chat, ntok, prompt_tokens, mode, f"cmpl-{n}"), chat)
    # Non-streamed reply; stream-only faults get a JSON-shaped equivalent.
    if mode in ("error-event", "hostile-error"):
        return await c.send_json(200, {"error": {"message": error_event_message(mode), "code": 500}})
    if mode == "badjson":
        return await c.send(200, b"{not json")
    if mode == "stall":
        c.w.write(c.head(200, [("Content-Type", "application/json"), ("Content-Length", "100")]))
        await c.w.drain()
        await asyncio.sleep(3600)
        return
    if mode == "hostile":
        text = "".join(HOSTILE_TOKENS[i % len(HOSTILE_TOKENS)] + " " for i in range(ntok))
    else:
        text = ("x" * (4 * 1024 * 1024) + " " if mode == "huge" else "") + "tok " * ntok
    choice = {"index": 0, "finish_reason": "length"}
    choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
    reply = {"id": "cmpl-1", "object": "chat.completion" if chat else "text_completion",
             "created": 0, "model": MODEL, "choices": [choice],
             "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": ntok,
                       "total_tokens": prompt_tokens + ntok}}
    data = dumps(reply).encode()
    if mode == "cut":
        c.w.write(c.head(200, [("Content-Type", "application/json"),
                               ("Content-Length", str(len(data)))]) + data[: len(data) // 2])
        await c.w.drain()
        c.w.close()
        return
    await c.send(200, data, None if mode == "noheaders" else "application/json")


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0") or "0")
    return await reader.readexactly(length) if length > 0 else b""


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        if MODE == "nothttp":
            writer.write(b"SSH-2.0-OpenSSH_9.0\r\n")
            await writer.drain()
            try:  # swallow what the client sent so the close is a FIN, not a RST
                await asyncio.wait_for(reader.read(65536), 0.2)
            except asyncio.TimeoutError:
                pass
            return
        while True:
            line = await reader.readline()
            if not line:
                return
            if not line.strip():
                continue  # stray CRLF between requests
            parts = line.decode("latin-1").split()
            if len(parts) != 3:
                await Conn(writer, False).send_json(400, {"error": {"message": "bad request"}})
                return
            method, target, version = parts
            headers: dict[str, str] = {}
            while True:
                h = await reader.readline()
                if not h:
                    return
                if h in (b"\r\n", b"\n"):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await read_body(reader, headers)
            conn_hdr = headers.get("connection", "").lower()
            keep = "close" not in conn_hdr and (version != "HTTP/1.0" or "keep-alive" in conn_hdr)
            c = Conn(writer, keep)
            path = target.split("?", 1)[0]
            if method == "POST" and path in COMPLETION_PATHS:
                await completion(c, path, body)
            elif method == "GET" and path == "/health":
                await c.send_json(503 if STARTUP == "never-ready" else 200, {})
            elif method == "GET" and path == "/v1/models":
                await c.send_json(200, {"object": "list",
                                        "data": [{"id": MODEL, "object": "model"}]})
            elif method == "GET" and path == "/metrics" and ENV.get("FAULT_NO_METRICS") != "1":
                text = ("# HELP fault_requests_total Completion requests received.\n"
                        "# TYPE fault_requests_total counter\n"
                        f"fault_requests_total {state['requests']}\n")
                await c.send(200, text.encode(), "text/plain; version=0.0.4")
            else:
                await c.send_json(404, {"error": {"message": "not found"}})
            if not keep or writer.is_closing():
                return
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        pass  # client went away or sent garbage: drop the connection
    finally:
        writer.close()


CHILD_CODE = """
import os, signal, sys, time
if sys.argv[1] == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
parent, orphaned = os.getppid(), None
for _ in range(3600):  # at most an hour; leave 30 s after being orphaned
    time.sleep(1)
    if os.getppid() != parent:
        orphaned = orphaned or time.monotonic()
        if time.monotonic() - orphaned > 30:
            break
"""


async def main() -> int:
    host, port = parse_args(sys.argv[1:])
    ignore_term = ENV.get("FAULT_IGNORE_TERM") == "1"
    if STARTUP == "exit":
        await asyncio.sleep(0.3)
        print("fault server: injected startup failure (FAULT_STARTUP=exit)", file=sys.stderr)
        return 3
    if ENV.get("FAULT_CHILD") == "1":
        # FAULT_MARK names the child on its command line, so a test can look for it.
        subprocess.Popen([sys.executable, "-c", CHILD_CODE, "1" if ignore_term else "0",
                          ENV.get("FAULT_MARK", "fault-child")])
    if STARTUP == "slow":
        await asyncio.sleep(float(ENV.get("FAULT_STARTUP_S", "2")))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    if not ignore_term:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_server(handle, host, port, limit=1 << 20, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"fault server on {host}:{bound} mode {MODE}", file=sys.stderr, flush=True)
    await stop.wait()
    server.close()
    return 0


if __name__ == "__main__":
    if os.environ.get("FAULT_IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(asyncio.run(main()))
