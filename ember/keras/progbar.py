"""Keras 3's progress bar: ``250/250 ━━━━━━━━━━━━━━━━━━━━ 2s 6ms/step - accuracy: 0.9140 - loss: 0.3080``.

On a terminal the line is redrawn in place at most every ``interval`` seconds (bold counts, green/grey bar);
when stdout is not a terminal only the final line of each epoch is written, so log files stay short.
``verbose=2`` writes one compact line per epoch: ``250/250 - 2s - 6ms/step - loss: 0.3080``.

>>> import io, contextlib
>>> buf = io.StringIO()
>>> with contextlib.redirect_stdout(buf):
...     bar = Progbar(4)
...     bar.update(4, [("loss", 0.5)], finalize=True)
>>> buf.getvalue().split("━")[0]
'4/4 '
"""

from __future__ import annotations

import math
import sys
import time

_BOLD, _RESET, _GREEN, _GREY = "\x1b[1m", "\x1b[0m", "\x1b[32m", "\x1b[37m"


def format_value(v: float) -> str:
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def format_time_per_unit(t: float, unit: str = "step") -> str:
    if t >= 1 or t == 0:
        return f"{t:.0f}s/{unit}"
    if t >= 1e-3:
        return f"{t * 1e3:.0f}ms/{unit}"
    return f"{t * 1e6:.0f}us/{unit}"


def format_eta(eta: float) -> str:
    if eta > 3600:
        return f"{int(eta // 3600)}:{int((eta % 3600) // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"


class Progbar:
    """A progress bar over ``target`` steps (``None`` when unknown); values are shown as given."""

    def __init__(self, target, width=20, verbose=1, interval=0.05, unit_name="step", stream=None):
        self.target, self.width, self.verbose, self.interval = target, width, verbose, interval
        self.unit_name = unit_name
        self.stream = stream
        out = stream or sys.stdout
        self.dynamic = bool(getattr(out, "isatty", lambda: False)())
        self._start = time.time()
        self._last_update = 0.0
        self._prev_width = 0
        self._values: dict = {}
        self._first_step_time = None

    def _out(self):
        return self.stream or sys.stdout

    def _time_per_unit(self, current, now):
        if not current:
            return 0.0
        return (now - self._start) / current

    def update(self, current, values=None, finalize=None):
        """Show ``current`` steps done; ``values`` is a list of ``(name, number)`` shown as-is."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if values:
            self._values = dict(values)
        now = time.time()
        if self.verbose == 1:
            if not finalize and (not self.dynamic or now - self._last_update < self.interval):
                return
            self._write(self._line(current, now, finalize), finalize)
        elif self.verbose == 2 and finalize:
            self._out().write(self._compact_line(current, now) + "\n")
            self._out().flush()
        self._last_update = now

    def _bar(self, current):
        color = self.dynamic
        if self.target:
            digits = int(math.log10(self.target)) + 1
            count = f"%{digits}d/%d" % (current, self.target)
            filled = int(self.width * min(current / self.target, 1.0))
            done, todo = "━" * filled, "━" * (self.width - filled)
            if not color:
                return f"{count} {done}{todo}", 0
            return (
                f"{_BOLD}{count}{_RESET} "
                + (f"{_GREEN}{done}{_RESET}" if filled else "")
                + f"{_GREY}{todo}{_RESET}"
            ), 8 + (9 if filled else 0) + 9
        return f"{current:7d}/Unknown", 0

    def _line(self, current, now, finalize):
        bar, hidden = self._bar(current)
        tpu = self._time_per_unit(current, now)
        if self.target and not finalize:
            when = format_eta(tpu * (self.target - current))
        else:
            when = f"{now - self._start:.0f}s"
        info = f" {_BOLD}{when}{_RESET} " if self.dynamic else f" {when} "
        hidden += 8 if self.dynamic else 0
        info += format_time_per_unit(tpu, self.unit_name)
        for k, v in self._values.items():
            info += f" - {k}: {format_value(float(v))}"
        return bar + info, len(bar) + len(info) - hidden

    def _write(self, line_and_width, finalize):
        line, width = line_and_width
        out = self._out()
        if self.dynamic:
            pad = " " * max(self._prev_width - width, 0)
            out.write("\r" + line + pad + ("\n" if finalize else ""))
        else:
            out.write(line + "\n")
        self._prev_width = width
        out.flush()

    def _compact_line(self, current, now):
        digits = int(math.log10(self.target)) + 1 if self.target else 1
        count = f"%{digits}d/%d" % (current, self.target) if self.target else f"{current}"
        info = (
            f"{count} - {now - self._start:.0f}s - {format_time_per_unit(self._time_per_unit(current, now))}"
        )
        for k, v in self._values.items():
            info += f" - {k}: {format_value(float(v))}"
        return info
