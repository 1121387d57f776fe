"""``python -m mlops`` and the ``mlops`` command: a check launches the policy pack's process before anything
else is imported, so that its start-up (the policy SDK) overlaps with the command line's own."""

import sys


def main() -> None:
    if sys.argv[1:2] == ["check"] and not {"--help", "-h"} & set(sys.argv):
        from mlops.analyzer import start_early

        start_early()
    from mlops.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
