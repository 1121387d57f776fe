"""The mlops-platform CrossGuard policy pack.

Run by the Pulumi engine (`pulumi preview --policy-pack policies`) or by `mlops check` offline, which starts this
same program the way the engine does and drives it over the Analyzer protocol.
"""

import os

from pulumi_policy import EnforcementLevel, PolicyPack

from policies import speedups
from policies.pack import all_policies

# The SDK's stock servicer stays available for comparison (benchmarks/check.py) and as a fallback.
if os.environ.get("MLOPS_POLICY_STOCK_SERVICER") != "1":
    speedups.install()

PolicyPack(
    name="mlops-platform-security",
    description="The mlops-platform security baseline: encryption, private networking, least privilege, "
    "hardened workloads, tagging and protection of stateful resources.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=all_policies(),
)
