"""The ``gradcheck-kit`` command line (also ``python -m gradcheck_kit``).

Exit codes: 0 no error findings; 1 error findings; 2 a usage or input problem (one line on stderr);
3 an unexpected internal error; 130 interrupted (a partial report is still printed).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shlex
import shutil
import sys
import textwrap
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from . import __version__
from .errors import GradcheckError, InputError
from .settings import Option, option_fields

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

_REPORT_HELP = """\
Diagnose a model's gradients on a saved batch.

MODEL is either
  - an import spec 'package.module:factory' or 'path/to/file.py:factory' with --weights NPZ: the code
    you name on the command line builds the model and NPZ fills in its weights (an .npz of parameter
    arrays, or a file from save_model, read as data: its recorded constructor arguments are passed to
    a factory of the recorded name); or
  - a model .npz written by gradcheck_kit.save_model, with --trust.

A model file is code, not data: it records the import path of the code that rebuilds the model.
Without --trust such a file is refused and nothing is imported; with --trust the command IMPORTS AND
RUNS the code the file names, so only trust files whose code you would run yourself. Even with --trust,
factories from builtins, os, sys, subprocess, shutil, importlib, pickle, marshal, ctypes, runpy,
code/codeop and similar modules are refused. Array files are always read with pickling disabled, and
only the arrays needed are read.

BATCH is an .npz with arrays X and y (gradcheck_kit.save_batch writes one).

exit codes: 0 no error findings, 1 error findings, 2 usage or input problem, 3 internal error,
130 interrupted (partial report printed).
"""


class _UsageError(Exception):
    """A command-line usage problem, said in one line by `main` (argparse would print its usage block)."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line: argparse's words for what was wrong and where to
    read the usage (its default prints the whole usage block first). Its subcommands' parsers are of this
    class too."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message, self.prog)


class _ParagraphFormatter(argparse.HelpFormatter):
    """Wraps a description's paragraphs and "- " list items to the console's width at word boundaries,
    keeping their indentation (argparse's default joins them into one paragraph; the raw formatter
    does not wrap at all)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks: list[tuple[str, str, list[str]]] = []  # (first-line indent, later-lines indent, words)
        for line in text.splitlines():
            stripped = line.lstrip()
            lead = line[:len(line) - len(stripped)]
            if not stripped:
                blocks.append(("", "", []))
            elif stripped.startswith("- "):
                blocks.append((lead, lead + "  ", stripped.split()))
            elif blocks and blocks[-1][2] and (lead or not blocks[-1][0]):
                blocks[-1][2].extend(stripped.split())  # a continuation line
            else:
                blocks.append((lead, lead, stripped.split()))
        return "\n".join(
            textwrap.fill(" ".join(words), width, initial_indent=indent + first, subsequent_indent=indent + rest,
                          break_on_hyphens=False, break_long_words=False) if words else ""
            for first, rest, words in blocks)


def _parser() -> argparse.ArgumentParser:
    return _parsers({})[0]


def _parsers(typed: dict[str, str]) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command's parser and its subcommands' by name; parsing fills ``typed`` with the text the user typed
    for each numeric option (by option name), to echo it back in an error."""
    parser = _Parser(
        prog="gradcheck-kit",
        description="Tells you where and why your hand-written backpropagation is wrong.",
        epilog="Run 'gradcheck-kit demo' for the softmax question's bug, diagnosed.",
    )
    parser.add_argument("--version", action="version", version=f"gradcheck_kit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{report,demo,codes}")
    sub.required = True

    report = sub.add_parser("report", help="diagnose a saved model on a saved batch",
                            description=_REPORT_HELP, formatter_class=_ParagraphFormatter)
    report.add_argument("model", metavar="MODEL",
                        help="an import spec with --weights, or a model .npz from save_model with --trust")
    report.add_argument("--batch", required=True, metavar="BATCH", help=".npz with arrays X and y")
    report.add_argument("--weights", metavar="NPZ",
                        help="parameter arrays for an import-spec MODEL (an .npz of arrays, or a save_model file)")
    report.add_argument("--trust", action="store_true",
                        help="import and run the factory a model .npz records (a model file is code)")
    report.add_argument("--format", choices=_format_names(), default="table", metavar="FORMAT",
                        help=f"output format: {', '.join(_format_names())} (default: table; plain text when not "
                        f"on a terminal)")
    report.add_argument("--output", "-o", metavar="FILE",
                        help="write the report to FILE instead of stdout ('-': stdout; a file is replaced "
                             "whole, never one of the inputs)")
    report.add_argument("--plot", metavar="FILE.png",
                        help="also draw the report into FILE (png, svg or pdf, by its suffix; needs the plot extra: "
                             "pip install 'gradcheck_kit[plot]'); replaced whole, never one of the inputs")
    _add_option_flags(report, typed)
    report.add_argument("--quiet", "-q", action="store_true", help="table format: print only the verdict line; no "
                                                                   "progress bar")
    report.add_argument("--debug", action="store_true", help="show full tracebacks for input problems")

    demo = sub.add_parser("demo", help="reproduce and diagnose the softmax question's bug on shipped data")
    demo.add_argument("--debug", action="store_true", help="show full tracebacks")
    codes = sub.add_parser("codes", help="list the finding codes")
    codes.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser, {"report": report, "demo": demo, "codes": codes}


