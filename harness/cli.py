"""The `t4rec-bench` command line. Heavy libraries load inside commands, so --help is fast."""

from __future__ import annotations

import argparse
import importlib
import sys

from harness import __version__
from harness.commands import COMMANDS
from harness.errors import EXIT_ERROR, EXIT_INTERRUPTED, HarnessError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one `error:` line and exit code 2, as for every bad input
        self.exit(EXIT_ERROR, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="t4rec-bench", description="Benchmark and regression-test harness for "
                     "NVTabular + Transformers4Rec session-based recommendation pipelines.",
                     epilog="exit codes: 0 ok/improved, 1 regressed, 2 harness error or bad input, "
                     "3 no comparable baseline, 4 the pipeline run failed, 6 undecided (all of them: README, "
                     "\"Exit codes\")")
    parser.add_argument("--version", action="version", version=f"t4rec-bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"harness.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"harness.commands.{name}":
                raise
            continue  # a command not built yet
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a harness bug must not read as "regressed" (exit 1)
        import traceback

        traceback.print_exc()
        print(f"error: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
