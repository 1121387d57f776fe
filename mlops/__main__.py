"""``python -m mlops``, the ``mlops`` command. Ctrl-C at any point ends it with exit code 130 (SIGTERM 143, SIGHUP
129): the interrupt is remembered, so a library turning KeyboardInterrupt into its own error (pydantic-core does) cannot change that."""

import signal
import sys


def main() -> None:
    interrupted: list[int] = []

    def interrupt(signum: int, frame: object) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    # SIGTERM (timeout, a CI step's cancel) and SIGHUP (a closed terminal) end it as Ctrl-C does: the pack's
    # process and the workers are stopped and waited for, and the exit code is 128 + the signal's number.
    for signum, default in (
        (signal.SIGINT, signal.default_int_handler),
        (signal.SIGTERM, signal.SIG_DFL),
        (signal.SIGHUP, signal.SIG_DFL),
    ):
        if (
            signal.getsignal(signum) is default
        ):  # not where the signal is ignored (nohup, a shell's background)
            signal.signal(signum, interrupt)
    try:
        from mlops.cli import main as cli_main

        cli_main()
    except BaseException:
        if interrupted:
            sys.exit(128 + interrupted[0])
        raise


if __name__ == "__main__":
    main()
