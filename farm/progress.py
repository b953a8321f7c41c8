"""The one progress display: `farm render`, `farm submit --wait`, `farm fetch` and the demo use it.

On a terminal it redraws one line in place (a bar, done/total, a note, elapsed time); anywhere else (logs, CI,
pipes) it prints a plain line when the note changes, and for counts at most every few seconds, so a log shows
what happened without a line per variant. Standard library only: it works on a plain install of the package.
"""

from __future__ import annotations

import shutil
import sys
import time

BAR_WIDTH = 28
TTY_INTERVAL_S = 0.1  # redraws on a terminal
LOG_INTERVAL_S = 5.0  # lines elsewhere when only the count moved


class Progress:
    def __init__(self, label: str, *, total: int | None = None, unit: str = "", stream=None, quiet=False):
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.note = ""
        self.detail = ""  # after the count (a rate, an ETA): shown, but never a reason to draw on its own
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.quiet = quiet and not self.tty  # `quiet`: no plain lines at all (offline render's logs)
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._last_line: tuple | None = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def update(
        self,
        *,
        done: int | None = None,
        total: int | None = None,
        note: str | None = None,
        unit: str | None = None,
        detail: str | None = None,
    ) -> None:
        if unit is not None and unit != self.unit:
            self.unit, note = unit, self.note if note is None else note
            self._last_line = None  # a new unit is a new line
        if detail is not None:
            self.detail = detail
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        note_changed = note is not None and note != self.note
        if note is not None:
            self.note = note
        self._draw(force=note_changed)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._draw(force=False)

    def close(self) -> None:
        """The final state, always shown; on a terminal the line is kept and the cursor moves past it."""
        self._draw(force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    # ---- drawing ---------------------------------------------------------------------------------------

    def text(self, bar: bool) -> str:
        elapsed = time.monotonic() - self._started
        parts = [f"[{elapsed:6.1f}s]", self.label]
        if self.note:
            parts.append(self.note)
        if self.total:
            if bar:
                filled = round(BAR_WIDTH * min(self.done, self.total) / self.total)
                parts.append("|" + "#" * filled + "-" * (BAR_WIDTH - filled) + "|")
            parts.append(f"{self.done}/{self.total}{' ' + self.unit if self.unit else ''}")
        elif self.done:
            parts.append(f"{self.done}{' ' + self.unit if self.unit else ''}")
        if self.detail:
            parts.append(self.detail)
        return " ".join(parts)

    def _draw(self, force: bool) -> None:
        now = time.monotonic()
        state = (self.note, self.done, self.total)
        if self.quiet or state == self._last_line:
            return
        interval = TTY_INTERVAL_S if self.tty else LOG_INTERVAL_S
        if not force and now - self._drawn_at < interval:
            return
        self._drawn_at, self._last_line = now, state
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r" + self.text(bar=True)[:width] + "\x1b[K")
        else:
            self.stream.write(self.text(bar=False) + "\n")
        self.stream.flush()
