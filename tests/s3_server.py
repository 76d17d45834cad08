"""A moto S3 server the tests can stop and start again without losing its buckets.

Run as ``python tests/s3_server.py PORT``. It serves on 127.0.0.1:PORT, prints ``ready``, then obeys lines on
stdin: ``stop`` (close the port: clients get "connection refused", as when a server goes down) and ``start``
(serve again on the same port). The buckets live in this process's memory, so they survive a stop, which a
restarted ``moto.server`` process would not. ``quit`` or end of input exits.
"""

import sys

from moto.server import ThreadedMotoServer


def main() -> None:
    port = int(sys.argv[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "stop":
            server.stop()
            print("stopped", flush=True)
        elif command == "start":
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            print("started", flush=True)
        elif command == "quit":
            break
    server.stop()


if __name__ == "__main__":
    main()
