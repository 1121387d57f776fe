"""``python -m mlops`` and the ``mlops`` command: a check starts the policy pack before anything else is
imported, so that its start-up (the policy SDK, the pack) overlaps with the command line's own: over gRPC
(``mlops check --grpc``) the pack's own process, for a saved document (``mlops check --from``) a forked child
serving the pack's analyzer (mlops/analyzer.py ``ForkedPack``). Checks that synthesise run the pack in each
stack's forked child instead."""

import os
import sys


def main() -> None:
    arguments = sys.argv[1:]
    while arguments[:1] == ["--debug"]:  # the command line's only global option
        arguments = arguments[1:]
    if arguments[:1] == ["check"] and not {"--help", "-h"} & set(arguments):
        grpc = (
            "--grpc" in arguments
            or os.environ.get("MLOPS_CHECK_GRPC") == "1"
            or os.environ.get("MLOPS_CHECK_SPAWN") == "1"
        )
        if grpc or any(argument == "--from" or argument.startswith("--from=") for argument in arguments):
            from mlops.analyzer import start_early

            start_early(grpc)
    from mlops.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
