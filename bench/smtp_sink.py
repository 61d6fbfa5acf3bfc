"""The SMTP server the app sends its emails to, and the bench's reader of what it got.

The sink is a process of its own (``python -m bench.smtp_sink --port P --out FILE``):
aiosmtpd accepting every message and appending its Message-ID, one line per
accepted message, to FILE. A line in the file is an email the app handed to an SMTP
server, which is what "email sent" means to a customer; ``MailLog`` counts the lines
and reads the IDs back for the end-of-run audit.
"""

import argparse
import asyncio
import signal
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path

from aiosmtpd.smtp import SMTP

READY_LINE = "smtp sink: listening"


class MessageIdLog:
    """aiosmtpd handler: accept every message, record its Message-ID."""

    def __init__(self, out: Path) -> None:
        self._out = out.open("a", encoding="utf-8")
        self._parser = BytesHeaderParser()

    async def handle_DATA(self, server, session, envelope):
        message_id = self._parser.parsebytes(envelope.content).get("Message-ID", "<none>")
        self._out.write(f"{message_id.strip()}\n")
        self._out.flush()  # the bench reads the file while the run goes on
        return "250 Message accepted for delivery"

    def close(self) -> None:
        self._out.close()


async def serve(port: int, out: Path) -> None:
    handler = MessageIdLog(out)
    loop = asyncio.get_running_loop()
    # A fixed hostname: without one aiosmtpd looks up this machine's FQDN on every connection.
    server = await loop.create_server(lambda: SMTP(handler, hostname="bench-sink"), "127.0.0.1", port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(READY_LINE, flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        handler.close()


class MailLog:
    """The sink's file, read from the bench process."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def count(self) -> int:
        """Emails accepted so far."""
        if not self.path.exists():
            return 0
        with self.path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 16), b""))

    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID was accepted."""
        if not self.path.exists():
            return Counter()
        return Counter(self.path.read_text(encoding="utf-8").splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.out))


if __name__ == "__main__":
    main()
