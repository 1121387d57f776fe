"""``python -m mlops`` and the ``mlops`` command: a check starts the policy pack before anything else is
imported, so that its start-up (the policy SDK, the pack) overlaps with the command line's own: over gRPC
(``mlops check --grpc``) the pack's own process, for a saved document (``mlops check --from``) a forked child
serving the pack's analyzer (mlops/analyzer.py ``ForkedPack``); for stacks to synthesise, the process that imports
the SDKs and the pack and forks each stack's child (mlops/forked.py ``EarlyScheduler``)."""

import os
import sys

# `mlops check` options that take a value (the value is not a stack name).
VALUE_OPTIONS = {"--stacks-dir", "--format", "--output", "-o", "--changed-since", "--shard", "--from"}


def several_stacks(arguments: list[str]) -> bool:
    """Whether a check's arguments name more than one stack (``--all``, or several names): the scheduler then
    loads every SDK submodule at once, for all its children. A selection (``--changed-since``, ``--shard``) is
    decided when the scheduler gets its request: a pull request that changes one team's file checks that team
    as fast as naming it."""
    if "--all" in arguments:
        return True
    names, skip = 0, False
    for argument in arguments:
        if skip:
            skip = False
        elif argument in VALUE_OPTIONS:
            skip = True
        elif not argument.startswith("-"):
            names += 1
    return names > 1


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
        else:  # stacks to synthesise: the process that imports the SDKs and the pack starts now
            from mlops.forked import start_early as start_scheduler

            start_scheduler(eager=several_stacks(arguments[1:]))
    from mlops.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
