"""Public DNS for model endpoints: the platform's hosted zone (``zone.ServingDns``), and the routed,
health-checked record of each model that a team stack creates from the load balancer the controller made
(``records.ModelEndpointDns``); ``config`` holds the stack-file section and the certificate checks.

The modules are imported by name: this package imports nothing, so ``components.config`` can import
``components.dns.config`` without loading Pulumi.
"""
