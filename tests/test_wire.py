"""The load client's plain-socket HTTP path (glmbench.load.wire) and the automatic client process count.

Against the simulator (a real ``glmbench sim`` process) and small asyncio
servers written here: connection reuse, kernel receive stamps, keep-alive
connections the server closed, close-delimited bodies, and the aiohttp path
kept beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import pytest

from glmbench.datasets.base import Sample
from glmbench.load import wire
from glmbench.load.client import StreamClient, Target
from glmbench.load.runner import run_workload
from glmbench.load.workers import CHUNKS_PER_WORKER, auto_workers, expected_streams
from glmbench.load.workload import RequestSpec, Workload
from glmbench.results.records import RecordWriter, RequestRecord, read_records
from glmbench.sim.truth import compare_with_truth, read_truth
from glmbench.util.loop import run_async

from .conftest import run_load

_EVENTS = (b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n'
           b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"stop"}]}\n\n'
           b"data: [DONE]\n\n")


def _count_connects(monkeypatch) -> list[int]:
    opened = [0]
    connect = wire.ConnectionPool.connect

    async def counting(self):
        opened[0] += 1
        return await connect(self)

    monkeypatch.setattr(wire.ConnectionPool, "connect", counting)
    return opened


@pytest.mark.e2e
def test_streams_reuse_the_connections_opened_before_the_clock(start_sim, tmp_path, monkeypatch):
    opened = _count_connects(monkeypatch)
    sim = start_sim("--ttft-ms", "5", "--itl-ms", "1")
    _, records = run_load(sim.url, tmp_path, Workload(title="t", max_concurrency=4), [Sample("hi", 1, 8)] * 40)
    assert all(r.ok for r in records), [r.error for r in records]
    assert opened[0] == 4  # the cap's connections, opened once, carried all 40 requests


@pytest.mark.e2e
def test_chunks_carry_kernel_receive_stamps_and_the_clients_delay(start_sim, tmp_path):
    if not wire.kernel_stamps():
        pytest.skip("this platform gives no SO_TIMESTAMPNS receive stamps on loopback TCP")
    sim = start_sim("--ttft-ms", "20", "--itl-ms", "5")
    _, records = run_load(sim.url, tmp_path, Workload(title="t", max_concurrency=8), [Sample("hi", 1, 16)] * 16)
    assert all(r.ok and r.stamps == "kernel" for r in records)
    for r in records:
        assert len(r.chunk_delay_ns) == len(r.chunk_ns) and all(d >= 0 for d in r.chunk_delay_ns)
    truth = compare_with_truth(records, read_truth(sim.truth))
    assert truth["matched"] == 16
    # A kernel stamp is taken as the data reaches the socket, during the simulator's own write:
    # within a fraction of a millisecond of its stamp, on either side.
    assert abs(truth["first_delivery_mean"]) < 0.5 and abs(truth["delivery_mean"]) < 0.5


@pytest.mark.e2e
def test_the_aiohttp_path_stays_available_with_user_space_stamps(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "5", "--itl-ms", "1")
    _, records = run_load(sim.url, tmp_path, Workload(title="t", max_concurrency=2), [Sample("hi", 1, 8)] * 4,
                          spec=RequestSpec(http_client="aiohttp"))
    assert all(r.ok and r.stamps == "user" and not r.chunk_delay_ns and len(r.chunk_ns) == 8 for r in records)


async def _serve(handler) -> tuple[asyncio.AbstractServer, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _read_request(reader: asyncio.StreamReader) -> bool:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    await reader.readexactly(length)
    return True


def _records_against(handler, tmp_path, n: int) -> list:
    """``n`` requests, one at a time, to a server running ``handler``; their records."""
    async def main():
        server, port = await _serve(handler)
        async with server, StreamClient(Target(f"http://127.0.0.1:{port}/v1", "m"),
                                        RequestSpec(timeout_s=10)) as client:
            with RecordWriter(tmp_path / "r.jsonl") as writer:
                await run_workload(client, "w", Workload(title="t", max_concurrency=1), [Sample("hi", 1, 2)] * n,
                                   0, writer)

    run_async(main())
    return list(read_records(tmp_path / "r.jsonl"))


def test_a_keep_alive_connection_the_server_closed_is_replaced(tmp_path, monkeypatch):
    """A server that closes each connection after one reply although it said keep-alive (an expired idle timer)."""
    opened = _count_connects(monkeypatch)

    async def handler(reader, writer):
        try:
            await _read_request(reader)
        except (asyncio.IncompleteReadError, StopIteration):
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n%b"
                     % (len(_EVENTS), _EVENTS))
        await writer.drain()
        writer.close()

    records = _records_against(handler, tmp_path, 6)
    assert len(records) == 6 and all(r.ok and len(r.chunk_ns) == 2 for r in records), [r.error for r in records]
    assert opened[0] >= 6


def test_a_body_ended_by_the_connection_closing_is_a_whole_stream(tmp_path):
    """HTTP/1.1 without length or chunking: the body runs to the close, which is its proper end."""
    async def handler(reader, writer):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        for event in _EVENTS.split(b"\n\n")[:-1]:
            writer.write(event + b"\n\n")
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.close()

    records = _records_against(handler, tmp_path, 3)
    assert all(r.ok and len(r.chunk_ns) == 2 for r in records), [r.error for r in records]
    gaps = [r.chunk_ns[1] - r.chunk_ns[0] for r in records]
    assert all(gap > 5_000_000 for gap in gaps)  # each event stamped as it came, not at the close


def test_client_processes_are_chosen_from_the_expected_chunk_rate():
    tokens = [Sample("x", 1, 256)] * 4000
    one_core_load = int(CHUNKS_PER_WORKER / 100)  # streams one process carries at 100 chunks/s each
    assert auto_workers(Workload(title="t", max_concurrency=one_core_load), tokens, free_cores=8) == (1, None)
    workers, why = auto_workers(Workload(title="t", max_concurrency=2048), tokens, free_cores=8)
    assert workers == 4 and "2048 streams" in why and "--client-workers" in why
    workers, why = auto_workers(Workload(title="t"), tokens, free_cores=2)  # a burst of 4000: every core free
    assert workers == 2
    workers, why = auto_workers(Workload(title="t", max_concurrency=2048), tokens, free_cores=1)
    assert workers == 1 and "no other core is free" in why
    # An open loop holds rate x decode time streams: 10 req/s of 256 tokens at 100 tok/s is about 26.
    assert expected_streams(Workload(title="t", request_rate=10), tokens) == pytest.approx(25.6)
    assert auto_workers(Workload(title="t", request_rate=10), tokens, free_cores=8) == (1, None)


@pytest.mark.e2e
def test_run_says_how_many_client_processes_it_chose(tmp_path, fast_sim_config):
    import json
    import subprocess
    import sys

    results = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "glmbench", "run", "--backend", "sim", "--sim-config",
                           str(fast_sim_config), "--workload", "burst", "--num-prompts", "700", "--dataset", "random",
                           "--input-len", "4", "--output-len", "2", "--results-dir", str(results)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    [note] = [line for line in proc.stderr.splitlines() if line.startswith("note: burst:")]
    assert "700 streams" in note
    [summary] = results.glob("*/summary.json")
    row = json.loads(summary.read_text())["rows"][0]
    assert row["completed"] == 700
    assert row["client_workers"] == (2 if "2 client processes" in note else 1)


def test_connections_opened_ahead_follow_what_can_be_in_flight():
    from glmbench.load.sender import connections_needed

    assert connections_needed(2000, 512) == 512  # a closed loop: its cap
    assert connections_needed(2000, None) == 1024  # a burst: every request, within reason
    assert connections_needed(150, None, 5.0) == 50  # an open loop: its first 10 s of arrivals
    assert connections_needed(150, None, 0.1) == 8
    assert connections_needed(3, None, 100.0) == 3


def _idle_server(behaviour):
    """An asyncio server on 127.0.0.1 that hands each accepted connection, by order, to ``behaviour(n, writer)``."""
    accepted: list[asyncio.StreamWriter] = []

    async def handle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await behaviour(len(accepted), writer)

    return asyncio.start_server(handle, "127.0.0.1", 0), accepted


@pytest.mark.parametrize("stamps", [True, False], ids=["no-peek", "peek"])
def test_an_idle_connection_that_speaks_or_closes_leaves_the_pool(stamps):
    """Each pooled connection is watched while idle: closed by the server, or sent bytes nobody asked for, it is
    closed and never handed to a request (with or without the peek at take)."""

    async def behaviour(n: int, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        if n == 1:
            writer.close()
        elif n == 2:
            writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")

    async def main():
        starting, _accepted = _idle_server(behaviour)
        server = await starting
        pool = wire.ConnectionPool("127.0.0.1", server.sockets[0].getsockname()[1], stamps=stamps)
        await pool.open(3)
        await asyncio.sleep(0.3)
        left = [pool.take() for _ in range(3)]
        pool.close()
        server.close()
        return left

    left = run_async(main())
    assert sum(s is not None for s in left) == 1  # the third: it said nothing


def test_bytes_a_reused_connection_held_before_the_request_are_nobodys_reply(tmp_path):
    """With kernel stamps the pool does not peek: a reply stamped before its request left (bytes the idle
    connection's watcher had not yet been called for) fails that request by name instead of being read as its."""
    if not wire.kernel_stamps():
        pytest.skip("this platform gives no SO_TIMESTAMPNS receive stamps on loopback TCP")
    import socket
    import threading
    import time

    from glmbench.load.sse import StreamDecoder
    from glmbench.results.records import RequestRecord

    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    opened = threading.Event()

    def serve() -> None:  # in its own thread: it speaks while the client's loop is blocked
        conn, _ = listener.accept()
        held.append(conn)
        opened.wait(10)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n%b"
                     % (len(_EVENTS), _EVENTS))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def main():
        pool = wire.ConnectionPool("127.0.0.1", listener.getsockname()[1], stamps=True)
        await pool.open(1)
        opened.set()
        time.sleep(0.2)  # the stray reply arrives while the loop cannot run the watcher
        record = RequestRecord(workload="w", index=0, prompt_tokens=1, max_tokens=2, due_ns=0)
        req = wire.begin(pool, b"POST /v1/completions HTTP/1.1\r\nContent-Length: 0\r\n\r\n", record,
                         StreamDecoder(record, "completions"), 5.0, None)
        assert req is not None
        await req.future
        pool.close()
        return req, record

    try:
        req, record = run_async(main())
    finally:
        thread.join(5)
        for sock in (*held, listener):
            sock.close()
    assert req.failure and "bytes from before the request was sent" in req.failure
    assert not record.chunk_ns


