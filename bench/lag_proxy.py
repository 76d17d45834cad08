"""A TCP proxy that holds each response's first bytes for a fixed delay: one round trip of latency per request,
as a storage service across a network adds it, in front of the local S3 test server.

    python bench/lag_proxy.py LISTEN_PORT TARGET_PORT DELAY_S     # prints "ready" once it listens
"""

from __future__ import annotations

import asyncio
import sys


async def _relay(client_reader, client_writer, target_port: int, delay_s: float) -> None:
    server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
    awaiting_response = False

    async def upstream() -> None:
        nonlocal awaiting_response
        try:
            while data := await client_reader.read(1 << 16):
                awaiting_response = True
                server_writer.write(data)
                await server_writer.drain()
        finally:
            server_writer.close()

    async def downstream() -> None:
        nonlocal awaiting_response
        try:
            while data := await server_reader.read(1 << 16):
                if awaiting_response:  # the first bytes of a response: the round trip
                    awaiting_response = False
                    await asyncio.sleep(delay_s)
                client_writer.write(data)
                await client_writer.drain()
        finally:
            client_writer.close()

    await asyncio.gather(upstream(), downstream(), return_exceptions=True)


async def serve(listen_port: int, target_port: int, delay_s: float) -> None:
    server = await asyncio.start_server(lambda r, w: _relay(r, w, target_port, delay_s), "127.0.0.1", listen_port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
