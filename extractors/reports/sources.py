"""Reading report bytes: bytes, paths or binary streams, gzip, streamed XML, whole JSON.

Every parser takes a `Source` (bytes, a path as `str`/`PathLike`, or an open binary
stream) and reads it through `open_source`, so a 200 MB report on disk is never loaded
whole unless its format forces it (JSON).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import xml.etree.ElementTree as ET
from contextlib import ExitStack, contextmanager
from typing import Any, BinaryIO, Iterator, Union

from extractors.reports.errors import InvalidReport

Source = Union[bytes, bytearray, str, "os.PathLike[str]", BinaryIO]
XmlEvent = tuple[str, ET.Element, tuple[str, ...]]

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK_BYTES = 1 << 16
# Entity declarations can only sit in the DOCTYPE's internal subset, before the root element.
_MAX_PROLOGUE_BYTES = 1 << 20
_ENTITY_DECLARATIONS = tuple("<!ENTITY".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))


@contextmanager
def open_source(source: Source) -> Iterator[BinaryIO]:
    """A readable binary stream with `peek`, transparently gunzipped when the bytes are gzip.

    Streams passed in are not closed here (their owner closes them); files we open are.
    """
    with ExitStack() as stack:
        if isinstance(source, (bytes, bytearray)):
            stream: Any = io.BufferedReader(io.BytesIO(source))
        elif isinstance(source, (str, os.PathLike)):
            stream = stack.enter_context(open(source, "rb"))
        else:
            stream = source if hasattr(source, "peek") else io.BufferedReader(source)
        if stream.peek(len(GZIP_MAGIC))[:len(GZIP_MAGIC)] == GZIP_MAGIC:
            stream = stack.enter_context(gzip.GzipFile(fileobj=stream, mode="rb"))
        yield stream


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag[:1] == "{" else tag


def _parsed_events(parser: ET.XMLPullParser, chunk: bytes) -> Iterator[tuple[str, ET.Element]]:
    """Feed a chunk (an empty one closes the parser) and yield the events it completes."""
    try:
        if chunk:
            parser.feed(chunk)
        else:
            parser.close()
        yield from parser.read_events()  # a syntax error found by feed() is raised from here
    except ET.ParseError as error:
        raise InvalidReport(f"malformed or truncated XML: {error}") from None


def xml_events(stream: BinaryIO, end_tags: frozenset[str] = frozenset()) -> Iterator[XmlEvent]:
    """("start", element, path) for every element, ("end", element, path) for `end_tags` only.

    `path` is the tuple of local tag names from the root. Attributes are complete at
    "start"; an element is cleared and dropped from its parent right after its end, so
    memory stays flat however long the document is (ends not asked for are not yielded:
    a parser needs only a few, and a 200k-line report has 400k events). This is
    `ElementTree.iterparse` done by hand: feeding `XMLPullParser` ourselves lets us refuse
    entity declarations (billion laughs) in the prologue before expat expands them, since
    defusedxml is not available. DOCTYPEs without entities (JaCoCo, Cobertura) are fine:
    expat never fetches external DTDs.
    """
    parser = ET.XMLPullParser(events=("start", "end"))
    paths: list[tuple[str, ...]] = [()]
    # Path tuples are shared between siblings with the same tag (200k <line>s, one tuple).
    child_paths: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}
    open_elements: list[ET.Element] = []
    prologue = b""
    root_started = False
    while True:
        chunk = stream.read(_CHUNK_BYTES)
        if not root_started:
            prologue += chunk
            if any(marker in prologue for marker in _ENTITY_DECLARATIONS):
                raise InvalidReport("XML declares entities (<!ENTITY ...>), which reports never need; refused")
            if len(prologue) > _MAX_PROLOGUE_BYTES:
                raise InvalidReport(f"XML has no root element in its first {_MAX_PROLOGUE_BYTES} bytes")
        for event, element in _parsed_events(parser, chunk):
            if event == "start":
                root_started = True
                siblings = child_paths.setdefault(paths[-1], {})
                path = siblings.get(element.tag)
                if path is None:
                    path = siblings[element.tag] = paths[-1] + (local_name(element.tag),)
                paths.append(path)
                open_elements.append(element)
                yield event, element, path
            else:
                path = paths.pop()
                if path[-1] in end_tags:
                    yield event, element, path
                open_elements.pop()
                element.clear()
                if open_elements:
                    open_elements[-1].remove(element)
        if not chunk:
            return


def load_json(stream: BinaryIO) -> Any:
    """The whole JSON document (callers say why their format cannot be streamed)."""
    data = stream.read()
    if not data.strip():
        raise InvalidReport("empty file")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidReport(f"malformed or truncated JSON: {error}") from None
    except RecursionError:
        raise InvalidReport("JSON nested too deeply") from None


def count(value: Any, what: str) -> int:
    """A non-negative whole number as tools write it: 12, "12" or "12.0" (Swift's Cobertura writer)."""
    if isinstance(value, str) and value.isdigit():  # the common case, kept fast for 200k-line reports
        return int(value)
    if isinstance(value, bool):
        raise InvalidReport(f"{what} is not a number: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidReport(f"{what} is not a number: {value!r}") from None
    if not number.is_integer():
        raise InvalidReport(f"{what} is not a whole number: {value!r}")
    if number < 0:
        raise InvalidReport(f"{what} is negative: {value!r}")
    return int(number)
