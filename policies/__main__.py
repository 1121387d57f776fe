"""The mlops-platform CrossGuard policy pack.

Run by the Pulumi engine (`pulumi preview --policy-pack policies`) or by `mlops check --grpc` offline, which
starts this same program the way the engine does and drives it over the Analyzer protocol. (`mlops check`
without `--grpc` serves the same pack's analyzer in its own process: policies/speedups.py `in_process`.)
"""

import os

from pulumi_policy import PolicyPack

from policies import speedups
from policies.pack import pack_arguments

# The SDK's stock servicer stays available for comparison (benchmarks/check.py) and as a fallback.
if os.environ.get(speedups.STOCK_ENV) != "1":
    speedups.install()

PolicyPack(**pack_arguments())
