"""Who reaches MLflow, and how: people through its load balancer after signing in (identity.oidc), workloads
through its Service from the namespaces the allow-clients NetworkPolicy admits."""

from __future__ import annotations

import ipaddress
import json

import kubernetes_validate
import yaml

from policies.pack import environment_config
from tests.conftest import STACKS, by_name, run_mlops, states
from tests.kube import KUBERNETES_VERSION
from tests.policies.validate import analyze_in_process

ALB = "alb.ingress.kubernetes.io"
PROD_OIDC = yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())["config"]["mlops:platform"]["identity"][
    "oidc"
]


def manifest(state: dict) -> dict:
    return {key: value for key, value in state["inputs"].items() if key not in ("id", "urn")}


def test_people_sign_in_on_mlflows_load_balancer_with_identity_oidc(synth):
    """aws-load-balancer-controller v2.13.2 docs/guide/ingress/annotations.md, "Authentication"
    (https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v2.13.2/docs/guide/ingress/annotations.md#authentication):
    auth-type oidc, auth-idp-oidc as JSON with issuer, authorizationEndpoint, tokenEndpoint, userInfoEndpoint and
    secretName (a Secret in the Ingress's namespace), auth-on-unauthenticated-request, auth-scope,
    auth-session-timeout in seconds."""
    prod = synth("prod")
    ingress = by_name(prod, "registry-mlflow-ingress")
    metadata = ingress["inputs"]["metadata"]
    annotations = metadata["annotations"]
    assert annotations[f"{ALB}/auth-type"] == "oidc"
    assert json.loads(annotations[f"{ALB}/auth-idp-oidc"]) == {
        "issuer": PROD_OIDC["issuer"],
        "authorizationEndpoint": PROD_OIDC["authorization-endpoint"],
        "tokenEndpoint": PROD_OIDC["token-endpoint"],
        "userInfoEndpoint": PROD_OIDC["user-info-endpoint"],
        "secretName": "mlflow-oidc",
    }
    assert annotations[f"{ALB}/auth-on-unauthenticated-request"] == "authenticate"
    assert annotations[f"{ALB}/auth-scope"] == "openid email profile"
    assert annotations[f"{ALB}/auth-session-timeout"] == "3600"
    # Authentication is only supported on HTTPS listeners: the ALB listens on nothing else.
    assert json.loads(annotations[f"{ALB}/listen-ports"]) == [{"HTTPS": 443}]
    assert metadata["labels"]["mlops.platform/purpose"] == "platform-ui"
    # The Secret, and the controller's right to read it, exist before the controller builds the listener rules.
    secret = by_name(prod, "registry-mlflow-signin-client")
    binding = by_name(prod, "registry-mlflow-signin-reader-binding")
    assert {secret["urn"], binding["urn"]} <= set(ingress["dependencies"])


def test_the_client_secret_lives_in_the_ingress_namespace_and_stays_secret(synth):
    """annotations.md (v2.13.2), auth-idp-oidc: "create an secret within the same namespace as Ingress"."""
    prod = synth("prod")
    secret = by_name(prod, "registry-mlflow-signin-client")
    assert secret["inputs"]["metadata"]["namespace"] == "mlflow"
    assert secret["inputs"]["metadata"]["name"] == "mlflow-oidc"
    assert secret["inputs"]["stringData"]["value"] == "[secret]"
    assert secret["parent"] == by_name(prod, "registry-mlflow-signin")["urn"]
    namespace = by_name(prod, "registry-mlflow-ns")
    assert namespace["urn"] in secret["dependencies"]


