"""JupyterHub (zero-to-jupyterhub chart): its release values and the profiles each team's members may start.

Sign-in: the hub's internal ALB authenticates every request with the platform's OIDC provider (the same
``identity.oidc`` client MLflow uses, components.identity.oidc), and the hub itself signs people in with
GenericOAuthenticator against the same provider, reading the ``groups`` claim: a member of a team's owners group
(``owners.sso-group`` of its stack file) sees that team's profiles and nothing else.

Single-user servers: KubeSpawner starts each in the profile's team namespace (``kubespawner_override.namespace``;
KubeSpawner 7.0.0, the chart's, watches each such namespace with a reflector of its own, so the hub needs only a
Role there, which the team stack grants) with the team's service account (its Pod Identity role gives the team's
data access), as uid 1000, never privileged and without privilege escalation; the instance metadata service is
out of reach through the team namespace's default-deny NetworkPolicy and the nodes' IMDSv2 hop limit of 1 (the
chart's iptables init container is off: it needs a privileged container with NET_ADMIN). Each notebook pod names
the team's LocalQueue, so Kueue admits it against the team's quota and places it on the profile's pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.cluster.charts import SYSTEM_SCHEDULING, resources
from components.cluster.naming import POOL_LABEL
from components.identity.config import OidcConfig
from components.quantity import cpu_millis, memory_bytes
from components.training.config import NotebookProfile, NotebooksConfig, TeamTraining
from components.training.specs import DO_NOT_DISRUPT, LOCAL_QUEUE, QUEUE_LABEL

HUB_NAMESPACE = "jupyterhub"
HUB_SERVICE_ACCOUNT = (
    "hub"  # the chart's hub service account (templates/hub/_helpers-names.tpl, hub.serviceAccount)
)
HUB_PROXY_SERVICE = "proxy-public"
HUB_API_PORT = 8081
NOTEBOOK_PORT = 8888
NOTEBOOK_UID = 1000
NOTEBOOK_COMPONENT = "singleuser-server"  # the label component KubeSpawner gives single-user pods
HUB_IMAGE = "quay.io/jupyterhub/k8s-hub"
NOTEBOOK_GID = (
    100  # the users group of the Jupyter docker-stacks images: the home volume is group-writable for it
)
# The chart's access label: its hub NetworkPolicy admits pods carrying it (templates/hub/netpol.yaml), and its
# singleuser.extraLabels carries it, which a profile's extra_labels replaces, so each profile repeats it.
HUB_ACCESS_LABEL = "hub.jupyter.org/network-access-hub"
TEAM_NAMESPACE_LABEL = "team"  # every team namespace carries it (Kueue's managedJobsNamespaceSelector too)
# Servers wait in Kueue until their team's quota admits them, then for a node: well beyond the chart's 300 s.
START_TIMEOUT_SECONDS = 900
# Pod Security Standards "restricted" (https://kubernetes.io/docs/concepts/security/pod-security-standards/):
# KubeSpawner merges these over what uid / fs_gid / allow_privilege_escalation give (kubespawner.objects.make_pod),
# key by key, where singleuser.extraPodConfig.securityContext would replace the pod's security context whole.
CONTAINER_SECURITY_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": NOTEBOOK_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
POD_SECURITY_CONTEXT = {
    "fsGroup": NOTEBOOK_GID,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CALLBACK_PATH = "/hub/oauth_callback"

PROFILES_CODE = """\
from z2jh import get_config

TEAMS = get_config("custom.teams", {})


def team_profiles(spawner):
    \"\"\"The profiles of the teams whose owners group the user is in (groups come from the OIDC claim).\"\"\"
    groups = {group.name for group in spawner.user.groups}
    return [profile for team in TEAMS.values() if team["group"] in groups for profile in team["profiles"]]


c.KubeSpawner.profile_list = team_profiles
"""


def notebook_profile(
    team: str, namespace: str, service_account: str, profile: NotebookProfile
) -> dict[str, Any]:
    """One KubeSpawner profile: the team's namespace, service account and queue, the profile's size."""
    override: dict[str, Any] = {
        "namespace": namespace,
        "service_account": service_account,
        # The notebook calls AWS with the team's Pod Identity role, which needs no Kubernetes API token.
        "automount_service_account_token": False,
        "cpu_guarantee": cpu_millis(profile.cpu) / 1000,
        "cpu_limit": cpu_millis(profile.cpu) / 1000,
        "mem_guarantee": memory_bytes(profile.memory),
        "mem_limit": memory_bytes(profile.memory),
        "extra_labels": {QUEUE_LABEL: LOCAL_QUEUE, "team": team, HUB_ACCESS_LABEL: "true"},
        # Kueue picks the ResourceFlavor whose node labels match, so the server lands on the profile's pool.
        "node_selector": {POOL_LABEL: profile.pool},
        "extra_annotations": {DO_NOT_DISRUPT: "true"},
    }
    if profile.gpus:
        override["extra_resource_limits"] = {"nvidia.com/gpu": str(profile.gpus)}
        override["extra_resource_guarantees"] = {"nvidia.com/gpu": str(profile.gpus)}
    return {
        "display_name": f"{team}: {profile.name}",
        "slug": f"{team}-{profile.name}",
        "description": profile.description
        or f"{profile.cpu} CPU, {profile.memory}, {profile.gpus} GPU on pool {profile.pool}",
        "kubespawner_override": override,
    }


def team_profiles(
    teams: Sequence[tuple[str, str, TeamTraining]], service_account: str
) -> dict[str, dict[str, Any]]:
    """``custom.teams`` of the hub: each team's owners group and profiles, from ``(team, sso group, training)``."""
    return {
        team: {
            "group": group,
            "profiles": [
                notebook_profile(team, f"team-{team}", service_account, profile)
                for profile in training.notebook_profiles
            ],
        }
        for team, group, training in teams
    }


