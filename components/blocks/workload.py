"""The hardened pod spec every platform workload uses (the Kubernetes part of the security baseline).

Non-root with a high UID, read-only root filesystem (writable scratch only in an emptyDir), no privilege
escalation, all capabilities dropped, seccomp RuntimeDefault, no service-account token mounted (EKS Pod Identity
injects its own projected token, so workloads with an IAM role still need none), requests and limits, readiness
and liveness probes, and no host namespaces or host paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

RUN_AS_USER = 10001
GPU_RESOURCE = "nvidia.com/gpu"
# Where the EKS Pod Identity agent hands out credentials: pods with an IAM role must reach it.
POD_IDENTITY_AGENT = "169.254.170.23/32"
# The TLS policy of every internal HTTPS ingress (TLS 1.2 and 1.3, forward secrecy only).
INGRESS_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# The labels of a namespace whose pods must meet the "restricted" Pod Security Standard (enforced, audited, warned).
RESTRICTED_POD_SECURITY = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")
}


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: pulumi.Input[str]
    port: int
    health_path: str
    cpu: str
    memory: str
    gpus: int = 0
    args: Sequence[pulumi.Input[str]] = ()
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # A disk-backed scratch volume of this size at /scratch, TMPDIR pointing there (for large temporary files
    # such as buffered uploads; /tmp stays a small memory volume). The container requests the node's ephemeral
    # storage for it, so the scheduler places the pod where it fits and the kubelet evicts it only beyond.
    scratch: str | None = None


SCRATCH_PATH = "/scratch"
CA_BUNDLE_PATH = "/etc/mlops/ca"
TLS_PATH = "/etc/mlops/tls"
# The variables that point TLS clients at a CA bundle file: OpenSSL (Python's ssl, curl), Python requests, and the
# AWS SDKs and CLI ("ca_bundle" setting: https://docs.aws.amazon.com/sdkref/latest/guide/feature-gen-config.html).
CA_BUNDLE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE")


@dataclass(frozen=True)
class PodTrust:
    """What a platform with private networking gives a pod: the CA bundle ConfigMap (trust-manager's, in every
    namespace) mounted read-only with the CA-bundle variables pointing at it, the egress proxy variables, and a
    certificate Secret (kubernetes.io/tls, issued by cert-manager) mounted at /etc/mlops/tls for the server.

    ``serves_tls``: the container answers HTTPS on its port with that certificate, so its probes use HTTPS (the
    kubelet does not verify a probe's certificate: Kubernetes docs, "Configure Liveness, Readiness and Startup
    Probes", HTTP probes `scheme`)."""

    ca_bundle: str | None = None  # the ConfigMap's name
    ca_bundle_key: str = "ca-bundle.pem"
    proxy_env: Mapping[str, str] = field(default_factory=dict)
    tls_secret: pulumi.Input[str] | None = None
    serves_tls: bool = False

    @property
    def ca_file(self) -> str:
        return f"{CA_BUNDLE_PATH}/{self.ca_bundle_key}"

    def env(self) -> dict[str, str]:
        values = dict(self.proxy_env)
        if self.ca_bundle is not None:
            values.update({name: self.ca_file for name in CA_BUNDLE_VARIABLES})
        if self.tls_secret is not None:
            values.update(
                {
                    "TLS_CERT_FILE": f"{TLS_PATH}/tls.crt",
                    "TLS_KEY_FILE": f"{TLS_PATH}/tls.key",
                    "TLS_CA_FILE": f"{TLS_PATH}/ca.crt",
                }
            )
        return values

    def mounts(self) -> list[k8s.core.v1.VolumeMountArgs]:
        mounts = []
        if self.ca_bundle is not None:
            mounts.append(
                k8s.core.v1.VolumeMountArgs(name="ca-bundle", mount_path=CA_BUNDLE_PATH, read_only=True)
            )
        if self.tls_secret is not None:
            mounts.append(k8s.core.v1.VolumeMountArgs(name="tls", mount_path=TLS_PATH, read_only=True))
        return mounts

    def volumes(self) -> list[k8s.core.v1.VolumeArgs]:
        volumes = []
        if self.ca_bundle is not None:
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name="ca-bundle",
                    config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                        name=self.ca_bundle,
                        items=[k8s.core.v1.KeyToPathArgs(key=self.ca_bundle_key, path=self.ca_bundle_key)],
                    ),
                )
            )
        if self.tls_secret is not None:
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name="tls", secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=self.tls_secret)
                )
            )
        return volumes


