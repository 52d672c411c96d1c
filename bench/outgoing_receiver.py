"""A healthy webhook receiver for bench/outgoing.py, in a process of its own (a customer's
server runs elsewhere):

    python bench/outgoing_receiver.py PORT RECORD

HTTP/1.1 with keep-alive on asyncio: answers 200 at once, in one write as a web server does,
and records (event id, arrival time, body). A request whose body did not arrive whole is not
recorded (its sender saw a failure and tries again). The arrivals are written to RECORD, a
JSON line each, when it is told to stop (SIGTERM).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path


def receive(port: int, record: Path) -> None:
    arrivals: list[tuple[str, float, str]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrivals.append((headers.get("x-helpdesk-event-id", ""), time.time(), body.decode()))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
        async with server:
            await stop.wait()
        with record.open("w", encoding="utf-8") as out:
            for arrival in arrivals:
                out.write(json.dumps(arrival) + "\n")

    asyncio.run(main())


if __name__ == "__main__":
    receive(int(sys.argv[1]), Path(sys.argv[2]))