def hub_connect_url() -> str:
    """The hub's API as servers in other namespaces reach it: the chart's ``hub`` Service by its cluster DNS name."""
    return f"http://hub.{HUB_NAMESPACE}.svc.cluster.local:{HUB_API_PORT}"


def hub_ingress_from_team_namespaces() -> dict[str, Any]:
    """A ``hub.networkPolicy.ingress`` rule: notebook server pods of any team namespace to the hub's API port."""
    return {
        "ports": [{"port": HUB_API_PORT, "protocol": "TCP"}],
        "from": [
            {
                "namespaceSelector": {
                    "matchExpressions": [{"key": TEAM_NAMESPACE_LABEL, "operator": "Exists"}]
                },
                "podSelector": {"matchLabels": {"component": NOTEBOOK_COMPONENT}},
            }
        ],
    }


def jupyterhub_values(
    notebooks: NotebooksConfig,
    oidc: OidcConfig,
    client_secret: Any,
    teams: Mapping[str, Any],
    storage_class: str,
    hub_tag: str,
) -> dict[str, Any]:
    """The zero-to-jupyterhub release values (chart values.yaml at the pinned version names every key)."""
    groups = sorted({team["group"] for team in teams.values()})
    scheduling = {
        "nodeSelector": SYSTEM_SCHEDULING["nodeSelector"],
        "tolerations": SYSTEM_SCHEDULING["tolerations"],
    }
    return {
        "custom": {"teams": dict(teams)},
        "hub": {
            "image": {"name": HUB_IMAGE, "tag": hub_tag},
            "config": {
                "JupyterHub": {
                    "authenticator_class": "generic-oauth",
                    "admin_access": False,
                    # The chart's default is http://hub:8081 (files/hub/jupyterhub_config.py), which resolves
                    # only in the hub's namespace; servers run in team namespaces.
                    "hub_connect_url": hub_connect_url(),
                },
                "KubeSpawner": {
                    "container_security_context": CONTAINER_SECURITY_CONTEXT,
                    "pod_security_context": POD_SECURITY_CONTEXT,
                },
                "Authenticator": {"enable_auth_state": False},
                "GenericOAuthenticator": {
                    "client_id": oidc.client_id,
                    "client_secret": client_secret,
                    "oauth_callback_url": f"https://{notebooks.host}{CALLBACK_PATH}",
                    "authorize_url": oidc.authorization_endpoint,
                    "token_url": oidc.token_endpoint,
                    "userdata_url": oidc.user_info_endpoint,
                    "scope": [*oidc.scope.split(), "groups"],
                    "username_claim": "email",
                    "claim_groups_key": "groups",
                    "allowed_groups": groups,
                    "manage_groups": True,
                },
            },
            "extraConfig": {"team-profiles": PROFILES_CODE},
            "resources": resources("100m", "512Mi", "1", "1Gi"),
            "db": {"pvc": {"storageClassName": storage_class}},
            "networkPolicy": {
                "egressAllowRules": {"cloudMetadataServer": False},
                # The chart admits only labelled pods of its own namespace (interNamespaceAccessLabels ignore);
                # notebook servers of team namespaces reach the API port through this rule, and nothing else does.
                "ingress": [hub_ingress_from_team_namespaces()],
            },
            **scheduling,
        },
        "proxy": {
            # Reached only through the internal ALB's Ingress (which signs people in); never a load balancer of its own.
            "service": {"type": "ClusterIP"},
            "chp": {
                "resources": resources("100m", "128Mi", "500m", "256Mi"),
                "networkPolicy": {"egressAllowRules": {"cloudMetadataServer": False}},
                **scheduling,
            },
        },
        "singleuser": {
            # The chart composes ``name:tag`` only for a non-empty tag (files/hub/jupyterhub_config.py), so the whole
            # reference goes in the name: ``repository@sha256:...`` (a digest is no tag).
            "image": {"name": notebooks.image, "tag": ""},
            "uid": NOTEBOOK_UID,
            "fsGid": NOTEBOOK_GID,
            "startTimeout": START_TIMEOUT_SECONDS,
            "allowPrivilegeEscalation": False,
            "cloudMetadata": {"blockWithIptables": False},
            # The chart's own singleuser NetworkPolicy lives in the hub's namespace; servers run in team namespaces,
            # where the team's policies apply.
            "networkPolicy": {"enabled": False},
            "storage": {
                "type": "dynamic",
                "capacity": f"{notebooks.home_size_gib}Gi",
                "dynamic": {"storageClass": storage_class},
            },
            "profileList": [],
        },
        "scheduling": {"userScheduler": {"enabled": False}, "userPlaceholder": {"enabled": False}},
        "prePuller": {"hook": {"enabled": False}, "continuous": {"enabled": False}},
        "cull": {"enabled": True, "timeout": notebooks.cull_timeout_seconds, "every": 300, "users": False},
        "ingress": {"enabled": False},
    }