@pytest.mark.e2e
def test_a_run_cancelled_mid_stream_keeps_every_request_it_sent(start_sim, tmp_path):
    """Requests sent from a read callback are futures, not tasks: cancelling the run still ends each one on the
    wire, records it as interrupted with the chunks it had, and leaves no connection watched."""
    sim = start_sim("--ttft-ms", "5", "--itl-ms", "20")
    path = tmp_path / "records.jsonl"
    pools = []

    async def main():
        async with StreamClient(Target(sim.url, "glm-4.7-flash-sim"), RequestSpec()) as client:
            pools.append(client._pool)
            with RecordWriter(path) as writer:
                task = asyncio.ensure_future(run_workload(
                    client, "w", Workload(title="t", max_concurrency=4), [Sample("hi", 1, 4)] * 8
                    + [Sample("hi", 1, 500)] * 8, 0, writer))
                await asyncio.sleep(1.0)  # the 4-token requests are done; four long ones are streaming
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            return sum(owner is not None for owner in client._pool._owner.values())

    busy = run_async(main())
    records = list(read_records(path))
    assert busy == 0 and not pools[0]._owner  # nothing left reading, and closing the client closed everything
    short, long = [r for r in records if r.max_tokens == 4], [r for r in records if r.max_tokens == 500]
    assert len(short) == 8 and all(r.ok for r in short)
    assert len(long) == 4 and all(not r.ok and r.error == "interrupted before the stream ended" and r.chunk_ns
                                  for r in long), [(r.ok, r.error, len(r.chunk_ns)) for r in long]


