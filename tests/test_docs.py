"""Every ```python block of README.md and docs/*.md runs, in order, one fresh process per page.

A page is a tutorial: its blocks share one namespace (as a reader pasting them into one session would), run
in a temporary working folder, and must finish without an exception. A block preceded by the HTML comment
``<!-- skip: reason -->`` is not run (GPU-only blocks, say); the reason is shown in the test's output. A block
preceded by ``<!-- expect-error: Name -->`` must raise that exception type (pages that show an error message).
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_BLOCK = re.compile(r"(?:<!--\s*(skip|expect-error):\s*(.*?)\s*-->\s*\n)?```python\n(.*?)```", re.S)

_RUNNER = r"""
import json, sys, traceback
blocks = json.load(open(sys.argv[1]))
ns = {"__name__": "__main__"}
for i, (kind, arg, code, line) in enumerate(blocks):
    if kind == "skip":
        print(f"block {i} (line {line}) skipped: {arg}")
        continue
    try:
        exec(compile(code, f"{sys.argv[2]}:block{i}@line{line}", "exec"), ns)
    except BaseException as exc:
        if kind == "expect-error" and type(exc).__name__ == arg:
            continue
        traceback.print_exc()
        sys.exit(f"block {i} (line {line}) failed")
    else:
        if kind == "expect-error":
            sys.exit(f"block {i} (line {line}) was expected to raise {arg}")
"""


def blocks_of(page: pathlib.Path) -> list:
    text = page.read_text()
    out = []
    for m in _BLOCK.finditer(text):
        line = text.count("\n", 0, m.start(3)) + 1
        out.append((m.group(1) or "run", m.group(2) or "", m.group(3), line))
    return out


@pytest.mark.parametrize("page", [p for p in PAGES if blocks_of(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_page_code_blocks_run(page, tmp_path):
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps(blocks_of(page)))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               EMBER_DOCS_TEST="1", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-c", _RUNNER, str(spec), page.name], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{page.name}:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"


def test_block_parser_sees_markers(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("x\n<!-- skip: needs a GPU -->\n```python\n1/0\n```\n```python\nx = 1\n```\n")
    assert [(k, a) for k, a, _, _ in blocks_of(page)] == [("skip", "needs a GPU"), ("run", "")]