def _format_names() -> list[str]:
    from .report.formats import FORMATS

    return list(FORMATS)


def _remembering(kind: type, name: str, typed: dict[str, str]) -> Callable[[str], object]:
    """``kind`` as an argparse type that also records the text it converted under ``name``."""

    def convert(text: str) -> object:
        value = kind(text)
        typed[name] = text
        return value

    convert.__name__ = kind.__name__  # argparse names it in "invalid float value: 'abc'"
    return convert


def _add_option_flags(parser: argparse.ArgumentParser, typed: dict[str, str]) -> None:
    """One flag per `Settings` option that has one; its help and default come from the option. The text of a
    numeric flag is recorded in ``typed``, so that an error quotes ``--eps 0`` as typed, not ``0.0``."""
    for f in option_fields():
        meta: Option = f.metadata["option"]
        if meta.flag is None:
            continue
        flags = [meta.flag] + (["-j"] if f.name == "n_jobs" else [])
        if meta.kind is bool:
            parser.add_argument(*flags, dest=f.name, action="store_true", default=argparse.SUPPRESS, help=meta.help)
            continue
        default = "" if f.default is None else f" (default {f.default})"
        kind = meta.kind if meta.kind is str else _remembering(meta.kind, f.name, typed)
        parser.add_argument(*flags, dest=f.name, type=kind, metavar=meta.metavar, default=argparse.SUPPRESS,
                            help=meta.help + default)


def _flag_options(args: argparse.Namespace) -> dict[str, object]:
    return {f.name: getattr(args, f.name) for f in option_fields() if hasattr(args, f.name)}


def _in_flags(exc: InputError, args: argparse.Namespace, typed: dict[str, str]) -> str:
    """An option error in the terms the user typed: ``--eps 0; ...`` rather than ``eps=0.0; ...``."""
    message = str(exc).splitlines()[0]
    name = exc.option or ""
    meta = {f.name: f.metadata["option"] for f in option_fields()}.get(name)
    if meta is None or not meta.flag or not message.startswith(f"{name}="):
        return message
    value = f"{name}={getattr(args, name, None)!r}"
    if name in typed and message.startswith(value):  # the number as typed, not as Python prints it
        return f"{meta.flag} {typed[name]}{message[len(value):]}"
    return f"{meta.flag} " + message[len(f"{name}="):].lstrip()


def _render(report: object, fmt: str, quiet: bool, to_file: bool) -> str | None:
    from .report.formats import FORMATS

    if fmt == "table" and quiet:
        return str(report.verdict) + "\n"  # type: ignore[attr-defined]
    if fmt == "table" and not to_file:
        return None  # rich output straight to the terminal
    return FORMATS[fmt](report)  # type: ignore[arg-type]


def _is_import_spec(model: str) -> bool:
    return ":" in model and not Path(model).exists()


def _inputs(args: argparse.Namespace) -> dict[str, str]:
    """The files the report command reads, by role: the model (or the Python file of an import spec),
    the weights and the batch."""
    if _is_import_spec(args.model):
        return {"MODEL's Python": args.model.rpartition(":")[0], "--weights": args.weights, "--batch": args.batch}
    return {"MODEL": args.model, "--weights": args.weights, "--batch": args.batch}