def test_an_error_event_ends_the_request_when_decoded_without_waiting_for_the_stream(tmp_path):
    """Reads only parse the framing and events are decoded a moment later: an error event found then still ends
    the request at once (the server then says nothing for seconds), and nothing after it is read into it."""
    async def handler(reader, writer):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for event in (_EVENTS.split(b"\n\n")[0] + b"\n\n", b'data: {"error": {"message": "overloaded"}}\n\n'):
            writer.write(b"%x\r\n%b\r\n" % (len(event), event))
            await writer.drain()
            await asyncio.sleep(0.01)
        await asyncio.sleep(5)  # says nothing more for seconds: only the decode can end the request
        with contextlib.suppress(ConnectionError):
            writer.write(b"%x\r\n%b\r\n" % (len(_EVENTS), _EVENTS))
            await writer.drain()
        writer.close()

    records = _records_against(handler, tmp_path, 1)
    (record,) = records
    assert record.error and "server error in stream: overloaded" in record.error
    assert len(record.chunk_ns) == 1  # the event before the error, none of those after
    assert (record.end_ns - record.send_ns) / 1e9 < 3  # not the 5 s the stream would have run


def test_work_left_for_later_runs_after_the_reads_and_one_fault_strands_no_other():
    """ConnectionPool.later: after the I/O polled in the same loop turn; a failing item is reported, the rest run."""
    async def main():
        loop = asyncio.get_running_loop()
        pool = wire.ConnectionPool("127.0.0.1", 1, stamps=False)
        ran: list[str] = []
        reported: list[BaseException] = []
        loop.set_exception_handler(lambda _loop, context: reported.append(context["exception"]))
        left, right = socket.socketpair()
        loop.add_reader(left.fileno(), lambda: ran.append("read"))
        right.send(b"x")  # readable before the turn that runs the later work polls

        def fails() -> None:
            raise RuntimeError("one reply's fault")

        pool.later(lambda: ran.append("first"))
        pool.later(fails)
        pool.later(lambda: ran.append("last"))
        await asyncio.sleep(0.05)
        loop.remove_reader(left.fileno())
        left.close()
        right.close()
        return ran, reported

    ran, reported = run_async(main())
    assert ran[0] == "read" and ran.count("first") == 1 and ran.count("last") == 1
    assert ran.index("first") < ran.index("last")
    assert len(reported) == 1 and str(reported[0]) == "one reply's fault"


