"""Regenerate policies/data/taggable-aws-types.json from the installed pulumi_aws (run after upgrading it).

A resource type is taggable when its constructor takes `tags`. Reading the SDK's source keeps the policy pack
free of importing all of pulumi_aws at analysis time.
Usage: .venv/bin/python policies/gen_taggable.py
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pulumi_aws

TOKEN = re.compile(r"super\(\w+, __self__\).__init__\(\s*'(aws:[^']+)'")


def taggable_types() -> list[str]:
    found = set()
    for path in Path(pulumi_aws.__file__).parent.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        match = TOKEN.search(text)
        if match and "def _internal_init(" in text:
            init = text[text.index("def _internal_init(") :]
            init = init[: init.index("):")]
            if re.search(r"\btags: ", init):
                found.add(match.group(1))
    return sorted(found)


if __name__ == "__main__":
    target = Path(__file__).parent / "data" / "taggable-aws-types.json"
    types = taggable_types()
    target.write_text(json.dumps({"pulumi-aws": version("pulumi_aws"), "types": types}, indent=0) + "\n")
    print(f"{len(types)} taggable types -> {target}")
