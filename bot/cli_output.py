"""How the CLI shows progress, tables and errors: rich's rendering on a terminal, plain lines anywhere else.

Plain lines are for pipes, files and scripts (``mjbot jobs | grep running``): fixed columns that never change
shape, no colour and no control codes. On a terminal, rich draws a live bar, boxed tables and coloured
errors. rich is imported only when a terminal is there to draw on.

Every text from a member or the store (prompts, reasons, error messages) reaches rich as a ``Text``, never as
markup: a prompt with ``[bold]`` or ``:smile:`` in it shows as typed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TextIO

from bot.store.models import Job
from bot.text import duration, progress_bar

if TYPE_CHECKING:
    from rich.console import Console

#: How a job's status is coloured on a terminal.
STATUS_STYLES: Final[Mapping[str, str]] = {
    "queued": "yellow",
    "submitting": "yellow",
    "running": "cyan",
    "succeeded": "green",
    "failed": "red",
    "timed_out": "red",
    "cancelled": "dim",
}
BAR_WIDTH: Final = 30


def terminal_console(out: TextIO) -> Console | None:
    """A rich console drawing on ``out`` when it is a terminal; None when it is not (print plain lines)."""
    if not out.isatty():
        return None
    from rich.console import Console

    return Console(file=out, highlight=False, emoji=False, markup=False)


def error(err: TextIO, message: str, *, console: Console | None = None) -> None:
    """``mjbot: message`` on ``err``, with the prefix in bold red on a terminal."""
    console = console if console is not None else terminal_console(err)
    if console is None:
        print(f"mjbot: {message}", file=err)
        return
    from rich.text import Text

    console.print(Text.assemble(("mjbot: ", "bold red"), message), soft_wrap=True)


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its heading, its width in plain lines (None: the last, unpadded), how it is aligned,
    the spaces before it in plain lines, and on a terminal the colours of its values."""

    title: str
    width: int | None = None
    right: bool = False
    gap: int = 1
    styles: Mapping[str, str] = field(default_factory=dict)

    def plain(self, text: str) -> str:
        if self.width is None:
            return text
        return f"{text:>{self.width}}" if self.right else f"{text:<{self.width}}"


def print_table(
    out: TextIO, columns: Sequence[Column], rows: Sequence[Sequence[str]], *, console: Console | None = None
) -> None:
    """The rows under their headings: aligned plain lines, or a rich table on a terminal."""
    console = console if console is not None else terminal_console(out)
    if console is None:
        for line in ([column.title for column in columns], *rows):
            parts = [
                (" " * column.gap if index else "") + column.plain(text)
                for index, (column, text) in enumerate(zip(columns, line, strict=True))
            ]
            print("".join(parts), file=out)
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column.title, justify="right" if column.right else "left", no_wrap=True, overflow="ellipsis")
    for line in rows:
        table.add_row(
            *(Text(text, style=column.styles.get(text, "")) for column, text in zip(columns, line, strict=True))
        )
    console.print(table)


class ProgressPrinter:
    """A job's progress: a bar redrawn in place on a terminal, or a line per change of progress when piped.

    The terminal bar is one line rewritten after a carriage return (no background thread, no cursor
    movement over other lines), so whatever else is printed meanwhile stays readable.
    """

    def __init__(self, out: TextIO, *, console: Console | None = None) -> None:
        self.out = out
        self.console = console if console is not None else terminal_console(out)
        self.last: tuple[str, int] | None = None

    def show(self, job: Job) -> None:
        state = (job.status.value, job.progress)
        if state == self.last and self.console is None:
            return
        self.last = state
        elapsed = duration(time.time() - job.created_at)
        if self.console is None:
            print(f"[{progress_bar(job.progress, 20)}] {job.status.value:<10} {elapsed}", file=self.out, flush=True)
            return
        self._draw(self.console, job, elapsed)

    def _draw(self, console: Console, job: Job, elapsed: str) -> None:
        from rich.control import Control
        from rich.progress_bar import ProgressBar
        from rich.segment import ControlType, Segments
        from rich.table import Table
        from rich.text import Text

        percent = max(0, min(100, job.progress or 0))
        status = job.status.value
        line = Table.grid(padding=(0, 1))
        line.add_row(
            ProgressBar(total=100, completed=percent, width=BAR_WIDTH),
            Text(f"{percent:>3}%"),
            Text(f"{status:<10}", style=STATUS_STYLES.get(status, "")),
            Text(elapsed, style="dim"),
        )
        segments = console.render_lines(line, console.options, pad=False, new_lines=False)[0]
        console.control(Control((ControlType.CARRIAGE_RETURN,)))
        console.print(Segments(segments), end="")
        console.control(Control((ControlType.ERASE_IN_LINE, 0)))
        self.out.flush()

    def done(self) -> None:
        if self.console is not None and self.last is not None:
            print(file=self.out, flush=True)