def _check_destination(flag: str, value: str, args: argparse.Namespace, what: str = "report") -> None:
    """Refuse a file to write (--output, --plot) that would land on one of the command's own inputs, before
    anything runs."""
    out = Path(value)
    parent = out.resolve().parent
    if not parent.is_dir():
        raise InputError(f"{flag} {value!r}: directory {str(parent)!r} does not exist")
    for role, name in _inputs(args).items():
        if not name:
            continue
        try:
            same = os.path.samefile(out, name)
        except (OSError, ValueError):  # one of them does not exist (yet): compare where they point
            same = out.resolve() == Path(name).resolve()
        if same:
            raise InputError(
                f"{flag} {value!r} is the {role} file {name!r}, which the report reads; writing the "
                f"{what} there would destroy it: choose another file"
            )


def _check_plot(args: argparse.Namespace) -> str:
    """The picture's format, after refusing a --plot that cannot be written: no matplotlib, an unknown
    suffix, an input of the command, or the same file as --output."""
    from .report.plot import require_matplotlib

    require_matplotlib("--plot")
    from matplotlib.figure import Figure

    _check_destination("--plot", args.plot, args, "picture")
    if args.output and Path(args.plot).resolve() == Path(args.output).resolve():
        raise InputError(f"--plot {args.plot!r} is also the --output file: the picture and the report need two files")
    fmt = Path(args.plot).suffix.lower().lstrip(".")
    supported = Figure().canvas.get_supported_filetypes()
    if fmt not in supported:
        raise InputError(f"--plot {args.plot!r}: the suffix {'.' + fmt if fmt else '(none)'!r} names no picture "
                         f"format matplotlib writes; expected one of {', '.join('.' + s for s in sorted(supported))}")
    return fmt


def _write_plot(report: object, path: str, fmt: str) -> None:
    from .io import write_atomically

    figure = report.plot()  # type: ignore[attr-defined]
    try:
        write_atomically(path, lambda handle: figure.savefig(handle, format=fmt))
    except OSError as exc:
        raise GradcheckError(f"--plot {path!r} could not be written ({exc.strerror or exc})") from exc


def _load_model(args: argparse.Namespace) -> object:
    from .io import load_model, model_metadata

    if _is_import_spec(args.model):
        if not args.weights:
            raise InputError(f"MODEL {args.model!r} is an import spec; pass --weights weights.npz with its parameters")
        return load_model(factory=args.model, weights=args.weights)
    if args.weights:
        raise InputError("--weights goes with an import-spec MODEL ('package.module:factory'), not a saved .npz")
    try:
        return load_model(args.model, trusted=args.trust)
    except InputError as exc:
        if exc.option != "trusted":
            raise
    factory = model_metadata(args.model)["factory"]  # the same message in the command's own terms
    raise InputError(
        f"model {args.model!r} records the factory {factory!r}, and loading it would import and run that code; "
        f"refused, because a model file is code, not data. If you trust it, add --trust; or name the code "
        f"yourself: gradcheck-kit report {shlex.quote(factory)} --weights {shlex.quote(args.model)} "
        f"--batch {shlex.quote(args.batch)}"
    )


def _report(args: argparse.Namespace) -> int:
    from .io import load_batch, write_atomically
    from .run import diagnose

    if args.output:
        _check_destination("--output", args.output, args)
    plot_format = _check_plot(args) if args.plot else ""
    model = _load_model(args)
    X, y = load_batch(args.batch)
    report = diagnose(model, (X, y), progress=False if args.quiet else None, **_flag_options(args))  # type: ignore[arg-type]
    text = _render(report, args.format, args.quiet, to_file=bool(args.output))
    if args.output:
        data = (text or "").encode("utf-8")
        try:
            write_atomically(args.output, lambda handle: handle.write(data))
        except OSError as exc:
            raise GradcheckError(f"--output {args.output!r} could not be written ({exc.strerror or exc})") from exc
    elif text is not None:
        sys.stdout.write(text)
    else:
        report.print()
    if args.plot:
        _write_plot(report, args.plot, plot_format)
    if not report.complete:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_FINDINGS


