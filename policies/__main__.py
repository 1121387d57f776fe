"""The mlops-platform CrossGuard policy pack.

Run by the Pulumi engine (`pulumi preview --policy-pack policies`) and by `mlops check`, which starts this same
program the way the engine does and speaks the Analyzer protocol to it over gRPC (mlops/analyzer.py).
"""

from pulumi_policy import PolicyPack

from policies.pack import pack_arguments

PolicyPack(**pack_arguments())
