"""Governance logging, alerting and metrics: CloudTrail, SNS alert topics, CloudWatch alarms and dashboard,
Amazon Managed Prometheus, Container Insights and Amazon Managed Grafana.

``platform.PlatformObservability`` is built once per environment from plain inputs per region
(``signals.RegionSignals``: cluster name, logs key ARN, database identifier, Karpenter interruption queue name,
serving load balancer), so it does not depend on how the clusters, keys or the registry are built. It composes
``trail`` (the governance trail), ``monitoring`` (per region: ``topics``, alarms, ``prometheus``,
``insights``), the dashboard and ``grafana``; ``config`` holds the stack-file section they are built from.

The modules are imported by name (``components.observability.platform``): this package imports nothing, so
``components.config`` can import ``components.observability.config`` without loading Pulumi.
"""
