"""Model serving: what a team's models run on and are reached through.

Modules: ``config`` (the team stack's models), ``ingress`` (the shared serving load balancer, its host names and
the guard on team Ingresses), ``team`` (TeamSpace: a team's namespace, role, repositories and network policies in
each cluster), ``deployment`` (ModelDeployment: one model's versions, their target groups, the weighted split and
autoscaling). The hardened workload specs and internal load balancer settings they use are blocks
(components.blocks.workload, components.blocks.ingress), which the registry's MLflow uses too. Nothing is imported
here, so that ``components.serving.config`` loads without Pulumi.
"""
