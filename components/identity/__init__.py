"""Single sign-on: IAM Identity Center permission sets, their access to the clusters, and OIDC for web UIs.

People never get IAM users. Three Identity Center permission sets (platform admin, ML engineer, read-only) are
assigned to the directory groups named in config; Identity Center provisions one role per permission set in
the account (``AWSReservedSSO_<name>_<suffix>``), and EKS access entries map those roles into every cluster
with a cluster-, namespace- or view-scoped access policy (``sso.PlatformIdentity``; what each role may do is
data in ``policies``). Web UIs (MLflow) sign users in through the load balancer's ``authenticate-oidc``
action, configured on their Ingress by ``oidc.oidc_ingress_annotations`` (``oidc.OidcSignIn``). ``config``
holds the stack-file section.

The modules are imported by name: this package imports nothing, so ``components.config`` can import
``components.identity.config`` without loading Pulumi.
"""