@pytest.mark.e2e
def test_a_wave_sends_first_and_reads_replies_that_came_before_their_readers(start_sim, tmp_path):
    """StreamClient.wave(): the requests' bytes leave back to back and their readers are built as the block ends.
    Replies that arrived meanwhile (the block held the loop for 300 ms, the simulator answers in 5) are read whole
    and, with kernel stamps, timed when they came, not when they were read (against the simulator's truth)."""
    sim = start_sim("--ttft-ms", "5", "--itl-ms", "1")

    async def main():
        async with StreamClient(Target(sim.url, "sim"), RequestSpec(timeout_s=10)) as client:
            await client.warm_up(8)
            records = [RequestRecord(workload="w", index=i, prompt_tokens=1, max_tokens=4, due_ns=0)
                       for i in range(8)]
            request = client.prepare(client.body(Sample("hi", 1, 4)))
            with client.wave():
                pending = [client.start(record, request) for record in records]
                sent = [record.wire_ns for record in records]
                time.sleep(0.3)  # the replies come now, before anything could read them
                held_until = time.perf_counter_ns()
            await asyncio.gather(*pending)
            return records, sent, held_until

    records, sent, held_until = run_async(main())
    assert all(r.ok and len(r.chunk_ns) == 4 for r in records), [r.error for r in records]
    assert all(s > 0 for s in sent)  # on the wire before start() returned
    if wire.kernel_stamps():
        assert all(r.chunk_ns[-1] < held_until for r in records)  # stamped on arrival, not at the late read
        truth = compare_with_truth(records, read_truth(sim.truth))
        assert truth["matched"] == 8 and abs(truth["first_delivery_mean"]) < 5
