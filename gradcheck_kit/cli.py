"""The ``gradcheck-kit`` command line (also ``python -m gradcheck_kit``).

Exit codes: 0 no error findings; 1 error findings; 2 a usage or input problem (one line on stderr);
3 an unexpected internal error; 130 interrupted (a partial report is still printed).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import GradcheckError, InputError
from .settings import Option, option_fields

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

_REPORT_HELP = """\
Diagnose a saved model's gradients on a saved batch.

MODEL is either an .npz written by gradcheck_kit.save_model (parameters plus the import path that
rebuilds the model), or an import spec 'package.module:factory' / 'path/to/file.py:factory' together
with --weights weights.npz. Either way, loading MODEL IMPORTS AND RUNS the Python code it names: only
load models whose code you trust. Array files are always read with pickling disabled.

BATCH is an .npz with arrays X and y (gradcheck_kit.save_batch writes one).

exit codes: 0 no error findings, 1 error findings, 2 usage or input problem, 3 internal error,
130 interrupted (partial report printed).
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradcheck-kit",
        description="Tells you where and why your hand-written backpropagation is wrong.",
        epilog="Run 'gradcheck-kit demo' for the softmax question's bug, diagnosed.",
    )
    parser.add_argument("--version", action="version", version=f"gradcheck_kit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{report,demo,codes}")
    sub.required = True

    report = sub.add_parser("report", help="diagnose a saved model on a saved batch",
                            description=_REPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("model", metavar="MODEL", help="model .npz from save_model, or an import spec with --weights")
    report.add_argument("--batch", required=True, metavar="BATCH", help=".npz with arrays X and y")
    report.add_argument("--weights", metavar="NPZ", help="parameter arrays for an import-spec MODEL")
    report.add_argument("--format", choices=_format_names(), default="table",
                        help="output format (default: table; plain text when not on a terminal)")
    report.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    _add_option_flags(report)
    report.add_argument("--quiet", "-q", action="store_true", help="table format: print only the verdict line; no "
                                                                   "progress bar")
    report.add_argument("--debug", action="store_true", help="show full tracebacks for input problems")

    demo = sub.add_parser("demo", help="reproduce and diagnose the softmax question's bug on shipped data")
    demo.add_argument("--debug", action="store_true", help="show full tracebacks")
    codes = sub.add_parser("codes", help="list the finding codes")
    codes.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def _format_names() -> list[str]:
    from .report.formats import FORMATS

    return list(FORMATS)


def _add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per `Settings` option that has one; its help and default come from the option."""
    for f in option_fields():
        meta: Option = f.metadata["option"]
        if meta.flag is None:
            continue
        flags = [meta.flag] + (["-j"] if f.name == "n_jobs" else [])
        if meta.kind is bool:
            parser.add_argument(*flags, dest=f.name, action="store_true", default=argparse.SUPPRESS, help=meta.help)
            continue
        default = "" if f.default is None else f" (default {f.default})"
        parser.add_argument(*flags, dest=f.name, type=meta.kind, metavar=meta.metavar, default=argparse.SUPPRESS,
                            help=meta.help + default)


def _flag_options(args: argparse.Namespace) -> dict[str, object]:
    return {f.name: getattr(args, f.name) for f in option_fields() if hasattr(args, f.name)}


def _in_flags(exc: InputError) -> str:
    """An option error in the terms the user typed: ``--lr -1.0; ...`` rather than ``lr=-1.0; ...``."""
    message = str(exc).splitlines()[0]
    meta = {f.name: f.metadata["option"] for f in option_fields()}.get(exc.option or "")
    if meta is not None and meta.flag and message.startswith(f"{exc.option}="):
        return f"{meta.flag} " + message[len(f"{exc.option}="):].lstrip()
    return message


def _render(report: object, fmt: str, quiet: bool, to_file: bool) -> str | None:
    from .report.formats import FORMATS

    if fmt == "table" and quiet:
        return report.verdict() + "\n"  # type: ignore[attr-defined]
    if fmt == "table" and not to_file:
        return None  # rich output straight to the terminal
    return FORMATS[fmt](report)  # type: ignore[arg-type]


def _report(args: argparse.Namespace) -> int:
    from .diagnose import diagnose
    from .io import load_batch, load_model

    if args.output:
        parent = Path(args.output).resolve().parent
        if not parent.is_dir():
            raise GradcheckError(f"--output {args.output!r}: directory {str(parent)!r} does not exist")
    spec_like = ":" in args.model and not Path(args.model).exists()
    if spec_like:
        if not args.weights:
            raise GradcheckError(f"MODEL {args.model!r} is an import spec; pass --weights weights.npz with its "
                                 "parameters")
        model = load_model(factory=args.model, weights=args.weights)
    else:
        if args.weights:
            raise GradcheckError(
                "--weights goes with an import-spec MODEL ('package.module:factory'), not a saved .npz")
        model = load_model(args.model)
    X, y = load_batch(args.batch)
    report = diagnose(model, (X, y), progress=False if args.quiet else None, **_flag_options(args))  # type: ignore[arg-type]
    text = _render(report, args.format, args.quiet, to_file=bool(args.output))
    if args.output:
        try:
            Path(args.output).write_text(text or "", encoding="utf-8")
        except OSError as exc:
            raise GradcheckError(f"--output {args.output!r} could not be written ({exc.strerror or exc})") from exc
    elif text is not None:
        sys.stdout.write(text)
    else:
        report.print()
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
    for code, info in sorted(CODES.items()):
        print(f"{code:<{width}}  {info.severity:<7}  {info.summary}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(argv)
    handler = {"report": _report, "demo": _demo, "codes": _codes}[args.command]
    try:
        return handler(args)
    except GradcheckError as exc:
        if args.debug:
            traceback.print_exc()
        message = (
            _in_flags(exc)
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
    """Console-script wrapper: exit with `main`'s code."""
    sys.exit(main())
