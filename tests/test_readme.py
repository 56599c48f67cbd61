"""Every code block in the README runs, and every output block shown is what the code prints.

The README is read as a new user reads it, top to bottom, in a fresh folder:

- ```python blocks run in order, in one namespace, in that folder (the first example defines ``model``,
  ``X`` and ``y``; later blocks use them). ``mynets.py`` there holds the first example's class, as the
  Command line section asks the reader to save it.
- ```bash blocks: a ``gradcheck-kit`` line runs there through the installed command and must exit 0 or 1
  (a report, with or without error findings) with nothing on stderr; a set-up or development line
  (``pip install``, ``pytest``, ``ruff``/``mypy``/``lint-imports``) must be one that ``.ci/run`` runs.
- ```text blocks say where they come from in an HTML comment just above them:
  ``<!-- output of the block above -->`` (the previous python block's printout), ``<!-- output: COMMAND
  -->`` (a command run from the repository's root), ``<!-- layout -->`` (the package tree). An output
  block equals the printout line for line (trailing spaces and memory addresses aside); a line starting
  with ``…`` stands for lines left out, and then the lines shown appear in order.

All outputs are produced as the README shows them: 80 columns, not a terminal.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
_BLOCK = re.compile(r"(?ms)^(?:<!-- (?P<source>[^\n]*?) -->\n)?```(?P<lang>[\w-]*)\n(?P<body>.*?)^```[ \t]*$")
_ADDRESS = re.compile(r"0x[0-9a-f]{6,}")
_SETUP = ("python -m pip install", "python -m pytest", "ruff check", "mypy", "lint-imports")


@dataclass(frozen=True)
class Block:
    lang: str
    body: str
    source: str  # the HTML comment above it, if any
    line: int  # where it starts in README.md

    @property
    def where(self) -> str:
        return f"README.md:{self.line}"


def blocks() -> list[Block]:
    return [Block(m["lang"], m["body"], m["source"] or "", README.count("\n", 0, m.start()) + 1)
            for m in _BLOCK.finditer(README)]


def _normal(line: str) -> str:
    return _ADDRESS.sub("0x…", line.rstrip())


def assert_shown(shown: str, printed: str, where: str) -> None:
    """``shown`` (an output block) is ``printed``, or, with ``…`` lines, its lines appear in order."""
    want = [_normal(line) for line in shown.splitlines()]
    have = [_normal(line) for line in printed.rstrip("\n").splitlines()]
    if not any(line.startswith("…") for line in want):
        assert want == have, f"{where}: the block is not what is printed; printed:\n" + "\n".join(have)
        return
    position = 0
    for line in want:
        if line.startswith("…"):
            continue
        try:
            position = have.index(line, position) + 1
        except ValueError:
            raise AssertionError(f"{where}: {line!r} is not printed (in this order); printed:\n" + "\n".join(have)) \
                from None


def command_env() -> dict[str, str]:
    # CI and BUILD_NUMBER make pytest print whole failure messages in its summary (as on a CI machine)
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PYTHONPATH", "CI", "BUILD_NUMBER")}
    env.update(COLUMNS="80", NO_COLOR="1", TERM="dumb", PYTHONPATH=str(ROOT))
    return env


def run_command(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(line.split(" #", maxsplit=1)[0])
    if argv[0] == "gradcheck-kit":
        argv = [sys.executable, "-m", "gradcheck_kit", *argv[1:]]
    elif argv[0] == "python":
        argv = [sys.executable, *argv[1:]]
    return subprocess.run(argv, cwd=cwd, env=command_env(), capture_output=True, text=True, timeout=300)


def run_python_blocks(folder: Path) -> dict[int, str]:
    """Runs every python block in order in ``folder``; each block's printout by its README line."""
    python = [b for b in blocks() if b.lang == "python"]
    first = python[0].body
    (folder / "mynets.py").write_text(first[:first.index("\nrng = ")] + "\n", encoding="utf-8")
    printed: dict[int, str] = {}
    namespace: dict[str, object] = {"__name__": "readme"}
    old_cwd, old_path, old_columns = Path.cwd(), list(sys.path), os.environ.get("COLUMNS")
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    os.environ["COLUMNS"] = "80"
    try:
        for block in python:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer), warnings.catch_warnings():
                # the README shows no spelling that is deprecated: a FutureWarning from one of its lines fails
                warnings.filterwarnings("error", category=FutureWarning, module="readme")
                try:
                    exec(compile(block.body, block.where, "exec"), namespace)
                except Exception as exc:
                    raise AssertionError(f"{block.where}: the python block raised {type(exc).__name__}: {exc}") \
                        from exc
            printed[block.line] = buffer.getvalue()
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns
        sys.modules.pop("mynets", None)
    return printed


