"""The bare SDK floor: the same resources registered flat, with no component logic.

Reads FLOOR_PROGRAM_SPEC (a JSON file written by benchmarks/preview.py): the provider SDK modules the real
program imported, and every custom resource (type token, name, inputs) it registered. It imports those
modules (any program using the typed SDKs pays for them) and registers each resource as a plain
``pulumi.CustomResource`` under the stack: no config parsing, no components, no typed Args, no outputs wiring.
"""

import importlib
import json
import os

import pulumi

with open(os.environ["FLOOR_PROGRAM_SPEC"], encoding="utf-8") as handle:
    spec = json.load(handle)
for module in spec["modules"]:
    importlib.import_module(module)
for resource in spec["resources"]:
    pulumi.CustomResource(resource["type"], resource["name"], resource["inputs"])
