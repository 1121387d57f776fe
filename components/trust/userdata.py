"""Node user data for a proxy and a custom CA bundle: AL2023 (nodeadm) MIME multi-part, or Bottlerocket TOML.

AL2023: EKS (managed node groups) and Karpenter add their own NodeConfig part to the user data and nodeadm merges
the parts; a launch template's or EC2NodeClass's own user data must therefore be a MIME multi-part document
("Customize managed nodes with launch templates", https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html;
Karpenter "EC2NodeClass: spec.userData", https://karpenter.sh/docs/concepts/nodeclasses/#specuserdata). nodeadm's
NodeConfig has no proxy or CA field (its CRD, awslabs/amazon-eks-ami nodeadm/crds/node.eks.aws_nodeconfigs.yaml:
cluster, containerd, featureGates, instance, kubelet), so a shell part writes the systemd drop-ins containerd and the
kubelet read their proxy from ("Configure proxy for hybrid nodes",
https://docs.aws.amazon.com/eks/latest/userguide/hybrid-nodes-proxy.html: `/etc/systemd/system/containerd.service.d/
http-proxy.conf` with `Environment="HTTP_PROXY=..."`, the same for kubelet.service.d) and adds the CA to the
system trust store (`/etc/pki/ca-trust/source/anchors/` then `update-ca-trust`, Amazon Linux 2023 User Guide,
"Adding a certificate authority"). cloud-init runs the shell part before nodeadm-run starts containerd and the
kubelet.

Bottlerocket has no shell: its user data is TOML settings (`settings.network.https-proxy`/`no-proxy`,
https://bottlerocket.dev/en/os/1.34.x/api/settings/network/; `settings.pki.<bundle>.data` (base64 PEM) and
`trusted`, https://bottlerocket.dev/en/os/1.34.x/api/settings/pki/), which Karpenter merges with its own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from components.trust.proxy import ProxySettings

BOUNDARY = "MLOPS-NODE-USERDATA"
CA_ANCHOR = "/etc/pki/ca-trust/source/anchors/mlops-custom-ca.pem"
PROXY_UNITS = ("containerd", "kubelet")
PKI_BUNDLE = "mlops-custom-ca"


def drop_in(proxy: ProxySettings) -> str:
    """The `[Service]` drop-in of a unit: the proxy variables as systemd Environment= lines (quoted whole)."""
    lines = ["[Service]"]
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        lines.append(f'Environment="{key}={proxy.env()[key]}"')
    return "\n".join(lines) + "\n"


def shell_script(proxy: ProxySettings | None, ca_pem: str | None) -> str:
    """The shell part: systemd drop-ins for containerd and the kubelet, and the CA in the system trust store."""
    lines = ["#!/bin/bash", "set -euo pipefail"]
    if proxy is not None:
        for unit in PROXY_UNITS:
            folder = f"/etc/systemd/system/{unit}.service.d"
            lines += [
                f"mkdir -p {folder}",
                f"cat > {folder}/http-proxy.conf <<'MLOPS_EOF'",
                drop_in(proxy).rstrip("\n"),
                "MLOPS_EOF",
            ]
    if ca_pem is not None:
        lines += [f"cat > {CA_ANCHOR} <<'MLOPS_EOF'", ca_pem.strip(), "MLOPS_EOF", "update-ca-trust extract"]
    lines.append("systemctl daemon-reload")
    return "\n".join(lines) + "\n"


def al2023_user_data(proxy: ProxySettings | None, ca_pem: str | None) -> str:
    """A MIME multi-part document with the shell part (nodeadm merges EKS's or Karpenter's NodeConfig with it)."""
    document = MIMEMultipart("mixed", boundary=BOUNDARY)
    document.attach(MIMEText(shell_script(proxy, ca_pem), "x-shellscript", "us-ascii"))
    return document.as_string()


def _toml_string(value: str) -> str:
    # A TOML basic string: JSON's escapes are TOML's for ASCII text.
    return json.dumps(value)


def _toml_array(values: Sequence[str]) -> str:
    return "[" + ", ".join(_toml_string(value) for value in values) + "]"


def bottlerocket_user_data(proxy: ProxySettings | None, ca_pem: str | None) -> str:
    """Bottlerocket settings (TOML): the HTTPS proxy and its exemptions, and the CA bundle as a trusted bundle."""
    parts: list[str] = []
    if proxy is not None:
        parts.append(
            "[settings.network]\n"
            f"https-proxy = {_toml_string(proxy.https)}\n"
            f"no-proxy = {_toml_array(proxy.no_proxy)}\n"
        )
    if ca_pem is not None:
        data = base64.b64encode(ca_pem.strip().encode() + b"\n").decode()
        parts.append(f"[settings.pki.{PKI_BUNDLE}]\ndata = {_toml_string(data)}\ntrusted = true\n")
    return "\n".join(parts)


def node_user_data(ami_alias: str, proxy: ProxySettings | None, ca_pem: str | None) -> str | None:
    """The user data of nodes of an AMI family (the EC2NodeClass alias's family); None when there is nothing."""
    if proxy is None and ca_pem is None:
        return None
    if ami_alias.startswith("bottlerocket@"):
        return bottlerocket_user_data(proxy, ca_pem)
    return al2023_user_data(proxy, ca_pem)