def printout(block: Block, folder: Path, printed: dict[int, str]) -> str:
    """What the code an output block names prints."""
    if block.source.startswith("output: "):
        command = block.source[len("output: "):]
        r = run_command(command, ROOT)
        assert r.returncode in (0, 1), f"{block.where}: {command!r} exited {r.returncode}: {r.stderr}"
        return r.stdout
    every = blocks()
    above = next(b for b in reversed(every[:every.index(block)]) if b.lang == "python")
    if block.source == "output of pytest on the block above":  # a test file: run it as pytest would
        (folder / "test_mynets.py").write_text(above.body, encoding="utf-8")
        r = run_command("python -m pytest -q -p no:cacheprovider test_mynets.py", folder)
        assert r.returncode == 1, f"{block.where}: pytest exited {r.returncode}: {r.stdout}{r.stderr}"
        return r.stdout
    return printed[above.line]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reader")
    return folder, run_python_blocks(folder)


def test_every_block_says_what_it_is():
    for block in blocks():
        assert block.lang in ("python", "bash", "text"), f"{block.where}: a ```{block.lang} block"
        if block.lang == "text":
            assert block.source in ("layout", "output of the block above", "output of pytest on the block above") \
                or block.source.startswith("output: "), \
                f"{block.where}: a text block needs <!-- output: COMMAND -->, <!-- output of the block above --> " \
                "or <!-- layout --> above it"


def test_every_python_block_runs_and_its_output_is_shown(session):
    folder, printed = session
    shown = [b for b in blocks() if b.source.startswith("output of")]
    for block in shown:
        assert_shown(block.body, printout(block, folder, printed), block.where)
    assert len(shown) >= 2


def _tokens(step: str) -> list[str]:
    try:
        words = shlex.split(step)
    except ValueError:  # a piece of shell that is no command (a quote split by the pieces above)
        return []
    return [t for t in words if t not in ("--quiet", "-q", "-e")]


def _extras(tokens: list[str]) -> set[str]:
    found = re.search(r"\[(.*)\]", " ".join(tokens))
    return set(found.group(1).split(",")) if found else set()


def _covered_by_ci(step: str, ci_steps: list[list[str]]) -> bool:
    """CI runs this step: the same command, or for ``pip install`` every extra it names."""
    tokens = _tokens(step)
    if tokens[:4] == ["python", "-m", "pip", "install"]:
        installed = set().union(*(_extras(s) for s in ci_steps if s[:4] == tokens[:4]))
        return _extras(tokens) <= installed
    return any(s[:len(tokens)] == tokens for s in ci_steps if tokens)  # `gradcheck-kit demo > /dev/null` runs it


def test_the_setup_commands_are_what_ci_runs():
    """CI must run the README's test command: each step of the two set-up lines, verbatim apart from --quiet."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").replace("--quiet ", "")
    setup = next(b for b in blocks() if b.lang == "bash")
    for line in setup.body.splitlines():
        for step in line.split(" #")[0].split("&&"):
            assert step.strip() in ci, f"{setup.where}: .ci/run does not run {step.strip()!r}"


def test_every_command_runs(session):
    folder, _ = session
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_steps = [_tokens(s) for s in re.split(r"&&|\n|\(|\)", ci) if s.strip() and not s.strip().startswith("#")]
    ran = 0
    for block in (b for b in blocks() if b.lang == "bash"):
        for line in block.body.splitlines():
            command = line.split(" #")[0].strip()
            if not command:
                continue
            if command.startswith(_SETUP):
                for step in command.split("&&"):
                    assert _covered_by_ci(step, ci_steps), f"{block.where}: .ci/run does not run {step.strip()!r}"
                continue
            assert command.startswith("gradcheck-kit "), f"{block.where}: no test runs {command!r}"
            r = run_command(command, folder)
            assert r.returncode in (0, 1), f"{block.where}: {command!r} exited {r.returncode}: {r.stderr}"
            assert r.stderr == "", f"{block.where}: {command!r} wrote to stderr: {r.stderr}"
            ran += 1
    assert ran >= 3


def test_every_shown_output_is_what_its_command_prints(session):
    folder, printed = session
    for block in (b for b in blocks() if b.source.startswith("output: ")):
        assert_shown(block.body, printout(block, folder, printed), f"{block.where} ({block.source})")


def test_the_layout_block_names_the_packages_folders():
    [layout] = [b for b in blocks() if b.source == "layout"]
    named = set(re.findall(r"([a-z_]+)/", layout.body))
    folders = {p.name for p in (ROOT / "gradcheck_kit").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= named, f"{layout.where}: the layout lacks {sorted(folders - named)}"
    for name in named - {"gradcheck_kit"}:
        assert (ROOT / name).is_dir() or (ROOT / "gradcheck_kit" / name).is_dir(), f"{layout.where}: no {name}/"


def test_every_finding_code_is_documented():
    import gradcheck_kit as gk

    for code in gk.codes:
        assert f"| `{code}` |" in README, code


def test_every_cli_option_is_in_the_synopsis():
    from gradcheck_kit.cli import _parser

    synopsis = README[README.index("## Command line"):]
    synopsis = synopsis[:synopsis.index("\n## ", 3)]
    report = next(a for a in _parser()._subparsers._group_actions[0].choices.items() if a[0] == "report")[1]
    for action in report._actions:
        long = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
        for option in long:
            assert option in synopsis, option
