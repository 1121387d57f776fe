"""The Pulumi program of every stack: load the typed config, compose components, export outputs.

A stack file with `mlops:team` is a model-team stack (stacks/team.py); one with `mlops:platform` is a platform
stack (stacks/builders.py).
"""

import pulumi

from components.config import parse_platform, parse_team
from components.loader import stack_file
from stacks import team
from stacks.builders import build_platform

stack = pulumi.get_stack()
config = pulumi.Config("mlops")
if config.get_object("team") is not None:
    team_file = stack_file("stacks", stack)
    team.build(parse_team(config.get_object("team"), team_file), str(team_file))
else:
    platform_file = stack_file("stacks", stack)
    build_platform(parse_platform(config.get_object("platform"), platform_file), platform_file)
