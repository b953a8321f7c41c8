"""Text layout without a font engine: width estimates, wrapping, ellipsis and direction.

SVG has no automatic wrapping, so lines are broken here from an estimate of glyph widths (in em). The
estimate errs wide, so text fits rather than overflows.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

ELLIPSIS = "\u2026"
_ZWJ = "\u200d"


@lru_cache(maxsize=4096)
def _char_em(ch: str) -> float:
    code = ord(ch)
    if unicodedata.combining(ch) or ch == _ZWJ or 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF:
        return 0.0
    if unicodedata.east_asian_width(ch) in ("W", "F") or code >= 0x1F000:
        return 1.0
    if ch == " ":
        return 0.3
    if ch.isupper() or ch in "mwMW@%&":
        return 0.72
    if ch.isdigit():
        return 0.58
    if ch.isalpha():
        return 0.56
    return 0.4


def width_em(text: str) -> float:
    # A character joined by ZWJ to the one before draws inside the same glyph (emoji sequences).
    return sum(_char_em(ch) for i, ch in enumerate(text) if not (i and text[i - 1] == _ZWJ))


def _is_continuation(text: str, i: int) -> bool:
    """True when a break before text[i] would split a user-perceived character (accent, emoji sequence)."""
    ch = text[i]
    code = ord(ch)
    return bool(
        unicodedata.combining(ch)
        or ch == _ZWJ
        or text[i - 1] == _ZWJ
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (subdivision flags)
    )


def truncate(text: str, max_em: float) -> str:
    """`text` if it fits in `max_em`, else the longest prefix (whole characters) that
    fits with an ellipsis."""
    if width_em(text) <= max_em:
        return text
    budget = max_em - width_em(ELLIPSIS)
    used = 0.0
    cut = 0
    space = 0
    for i, ch in enumerate(text):
        if not (i and text[i - 1] == _ZWJ):
            used += _char_em(ch)
        if used > budget:
            break
        if i + 1 == len(text) or not _is_continuation(text, i + 1):
            cut = i + 1
        if ch == " ":
            space = i
    if space > cut * 0.6:  # end on a word boundary unless that wastes much of the line
        cut = space
    return text[:cut].rstrip() + ELLIPSIS


def wrap(text: str, max_em: float, max_lines: int) -> list[str]:
    """Greedy word wrap into at most `max_lines`; the last line ends in an ellipsis when text is left over.
    Words longer than a line (or scripts without spaces) are cut at character boundaries."""
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if width_em(candidate) <= max_em:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        while width_em(word) > max_em and len(lines) < max_lines - 1:
            head = truncate(word, max_em + width_em(ELLIPSIS)).removesuffix(ELLIPSIS) or word[:1]
            lines.append(head)
            word = word[len(head) :]
        current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        # What is left cannot fit on the last line (else greedy wrapping would have put it there).
        lines = lines[: max_lines - 1] + [truncate(" ".join(lines[max_lines - 1 :]), max_em)]
    return [truncate(line, max_em) for line in lines]
    return lines


@lru_cache(maxsize=4096)
def is_rtl(text: str) -> bool:
    """Direction of the first strong character (the Unicode bidi 'P2' rule)."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False
