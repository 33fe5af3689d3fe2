"""One module per command. Each defines ``add_parser(subparsers)`` and ``main(args) -> int``
and imports nothing heavy at module level, so ``t4rec-bench --help`` stays fast."""

COMMANDS = ("run", "compare", "check", "baseline", "calibrate", "report", "history", "nightly", "sweep", "bisect",
            "bisect_env", "stack")
