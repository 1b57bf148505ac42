"""Every ```python block of README.md and every Python code block of
docs/*.rst and docs/*.md runs on its own: in a fresh interpreter, in an empty
folder, with warnings as errors (also in the processes it starts). A
snippet that leans on a name from an earlier one, or that warns, fails here.

A snippet whose optional dependency (the onnx, plot or dask extra) is not
installed is skipped, naming the module; any other failure fails.
"""

import glob
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIONAL = ("onnxruntime", "onnx", "skl2onnx", "matplotlib", "dask", "distributed", "dask_ml")

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```", re.S | re.M)
_DIRECTIVE = re.compile(r"^(\s*)\.\. (?:code-block|code|sourcecode):: python\s*$")


def markdown_blocks(text):
    """(line, code) of each ```python fence."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _FENCE.finditer(text)]


def rst_blocks(text):
    """(line, code) of each ``.. code-block:: python`` directive's body."""
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or
                                  lines[j].strip().startswith(":")):  # options, blank
            j += 1
        body = []
        while j < len(lines):
            text_j = lines[j]
            if text_j.strip() and len(text_j) - len(text_j.lstrip()) <= len(m.group(1)):
                break
            body.append(text_j)
            j += 1
        out.append((i + 1, textwrap.dedent("\n".join(body)).strip() + "\n"))
    return out


def snippets():
    files = [os.path.join(ROOT, "README.md")] + sorted(
        glob.glob(os.path.join(ROOT, "docs", "*.rst")) + glob.glob(os.path.join(ROOT, "docs", "*.md")))
    found = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        blocks = rst_blocks(text) if path.endswith(".rst") else markdown_blocks(text)
        rel = os.path.relpath(path, ROOT)
        found += [pytest.param(code, id=f"{rel}:{line}") for line, code in blocks]
    return found


def test_snippets_are_found():
    """The extraction sees the README's and the docs' examples at all."""
    assert os.path.exists(os.path.join(ROOT, "README.md")), ROOT
    ids = [p.id for p in snippets()]
    assert any(i.startswith("README.md:") for i in ids), ids
    assert sum(i.startswith("docs" + os.sep) for i in ids) >= 10, ids


def test_rst_extraction():
    text = "Intro\n\n.. code-block:: python\n   :caption: x\n\n   a = 1\n\n   b = a\n\nAfter\n"
    assert rst_blocks(text) == [(3, "a = 1\n\nb = a\n")]
    assert markdown_blocks("x\n```python\nprint(1)\n```\n") == [(2, "print(1)\n")]


@pytest.mark.parametrize("code", snippets())
def test_snippet_runs_alone_without_warnings(code, tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONWARNINGS="error", MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-W", "error", str(script)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    missing = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", done.stderr)
    if done.returncode != 0 and missing and missing.group(1).split(".")[0] in OPTIONAL:
        pytest.skip(f"needs {missing.group(1)} (an optional extra)")
    assert done.returncode == 0, f"{code}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    # a warning that was caught and printed instead of raised still counts
    assert "Warning:" not in done.stderr, done.stderr
