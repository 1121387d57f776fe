"""``python -m mlops`` and the ``mlops`` command. Ctrl-C at any point, even while the command line is still being
imported, ends the command with exit code 130 (mlops/cli.py ``main`` does the same once it runs)."""

import sys


def main() -> None:
    try:
        from mlops.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
