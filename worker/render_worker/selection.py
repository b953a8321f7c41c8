"""Which flat variant indexes a run (or a rerun attempt) renders: inclusive index ranges such as
"0-99,250,300-310" (docs/contracts.md, "Workflow"). One parser for ValidateInput (the execution input's
`variants`) and the worker (`VARIANT_SELECTION`); no rendering or cloud imports (Lambdas use it).

The canonical text is sorted, with touching ranges merged and single indexes written alone ("0-4,7"); ""
selects nothing."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from render_worker.errors import shown

# The selection travels in the Batch job's environment: SubmitJob takes at most 30 KiB, and 1,000 ranges of
# five-digit indexes are at most 12,000 characters.
MAX_RANGES = 1000
_ITEM = re.compile(r"\s*([0-9]{1,9})\s*(?:-\s*([0-9]{1,9})\s*)?")


class SelectionError(ValueError):
    """A selection that is malformed, reversed, overlapping, too long or out of the spec's range."""


@dataclass(frozen=True)
class Selection:
    ranges: tuple[tuple[int, int], ...]  # inclusive (first, last); sorted, disjoint, never touching
    _ends: tuple[int, ...] = field(init=False, repr=False, compare=False)  # selected count up to each range

    def __post_init__(self) -> None:
        ends, total = [], 0
        for first, last in self.ranges:
            total += last - first + 1
            ends.append(total)
        object.__setattr__(self, "_ends", tuple(ends))

    @classmethod
    def everything(cls, count: int) -> Selection:
        return cls(((0, count - 1),) if count else ())

    @classmethod
    def of(cls, indexes: Iterable[int]) -> Selection:
        """The selection of exactly `indexes` (any order, repeats ignored)."""
        return cls(tuple((r.start, r.stop - 1) for r in runs(sorted(set(indexes)))))

    @classmethod
    def of_ranges(cls, spans: Iterable[tuple[int, int]]) -> Selection:
        """Sorted, disjoint inclusive ranges, touching ones merged."""
        merged: list[tuple[int, int]] = []
        for first, last in spans:
            if merged and first == merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], last)
            else:
                merged.append((first, last))
        return cls(tuple(merged))

    @property
    def count(self) -> int:
        return self._ends[-1] if self._ends else 0

    @property
    def text(self) -> str:
        return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in self.ranges)

    def indexes(self) -> Iterator[int]:
        for first, last in self.ranges:
            yield from range(first, last + 1)

    def part(self, start: int, stop: int) -> Sequence[int]:
        """The selected indexes at positions [start, stop) of the selection (a child's slice): a range when
        they are contiguous, as a whole run's slices always are."""
        stop = min(stop, self.count)
        if start >= stop:
            return range(0)
        first = bisect.bisect_right(self._ends, start)
        last = bisect.bisect_right(self._ends, stop - 1)
        pieces = []
        for i in range(first, last + 1):
            before = self._ends[i - 1] if i else 0
            low, high = self.ranges[i]
            pieces.append(range(low + max(start - before, 0), low + min(stop - before, high - low + 1)))
        if len(pieces) == 1:
            return pieces[0]
        return [index for piece in pieces for index in piece]

    def covering(self, max_ranges: int = MAX_RANGES) -> Selection:
        """A selection of at most `max_ranges` ranges that holds this one, closing the smallest gaps first (a
        rerun may render a few variants again: renders are byte-identical)."""
        if len(self.ranges) <= max_ranges:
            return self
        width = [self.ranges[i][0] - self.ranges[i - 1][1] for i in range(len(self.ranges))]
        gaps = sorted(range(1, len(self.ranges)), key=lambda i: (width[i], i))
        closed = set(gaps[: len(self.ranges) - max_ranges])
        merged: list[tuple[int, int]] = []
        for i, (first, last) in enumerate(self.ranges):
            if i in closed:
                merged[-1] = (merged[-1][0], last)
            else:
                merged.append((first, last))
        return Selection(tuple(merged))


def runs(indexes: Iterable[int]) -> Iterator[range]:
    """Consecutive stretches of sorted `indexes`, as ranges."""
    start = previous = None
    for index in indexes:
        if start is None:
            start = previous = index
        elif index == previous + 1:
            previous = index
        else:
            yield range(start, previous + 1)
            start = previous = index
    if start is not None:
        yield range(start, previous + 1)


def parse(text: object, what: str) -> Selection:
    """Inclusive ranges "a-b" and single indexes "a", comma-separated, in any order; "" selects nothing.
    Raises SelectionError naming `what` for anything else, a reversed range, ranges that overlap, or more than
    MAX_RANGES of them."""
    if not isinstance(text, str):
        raise SelectionError(f'{what} {shown(text)} is not a string of index ranges such as "0-99,250"')
    if not text.strip():
        return Selection(())
    items = text.split(",")
    if len(items) > MAX_RANGES:
        raise SelectionError(f"{what} has {len(items):,} ranges; {_cap()}")
    spans = [_span(item, what) for item in items]
    spans.sort()
    for (_, a_last, a_item), (b_first, _, b_item) in zip(spans, spans[1:], strict=False):
        if b_first <= a_last:
            raise SelectionError(
                f"{what}: {a_item.strip()!r} and {b_item.strip()!r} overlap (both select {b_first})"
            )
    return Selection.of_ranges((first, last) for first, last, _ in spans)


def _span(item: str, what: str) -> tuple[int, int, str]:
    found = _ITEM.fullmatch(item)
    if not found:
        raise SelectionError(
            f"{what}: {item.strip()!r} is not an index or an inclusive range such as 300-310"
            if item.strip()
            else f"{what} has an empty range (two commas, or one at an end)"
        )
    first = int(found.group(1))
    last = int(found.group(2)) if found.group(2) is not None else first
    if last < first:
        raise SelectionError(f"{what}: {item.strip()!r} is reversed ({first} > {last}); write {last}-{first}")
    return first, last, item


def check_size(selection: Selection, what: str) -> Selection:
    """SelectionError when the selection has more than MAX_RANGES ranges (a list of scattered SKUs can)."""
    if len(selection.ranges) > MAX_RANGES:
        raise SelectionError(f"{what} makes {len(selection.ranges):,} ranges of flat indexes; {_cap()}")
    return selection


def check_within(selection: Selection, variant_count: int, what: str) -> Selection:
    """SelectionError when the selection reaches past the spec's last flat index."""
    if selection.ranges and selection.ranges[-1][1] >= variant_count:
        first, last = selection.ranges[-1]
        beyond = f"{first}-{last}" if first != last else str(first)
        raise SelectionError(
            f"{what}: {beyond!r} is out of range: the spec has {variant_count} variants (flat indexes "
            f"0-{variant_count - 1})"
        )
    return selection


def _cap() -> str:
    return (
        f"at most {MAX_RANGES:,} are allowed (the selection travels in the Batch job's environment, within "
        "SubmitJob's 30 KiB): select fewer, wider ranges"
    )
