"""``python -m mlops``, the ``mlops`` command. Ctrl-C at any point ends it with exit code 130: the interrupt is
remembered, so a library turning KeyboardInterrupt into its own error (pydantic-core does) cannot change that."""

import signal
import sys


def main() -> None:
    interrupted: list[int] = []

    def interrupt(signum: int, frame: object) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where SIGINT is ignored
        signal.signal(signal.SIGINT, interrupt)
    try:
        from mlops.cli import main as cli_main

        cli_main()
    except BaseException:
        if interrupted:
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
