"""Serving clusters, split like pulumi-eks: the control plane, the nodes, the EKS add-ons, the Helm charts and
Karpenter, each a module of builders that create their resources under the cluster component; ``component``
composes them into ``ServingCluster`` (EKS) and ``ByoCluster`` (an existing cluster), and ``config`` holds the
cluster's config models.

Nothing is imported here, so ``components.config`` can import ``components.cluster.config`` without Pulumi.
"""
