"""What parsing a spec would cost, read from its bytes before parsing it.

json.loads builds 50-200 bytes of Python objects per JSON value: 64 MB of `{},{},...` become 1.7 GB, far past
ValidateInput's 512 MB, before any check could count them. These counts run at C speed over the bytes, in
bounded memory, so render_worker.spec can refuse such a document without building it.
"""

from __future__ import annotations

import re

_CHUNK = 1 << 20
_OPENERS = (b",", b":", b"[", b"{")  # each JSON value or key but the first follows one of these
_CONTINUATION = bytes(range(0x80, 0xC0))  # UTF-8 bytes that do not start a character
# Lead bytes of characters past U+FFFF (4 bytes each in a str, and so every character) and past U+00FF (2).
_WIDER = ((re.compile(rb"[\xf0-\xff]"), 4), (re.compile(rb"[\xc4-\xef]"), 2))


def json_items(data: bytes, stop_after: int) -> int:
    """At most how many values and keys json.loads builds from `data` (one more per empty array or object);
    counting stops once past `stop_after`."""
    # With escaped backslashes and quotes gone, each '"' left opens or closes a string.
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    count, in_string = 1, False
    for start in range(0, len(plain), _CHUNK):
        pieces = plain[start : start + _CHUNK].split(b'"')  # alternately outside and inside strings
        outside = b"".join(pieces[in_string::2])
        count += sum(map(outside.count, _OPENERS))
        in_string ^= len(pieces) % 2 == 0  # an odd number of quotes in the chunk
        if count > stop_after:
            break
    return count


def decoded_size(data: bytes) -> int:
    """Bytes of UTF-8 `data` decoded to a str. CPython stores 1, 2 or 4 bytes per character, by the widest
    (PEP 393): 16 MB of ASCII with one emoji decode to 64 MB."""
    if data.isascii():
        return len(data)
    characters = len(data.translate(None, _CONTINUATION))
    return characters * next((width for lead, width in _WIDER if lead.search(data)), 1)