def container_security_context() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True,
        run_as_user=RUN_AS_USER,
        run_as_group=RUN_AS_USER,
        read_only_root_filesystem=True,
        allow_privilege_escalation=False,
        privileged=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def hardened_container(spec: ContainerSpec, trust: PodTrust | None = None) -> k8s.core.v1.ContainerArgs:
    """A container per the baseline; limits equal requests so the pod is Guaranteed QoS. With ``trust``, the
    CA bundle, proxy and certificate (PodTrust) too."""
    amounts = {"cpu": spec.cpu, "memory": spec.memory}
    if spec.gpus:
        amounts[GPU_RESOURCE] = str(spec.gpus)
    env = {**(trust.env() if trust else {}), **spec.env}
    mounts = [k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")]
    if spec.scratch:
        amounts["ephemeral-storage"] = spec.scratch
        env["TMPDIR"] = SCRATCH_PATH
        mounts.append(k8s.core.v1.VolumeMountArgs(name="scratch", mount_path=SCRATCH_PATH))
    if trust is not None:
        mounts.extend(trust.mounts())
    probe = k8s.core.v1.HTTPGetActionArgs(
        path=spec.health_path, port="http", scheme="HTTPS" if trust is not None and trust.serves_tls else None
    )
    return k8s.core.v1.ContainerArgs(
        name=spec.name,
        image=spec.image,
        args=list(spec.args) or None,
        env=[k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in sorted(env.items())] or None,
        ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=spec.port, protocol="TCP")],
        resources=k8s.core.v1.ResourceRequirementsArgs(requests=amounts, limits=amounts),
        readiness_probe=k8s.core.v1.ProbeArgs(
            http_get=probe, initial_delay_seconds=5, period_seconds=10, timeout_seconds=2, failure_threshold=3
        ),
        liveness_probe=k8s.core.v1.ProbeArgs(
            http_get=probe,
            initial_delay_seconds=30,
            period_seconds=20,
            timeout_seconds=2,
            failure_threshold=3,
        ),
        security_context=container_security_context(),
        volume_mounts=mounts,
    )


def hardened_pod_spec(
    containers: Sequence[k8s.core.v1.ContainerArgs],
    service_account: pulumi.Input[str],
    *,
    gpu: bool = False,
    spread_labels: Mapping[str, str] | None = None,
    node_selector: Mapping[str, str] | None = None,
    scratch: str | None = None,
    trust: PodTrust | None = None,
    restart_policy: str | None = None,
) -> k8s.core.v1.PodSpecArgs:
    """The pod around hardened containers: no token, no host namespaces, /tmp in memory (and, with
    ``scratch``, a disk-backed scratch volume of that size, see ContainerSpec.scratch), zone spread;
    ``restart_policy`` for a Job's pod (Never or OnFailure), unset (Always) for long-running ones."""
    return k8s.core.v1.PodSpecArgs(
        service_account_name=service_account,
        automount_service_account_token=False,
        host_network=False,
        host_pid=False,
        host_ipc=False,
        enable_service_links=False,
        security_context=k8s.core.v1.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=RUN_AS_USER,
            run_as_group=RUN_AS_USER,
            fs_group=RUN_AS_USER,
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        containers=list(containers),
        volumes=[
            k8s.core.v1.VolumeArgs(
                name="tmp",
                empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(medium="Memory", size_limit="256Mi"),
            ),
            *(
                [
                    k8s.core.v1.VolumeArgs(
                        name="scratch", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=scratch)
                    )
                ]
                if scratch
                else []
            ),
            *(trust.volumes() if trust is not None else []),
        ],
        tolerations=[k8s.core.v1.TolerationArgs(key=GPU_RESOURCE, operator="Exists", effect="NoSchedule")]
        if gpu
        else None,
        node_selector=dict(node_selector) if node_selector else None,
        topology_spread_constraints=[
            k8s.core.v1.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key="topology.kubernetes.io/zone",
                when_unsatisfiable="ScheduleAnyway",
                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(spread_labels)),
            )
        ]
        if spread_labels
        else None,
        termination_grace_period_seconds=30,
        restart_policy=restart_policy,
    )