def test_the_load_balancer_controller_may_read_only_the_client_secret(synth):
    """Chart 1.13.2 values.yaml: clusterSecretsPermissions.allowAllSecrets false by default, "Access to secrets
    resource is required only if you use the OIDC feature ... we recommend configuring namespaced
    role/rolebinding". The controller gets the Secret and watches it with a metadata.name field selector
    (v2.13.2 pkg/ingress/model_build_actions.go, pkg/k8s/secrets_manager.go); Kubernetes RBAC authorises a list
    or watch restricted by resourceNames when the request carries that field selector
    (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources)."""
    prod = synth("prod")
    role = by_name(prod, "registry-mlflow-signin-reader")["inputs"]
    binding = by_name(prod, "registry-mlflow-signin-reader-binding")["inputs"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "mlflow"
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["mlflow-oidc"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    # The service account the platform's controller release runs as (components/cluster/charts.py).
    release = by_name(prod, "cluster-us-east-1-lbc")["inputs"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "namespace": release["namespace"],
            "name": release["values"]["serviceAccount"]["name"],
        }
    ]
    assert release["values"].get("clusterSecretsPermissions", {}).get("allowAllSecrets", False) is False


def test_workloads_reach_mlflow_through_its_service_only_from_admitted_namespaces(synth):
    prod = synth("prod")
    policy = by_name(prod, "registry-mlflow-netpol-allow-clients")["inputs"]
    assert policy["metadata"] == {"name": "allow-clients", "namespace": "mlflow"}
    assert policy["spec"]["podSelector"] == {} and policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 5000, "protocol": "TCP"}]
    assert rule["from"] == [
        # Team namespaces: the platform labels them `team` (TeamSpace); teams cannot label namespaces.
        {"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]}},
        {"namespaceSelector": {"matchLabels": {"mlops.platform/mlflow-client": "true"}}},
        # The internal ALB (IP targets) from the lb subnets it is placed in: never the private subnets (pods),
        # the whole VPC, the peered VPCs or the deployer's networks.
        {"ipBlock": {"cidr": "10.30.216.0/23"}},
        {"ipBlock": {"cidr": "10.30.218.0/23"}},
        {"ipBlock": {"cidr": "10.30.220.0/23"}},
    ]
    # The subnets the controller places internal ALBs in (the only ones tagged internal-elb) are those blocks.
    tagged = {
        state["inputs"]["cidrBlock"]
        for state in states(prod, "aws:ec2/subnet:Subnet")
        if state["inputs"]["tags"].get("kubernetes.io/role/internal-elb") == "1"
        and state["inputs"]["cidrBlock"].startswith("10.30.")
    }
    assert tagged == {"10.30.216.0/23", "10.30.218.0/23", "10.30.220.0/23"}
    kubernetes_validate.validate(
        manifest(by_name(prod, "registry-mlflow-netpol-allow-clients")), KUBERNETES_VERSION, strict=True
    )
    assert prod["outputs"]["registry"]["mlflowServiceUrl"] == "http://mlflow.mlflow.svc.cluster.local:5000"
    assert prod["outputs"]["registry"]["mlflowUrl"] == "https://mlflow.prod.mlops.internal"


def test_no_ip_block_mlflow_admits_holds_a_pod_address(synth):
    """An ipBlock matches the packet's source address, whatever namespace the sender's pod is in (Kubernetes,
    Network Policies, "ipBlock": https://kubernetes.io/docs/concepts/services-networking/network-policies/),
    and the Amazon VPC CNI gives every pod a private address from the VPC (EKS User Guide, "Assign IPs to Pods
    with the Amazon VPC CNI": https://docs.aws.amazon.com/eks/latest/userguide/managing-vpc-cni.html), from
    the subnet of its node's primary interface without custom networking, which the platform does not use (EKS
    Best Practices, "Amazon VPC CNI": https://docs.aws.amazon.com/eks/latest/best-practices/vpc-cni.html).
    So a block that overlapped a node subnet would admit pods of every namespace, past the namespace selectors
    and past the ALB's sign-in: no block MLflow admits overlaps a subnet nodes are launched in, in any region."""
    for stack in ("dev", "staging", "prod"):
        document = synth(stack)
        policy = by_name(document, "registry-mlflow-netpol-allow-clients")["inputs"]
        [rule] = policy["spec"]["ingress"]
        blocks = [
            ipaddress.IPv4Network(peer["ipBlock"]["cidr"]) for peer in rule["from"] if "ipBlock" in peer
        ]
        assert blocks, stack
        subnets = states(document, "aws:ec2/subnet:Subnet")
        # Where nodes (and so pods) get their addresses: the subnets Karpenter discovers and the node group's.
        node_subnets = [
            ipaddress.IPv4Network(s["inputs"]["cidrBlock"])
            for s in subnets
            if s["inputs"]["tags"]["tier"] == "private"
        ]
        assert node_subnets, stack
        assert all(
            "karpenter.sh/discovery" not in s["inputs"]["tags"]
            for s in subnets
            if s["inputs"]["tags"]["tier"] != "private"
        )
        for block in blocks:
            assert not [subnet for subnet in node_subnets if block.overlaps(subnet)], (stack, block)
        lb = {s["inputs"]["cidrBlock"] for s in subnets if s["inputs"]["tags"]["tier"] == "lb"}
        assert {str(block) for block in blocks} <= lb, stack


def test_mlflows_alb_is_placed_in_the_subnets_its_policy_admits(synth):
    """aws-load-balancer-controller v2.13.2 docs/guide/ingress/annotations.md, "subnets": the Availability Zones'
    subnets the ALB is placed in, at least two in different zones, by subnet ID or Name tag. The Ingress names the
    lb tier's subnets, the ones whose CIDRs allow-clients admits, so the ALB sits there whatever subnets were
    tagged when it was first made."""
    for stack in ("dev", "prod"):
        document = synth(stack)
        ingress = by_name(document, "registry-mlflow-ingress")
        region = "us-east-1"
        lb = [
            s
            for s in states(document, "aws:ec2/subnet:Subnet")
            if s["urn"].split("::")[-1].startswith(f"net-{region}-lb-")
        ]
        assert len(lb) >= 2
        assert ingress["inputs"]["metadata"]["annotations"][f"{ALB}/subnets"] == ",".join(s["id"] for s in lb)
        assert {s["urn"] for s in lb} <= set(ingress["dependencies"])
        policy = by_name(document, "registry-mlflow-netpol-allow-clients")["inputs"]
        admitted = {
            peer["ipBlock"]["cidr"] for peer in policy["spec"]["ingress"][0]["from"] if "ipBlock" in peer
        }
        assert admitted == {s["inputs"]["cidrBlock"] for s in lb}


def test_team_namespaces_carry_the_label_mlflow_admits(synth):
    """The selector is only as good as the label: every team namespace the team stacks make has it."""
    team = synth("team-fraud-prod", deployed=False)
    namespaces = states(team, "kubernetes:core/v1:Namespace")
    assert namespaces and all(ns["inputs"]["metadata"]["labels"]["team"] == "fraud" for ns in namespaces)
    # and no namespace of the platform's own (controllers, serving entry, MLflow) has it.
    platform = states(synth("prod"), "kubernetes:core/v1:Namespace")
    assert platform and all("team" not in ns["inputs"]["metadata"].get("labels", {}) for ns in platform)


def test_sign_in_objects_pass_kubernetes_validate(synth):
    prod = synth("prod")
    for name in ("signin-client", "signin-reader", "signin-reader-binding", "ingress"):
        state = by_name(prod, f"registry-mlflow-{name}")
        assert kubernetes_validate.validate(manifest(state), KUBERNETES_VERSION, strict=True)


def test_alb_reaches_the_idp_token_endpoint_through_nat_from_its_subnets(synth):
    """The load balancer itself calls the IdP's token and user info endpoints: its subnets need a route to them
    (for internal load balancers, a NAT gateway) and its security group outbound HTTPS (AWS re:Post, "How do I
    troubleshoot authentication issues in my Application Load Balancer?",
    https://repost.aws/knowledge-center/elb-configure-authentication-alb; ELB User Guide,
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html). The
    controller-managed security group gets ingress rules only (v2.13.2 pkg/ingress/model_build_managed_sg.go), so
    it keeps the all-outbound rule every new security group starts with."""
    prod = synth("prod")
    subnets = {
        state["urn"]
        for state in states(prod, "aws:ec2/subnet:Subnet")
        if state["inputs"]["tags"].get("kubernetes.io/role/internal-elb") == "1"
    }
    associations = [
        state
        for state in states(prod, "aws:ec2/routeTableAssociation:RouteTableAssociation")
        if set(state["propertyDependencies"].get("subnetId", [])) & subnets
    ]
    assert len(associations) == len(subnets) == 6
    nat_routes = {
        tuple(state["propertyDependencies"]["routeTableId"])
        for state in states(prod, "aws:ec2/route:Route")
        if state["inputs"].get("destinationCidrBlock") == "0.0.0.0/0" and state["inputs"].get("natGatewayId")
    }
    for association in associations:
        assert tuple(association["propertyDependencies"]["routeTableId"]) in nat_routes


def test_prod_without_sign_in_is_refused_in_one_line(tmp_path):
    config = yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())
    del config["config"]["mlops:platform"]["identity"]["oidc"]
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(config))
    result = run_mlops("preview", "bad", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {tmp_path}/Pulumi.bad.yaml: mlops:platform.identity.oidc: missing; prod lets people reach MLflow "
        "only after signing in on its load balancer; allowed in prod: identity.oidc with issuer, "
        "authorization-endpoint, token-endpoint, user-info-endpoint and client-id (and the client secret in "
        "mlops:oidc-client-secret)\n"
    )


def test_dev_keeps_mlflow_without_sign_in_as_an_advisory_finding_prod_has_none(synth):
    dev = synth("dev")
    annotations = by_name(dev, "registry-mlflow-ingress")["inputs"]["metadata"]["annotations"]
    assert f"{ALB}/auth-type" not in annotations
    assert [s for s in states(dev) if "signin" in s["urn"]] == []
    findings = {
        env: [
            (v.enforcement, v.urn.rsplit("::", 1)[-1])
            for v in analyze_in_process(synth(env), environment_config(env))
            if v.policy == "alb-ui-authenticated"
        ]
        for env in ("dev", "prod")
    }
    assert findings == {"dev": [("advisory", "registry-mlflow-ingress")], "prod": []}
