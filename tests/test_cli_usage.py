"""Every usage or option problem on the command line is one line on stderr, in argparse's words or the
kit's, naming the help to read; nothing on stdout; exit code 2."""

from __future__ import annotations

import pytest

from gradcheck_kit.cli import main
from gradcheck_kit.io import save_batch, save_model
from tests import models
from tests.models import data


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("usage")
    X, y = data()
    save_model(models.MLP(), d / "m.npz")
    save_batch(d / "b.npz", X, y)
    return d


REPORT_HELP = "; see 'gradcheck-kit report --help'"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--format", "yaml"], "argument --format: invalid choice: "),
        (["--lr", "abc"], "argument --lr: invalid float value: 'abc'" + REPORT_HELP),
        (["--max-entries", "many"], "argument --max-entries: invalid int value: 'many'" + REPORT_HELP),
        (["--jobs", "2"], "--jobs 2 takes effect only with --exhaustive"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate" + REPORT_HELP),
        (["--eps"], "argument --eps: expected one argument" + REPORT_HELP),
    ],
)
def test_report_usage_errors_are_one_line(files, capsys, args, said):
    code = main(["report", str(files / "m.npz"), "--trust", "--batch", str(files / "b.npz"), *args])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    assert err.startswith("gradcheck-kit: error: ") and said in err and err.rstrip().endswith(REPORT_HELP), err
    if args[0] == "--format":  # argparse's own words, the choices included
        assert all(name in err for name in ("yaml", "table", "json", "csv", "markdown")), err


@pytest.mark.parametrize(
    ("argv", "said", "help_of"),
    [
        (["report", "m.npz"], "the following arguments are required: --batch", "gradcheck-kit report"),
        (["frobnicate"], "argument {report,demo,codes}: invalid choice: 'frobnicate'", "gradcheck-kit"),
        ([], "the following arguments are required: {report,demo,codes}", "gradcheck-kit"),
        (["codes", "--wide"], "unrecognized arguments: --wide", "gradcheck-kit codes"),
        (["demo", "extra"], "unrecognized arguments: extra", "gradcheck-kit demo"),
    ],
)
def test_every_subcommand_says_a_usage_error_in_one_line(capsys, argv, said, help_of):
    code = main(argv)
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith(f"gradcheck-kit: error: {said}") and err.endswith(f"; see '{help_of} --help'\n"), err
    assert err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--eps", "0"], "gradcheck-kit: error: --eps 0; expected a positive finite number\n"),
        (["--eps=-1e-3"], "gradcheck-kit: error: --eps -1e-3; expected a positive finite number\n"),
        (["--max-entries", "0"], "gradcheck-kit: error: --max-entries 0; expected an integer >= 1\n"),
    ],
)
def test_an_option_value_is_echoed_as_typed(files, capsys, args, said):
    code = main(["report", str(files / "m.npz"), "--trust", "--batch", str(files / "b.npz"), *args])
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", said)


def test_help_and_version_still_exit_0(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["report", "--help"])
    assert exited.value.code == 0 and "usage: gradcheck-kit report" in capsys.readouterr().out
