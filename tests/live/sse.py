"""Reading Server-Sent Events in tests: an independent parser of the wire format (the
WHATWG rules a browser applies), for a stream served by the test client or a server."""

import asyncio
import http.client
from dataclasses import dataclass, field
from urllib.parse import urlsplit

WAIT = 30.0  # seconds: the bound on every wait for a message


@dataclass
class Block:
    """One block of the stream (up to a blank line): an event, or comments/retry only."""

    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: str | None = None

    @property
    def is_event(self) -> bool:
        return bool(self.data)


def parse(text: str) -> tuple[list[Block], str]:
    """The complete blocks in ``text`` and what is left of it (an incomplete block)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    *complete, rest = text.split("\n\n")
    blocks = []
    for raw in complete:
        block = Block()
        for line in raw.split("\n"):
            if line.startswith(":"):
                block.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                block.data.append(value)
            elif name in ("id", "event", "retry"):
                setattr(block, name, value)
        blocks.append(block)
    return blocks, rest


class Reader:
    """Blocks from an async iterator of byte chunks (a streaming response's content)."""

    def __init__(self, chunks) -> None:
        self._chunks = chunks.__aiter__()
        self._rest = ""
        self._ready: list[Block] = []

    async def block(self) -> Block:
        while not self._ready:
            chunk = await asyncio.wait_for(self._chunks.__anext__(), WAIT)
            blocks, self._rest = parse(self._rest + chunk.decode())
            self._ready.extend(blocks)
        return self._ready.pop(0)

    async def events(self, count: int) -> list[Block]:
        """The next ``count`` events (comment-only blocks skipped)."""
        found = []
        while len(found) < count:
            block = await self.block()
            if block.is_event:
                found.append(block)
        return found

    async def until_comment(self, prefix: str) -> list[Block]:
        """Blocks up to and including the first comment starting with ``prefix``."""
        seen = []
        while True:
            block = await self.block()
            seen.append(block)
            if any(c.startswith(prefix) for c in block.comments):
                return seen


class HttpStream:
    """A stream read over real HTTP (``http.client``, reading each chunk as it comes)."""

    def __init__(self, base_url: str, path: str, headers: dict | None = None) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT)
        self.connection.request("GET", path, headers=headers or {})
        self.response = self.connection.getresponse()
        self._rest = ""
        self._ready: list[Block] = []

    @property
    def status(self) -> int:
        return self.response.status

    def block(self) -> Block:
        while not self._ready:
            chunk = self.response.read1(65536)
            if not chunk:
                raise EOFError("the stream ended")
            blocks, self._rest = parse(self._rest + chunk.decode())
            self._ready.extend(blocks)
        return self._ready.pop(0)

    def events(self, count: int) -> list[Block]:
        found = []
        while len(found) < count:
            block = self.block()
            if block.is_event:
                found.append(block)
        return found

    def close(self) -> None:
        self.connection.close()
