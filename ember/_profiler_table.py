"""The text table of ``profile.key_averages().table()``, laid out as PyTorch prints it (times in microseconds
in, "us"/"ms"/"s" out; right-aligned 12-wide columns; "Self CPU time total" below)."""

from __future__ import annotations

COLUMN = 12
MAX_SHAPES_WIDTH = 80


def format_time(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _percent(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.2f}%" if whole > 0 else "0.00%"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def build_table(all_events, rows, row_limit, max_name_width, header=None) -> str:
    shapes_col = bool(getattr(all_events, "_grouped_by_shape", False))
    total = sum(e.self_cpu_time_total for e in all_events)
    if row_limit is not None and row_limit > 0:
        rows = rows[:row_limit]
    names = [e.key for e in rows] or ["Name"]
    name_w = min(max(len(n) for n in names) + 4, max_name_width)
    widths = [name_w] + [COLUMN] * 6
    titles = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
    if shapes_col:
        shapes = [e.input_shapes or "[]" for e in rows] or ["[]"]
        widths.append(min(max(len(s) for s in shapes) + 4, MAX_SHAPES_WIDTH))
        titles.append("Input Shapes")

    def line(cells):
        return "  ".join(f"{_clip(str(c), w):>{w}}" for c, w in zip(cells, widths)) + "  "

    rule = "  ".join("-" * w for w in widths) + "  "
    out = [header] if header else []
    out += [rule, line(titles), rule]
    for e in rows:
        cells = [e.key, _percent(e.self_cpu_time_total, total), format_time(e.self_cpu_time_total),
                 _percent(e.cpu_time_total, total), format_time(e.cpu_time_total),
                 format_time(e.cpu_time_total / max(getattr(e, "count", 1), 1)), getattr(e, "count", 1)]
        if shapes_col:
            cells.append(e.input_shapes or "[]")
        out.append(line(cells))
    out += [rule, f"Self CPU time total: {format_time(total)}", ""]
    return "\n".join(out)
