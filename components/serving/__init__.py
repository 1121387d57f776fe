"""Model serving: what a team's models run on and are reached through.

Modules: ``workload`` (the hardened container and pod specs every workload of the platform uses), ``ingress``
(the shared serving load balancer, its host names and the guard on team Ingresses), ``team`` (TeamSpace: a
team's namespace, role, repositories and network policies in each cluster), ``deployment`` (ModelDeployment:
one model's versions, their target groups, the weighted split and autoscaling). Nothing is imported here, so
that the registry can use ``workload`` and ``ingress`` without loading the team's modules.
"""
