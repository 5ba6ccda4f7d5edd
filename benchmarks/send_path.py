"""What sending one request costs the load client: the bare ``send`` against glmbench's whole send path.

    python benchmarks/send_path.py                 # 512 requests, 3 rounds
    python benchmarks/send_path.py --requests 2048

A server on the last core accepts connections and only reads (so nothing comes
back to the client); the client, on the others, opens the connections first as a
run does, then per round (each a fresh set of connections): the bare
``socket.send`` of a framed request on each, then ``StreamClient.start`` for each
(record, decoder, a pooled connection, the send, its watcher and timer), then the
records and the futures alone. Per request, in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import threading
from time import perf_counter_ns

from glmbench.datasets.base import Sample
from glmbench.load.client import StreamClient, Target
from glmbench.load.workload import RequestSpec
from glmbench.results.records import RequestRecord
from glmbench.util.loop import run_async


def _reading_server(core: int | None) -> tuple[socket.socket, list[socket.socket]]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    held: list[socket.socket] = []

    def accept() -> None:
        if core is not None:
            os.sched_setaffinity(0, {core})
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)  # the kernel's buffers take what the client sends; nothing is answered

    threading.Thread(target=accept, daemon=True).start()
    return listener, held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    server_core = cores[-1] if len(cores) > 1 else None
    if server_core is not None:
        os.sched_setaffinity(0, set(cores[:-1]))
    listener, held = _reading_server(server_core)
    n = args.requests

    def per_request(t0: int) -> float:
        return (perf_counter_ns() - t0) / n / 1e3

    async def rounds() -> None:
        target = Target(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", "m")
        async with StreamClient(target, RequestSpec()) as client:
            pool = client._pool
            assert pool is not None, "the wire client (an http:// target)"
            request = client.prepare(client.body(Sample("benchmark prompt " * 16, 48, 16)))
            print(f"{n} requests of {len(request)} bytes a round; client on cores {sorted(os.sched_getaffinity(0))}, "
                  f"server on core {server_core}; microseconds per request\n")
            print("| round | bare send | StreamClient.start | record | future |")
            print("|---|---|---|---|---|")
            for number in range(1, args.rounds + 1):
                await pool.open(n)
                await asyncio.sleep(0.2)
                socks = [pool.take() for _ in range(n)]
                t0 = perf_counter_ns()
                for sock in socks:
                    assert sock is not None
                    sock.send(request)
                bare = per_request(t0)
                for sock in socks:
                    if sock is not None:
                        pool.discard(sock)
                await pool.open(n)
                await asyncio.sleep(0.2)
                records = [RequestRecord(workload="w", index=i, prompt_tokens=48, max_tokens=16, due_ns=0)
                           for i in range(n)]
                t0 = perf_counter_ns()
                pending = [client.start(record, request) for record in records]
                start = per_request(t0)
                t0 = perf_counter_ns()
                _ = [RequestRecord(workload="w", index=i, prompt_tokens=48, max_tokens=16, due_ns=0) for i in range(n)]
                record = per_request(t0)
                loop = asyncio.get_running_loop()
                t0 = perf_counter_ns()
                _ = [loop.create_future() for _ in range(n)]
                future = per_request(t0)
                print(f"| {number} | {bare:.1f} | {start:.1f} | {record:.1f} | {future:.1f} |", flush=True)
                for each in pending:
                    if isinstance(each, asyncio.Future):
                        each.cancel()
                await asyncio.sleep(0.05)

    try:
        run_async(rounds())
    finally:
        listener.close()
        for conn in held:
            conn.close()


if __name__ == "__main__":
    main()