def _demo(args: argparse.Namespace) -> int:
    try:  # installed: the examples ship as gradcheck_kit.examples
        run = importlib.import_module(f"{__package__}.examples.softmax_question").main
    except ImportError:  # running from a source checkout: the examples live beside the package
        file = Path(__file__).resolve().parent.parent / "examples" / "softmax_question.py"
        spec = importlib.util.spec_from_file_location("gradcheck_kit_demo", file)
        if spec is None or spec.loader is None or not file.exists():
            raise GradcheckError("the demo example is not installed (examples/softmax_question.py not found)") from None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        run = module.main
    run()
    return EXIT_OK


def _codes(args: argparse.Namespace) -> int:
    from .checks import CODES

    width = max(map(len, CODES))
    columns = _columns()
    indent = width + 11  # code, two spaces, severity, two spaces
    for code, info in sorted(CODES.items()):
        head = f"{code:<{width}}  {info.severity:<7}  "
        if columns - indent >= 30:  # the summary beside the code, wrapped under itself
            print(textwrap.fill(info.summary, columns, initial_indent=head, subsequent_indent=" " * indent,
                                break_on_hyphens=False, break_long_words=False))
        else:  # a narrow console: the summary on lines of its own
            print(head.rstrip())
            print(textwrap.fill(info.summary, columns, initial_indent="    ", subsequent_indent="    ",
                                break_on_hyphens=False, break_long_words=False))
    return EXIT_OK


def _columns() -> int:
    """The console's width: $COLUMNS, else the terminal's, else 80 (as rich and argparse decide it)."""
    return max(20, shutil.get_terminal_size((80, 24)).columns)


def _parse(argv: Sequence[str] | None, typed: dict[str, str]) -> argparse.Namespace:
    """The parsed command line; a usage problem raises `_UsageError` naming the (sub)command whose help to
    read."""
    parser, commands = _parsers(typed)
    args, extra = parser.parse_known_args(argv)
    command = commands[args.command]
    if extra:  # argparse would blame the top-level command; the user typed them after the subcommand
        command.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "report" and getattr(args, "n_jobs", 1) != 1 and not getattr(args, "exhaustive", False):
        # a usage error, as for any flag that would be silently ignored: the user asked for workers and
        # would otherwise believe they ran
        command.error(f"--jobs {typed.get('n_jobs', args.n_jobs)} takes effect only with --exhaustive (a sampled "
                      f"check is too short to share among workers); add --exhaustive, or drop --jobs")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (see the module docstring)."""
    typed: dict[str, str] = {}
    try:
        args = _parse(argv, typed)
    except _UsageError as exc:
        print(f"gradcheck-kit: error: {exc}; see '{exc.prog} --help'", file=sys.stderr)
        return EXIT_INPUT
    if args.command == "report" and args.output == "-":
        args.output = None  # '-' is standard output, as for most command-line tools
    handler = {"report": _report, "demo": _demo, "codes": _codes}[args.command]
    try:
        return handler(args)
    except GradcheckError as exc:
        if args.debug:
            traceback.print_exc()
        message = (
            _in_flags(exc, args, typed)
            if isinstance(exc, InputError)
            else str(exc).splitlines()[0]
            if str(exc)
            else type(exc).__name__
        )
        print(f"gradcheck-kit: error: {message}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("gradcheck-kit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # code the command ran (a model's, a factory's) must not look like a pass
        print(f"gradcheck-kit: error: the code it ran called sys.exit({exc.code!r})", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug in the kit: one line, the traceback with --debug
        if args.debug:
            traceback.print_exc()
        print(
            f"gradcheck-kit: internal error: {type(exc).__name__}: {exc} (rerun with --debug and report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def entry() -> None:
    """Console-script wrapper: exit with `main`'s code.

    ``python -m gradcheck_kit`` imports from the current directory; so does the console script, whose
    path would otherwise start at its own ``bin`` folder. The directory goes last, so that a file there
    never shadows an installed package."""
    here = os.getcwd()
    if "" not in sys.path and here not in sys.path:
        sys.path.append(here)
    sys.exit(main())
