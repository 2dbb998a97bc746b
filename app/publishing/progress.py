"""How a publish shows its progress: a line per step in logs, plus a live bar on a terminal."""

import shutil
import threading
import time

import click

from .run import NullProgress, format_bytes


class LineProgress(NullProgress):
    """One line per step, for CI logs and pipes."""

    def __init__(self, stream=None):
        self.stream = stream

    def step(self, message):
        """Print the step on its own line."""
        click.echo(message, file=self.stream, err=self.stream is None)


def format_seconds(seconds):
    """Return ``seconds`` as ``m:ss``."""
    seconds = max(0, int(seconds + 0.5))
    return f"{seconds // 60}:{seconds % 60:02d}"


class BarProgress(LineProgress):
    """Steps as lines, and during the uploads a bar redrawn in place: files, bytes, rate and ETA."""

    interval = 0.1

    def __init__(self, stream=None):
        super().__init__(stream)
        self.lock = threading.Lock()
        self.files = self.nbytes = self.total_files = self.total_bytes = 0
        self.started = self.drawn = 0.0

    def start(self, files, nbytes):
        """Reset the counters for ``files`` files of ``nbytes`` bytes and draw an empty bar."""
        with self.lock:
            self.files, self.nbytes, self.total_files, self.total_bytes = 0, 0, files, nbytes
            self.started = time.monotonic()
            self._draw()

    def advance(self, files=0, nbytes=0):
        """Count progress from any thread; redraw at most every ``interval`` seconds."""
        with self.lock:
            self.files += files
            self.nbytes += nbytes
            if time.monotonic() - self.drawn >= self.interval:
                self._draw()

    def finish(self):
        """Draw the final state and end the line."""
        with self.lock:
            self._draw()
            click.echo("", file=self.stream, err=self.stream is None)

    def line(self, width):
        """Return the bar's text for a terminal ``width`` columns wide."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        # Small files cost a request each and large ones their bytes: the ETA weighs both.
        done = (self.files / max(self.total_files, 1) + self.nbytes / max(self.total_bytes, 1)) / 2
        eta = format_seconds(elapsed * (1 - done) / done) if done > 0 else "-:--"
        text = (
            f" {self.files}/{self.total_files} files"
            f"  {format_bytes(self.nbytes)}/{format_bytes(self.total_bytes)}"
            f"  {format_bytes(self.nbytes / elapsed)}/s  ETA {eta}"
        )
        # A fixed width, so the bar does not jump as the numbers grow; the text is cut on narrow terminals.
        bar_width = 20 if width >= 80 else 10
        filled = int(bar_width * min(done, 1.0))
        return f"[{'#' * filled}{'-' * (bar_width - filled)}]{text}"[: width - 1]

    def _draw(self):
        self.drawn = time.monotonic()
        width = shutil.get_terminal_size((80, 24)).columns
        click.echo("\r" + self.line(width) + "\x1b[K", file=self.stream, err=self.stream is None, nl=False)


def progress_for_terminal(is_tty):
    """Return the bar on a terminal, plain lines otherwise."""
    return BarProgress() if is_tty else LineProgress()
