"""alb-ui-authenticated: the documented ALB authentication rules, each a test named after it, and how the pack knows a
platform UI (the platform's label or tag, never a name)."""

from __future__ import annotations

import json

from policies.pack import environment_config
from tests.policies.cases import AUTHENTICATE_OIDC, FORWARD, IDP, Res, document, ui_ingress, ui_listener
from tests.policies.validate import analyze_in_process

POLICY = "alb-ui-authenticated"
GOOD_IDP = json.dumps({**IDP, "secretName": "ui-oidc"})


def messages(*resources: Res, environment: str = "prod") -> list[str]:
    verdicts = analyze_in_process(document(list(resources), environment), environment_config(environment))
    # A violation's message is the policy's description, a new line, then what is wrong.
    return [v.message.split("\n", 1)[1] for v in verdicts if v.policy == POLICY]


def test_authenticate_actions_are_supported_on_https_listeners_only():
    """ELB User Guide, "Authenticate users using an Application Load Balancer"
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html) and
    aws-load-balancer-controller v2.13.2 docs/guide/ingress/annotations.md ("Authentication is only supported for
    HTTPS listeners"). The controller builds the authenticate action for HTTPS listeners only and forwards on the
    others (pkg/ingress/model_build_actions.go buildActions): an Ingress that also listens on HTTP serves the UI
    unauthenticated there."""
    assert messages(ui_listener([AUTHENTICATE_OIDC, FORWARD], protocol="HTTP")) == [
        "protocol 'HTTP': authenticate actions are supported on HTTPS listeners only"
    ]
    both = ui_ingress(auth_type="oidc", auth_idp_oidc=GOOD_IDP, listen_ports='[{"HTTP": 80}, {"HTTPS": 443}]')
    [message] = messages(both)
    assert message.startswith(
        'alb.ingress.kubernetes.io/listen-ports \'[{"HTTP": 80}, {"HTTPS": 443}]\' is not HTTPS only'
    )
    # Without listen-ports the controller listens on HTTP:80 unless it finds a certificate: say HTTPS explicitly.
    unset = ui_ingress(auth_type="oidc", auth_idp_oidc=GOOD_IDP)
    del unset.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/listen-ports"]
    assert messages(unset)[0].startswith("alb.ingress.kubernetes.io/listen-ports None is not HTTPS only")


def test_idp_issuer_and_endpoints_are_full_https_urls():
    """ELB API Reference, AuthenticateOidcActionConfig: issuer, authorization, token and user info endpoints "must
    be a full URL, including the HTTPS protocol, the domain, and the path"
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AuthenticateOidcActionConfig.html)."""
    plain_token = json.dumps({**IDP, "tokenEndpoint": "http://idp.example.com/token", "secretName": "s"})
    assert messages(ui_ingress(auth_type="oidc", auth_idp_oidc=plain_token)) == [
        "alb.ingress.kubernetes.io/auth-idp-oidc tokenEndpoint 'http://idp.example.com/token' is not an HTTPS URL"
    ]
    action = {**AUTHENTICATE_OIDC, "authenticateOidc": {**IDP, "issuer": "idp.example.com"}}
    assert messages(ui_listener([action, FORWARD])) == [
        "defaultActions authenticateOidc issuer 'idp.example.com' is not an HTTPS URL"
    ]


def test_on_unauthenticated_request_allow_forwards_without_sign_in():
    """AuthenticateOidcActionConfig.OnUnauthenticatedRequest: "allow - Allow the request to be forwarded to the
    target" (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AuthenticateOidcActionConfig.html)."""
    allowing = ui_ingress(auth_type="oidc", auth_idp_oidc=GOOD_IDP, auth_on_unauthenticated_request="allow")
    assert messages(allowing) == [
        "alb.ingress.kubernetes.io/auth-on-unauthenticated-request 'allow' forwards unauthenticated requests"
    ]
    action = {**AUTHENTICATE_OIDC, "authenticateOidc": {**IDP, "onUnauthenticatedRequest": "allow"}}
    assert messages(ui_listener([action, FORWARD])) == [
        "defaultActions authenticateOidc forwards unauthenticated requests (onUnauthenticatedRequest 'allow')"
    ]


def test_the_action_with_the_lowest_order_runs_first_so_authenticate_precedes_forward():
    """ELB API Reference, Action.Order: "The action with the lowest value for order is performed first"
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Action.html)."""
    assert messages(ui_listener([FORWARD, AUTHENTICATE_OIDC])) == []
    late = {**AUTHENTICATE_OIDC, "order": 3}
    assert messages(ui_listener([FORWARD, late])) == [
        "defaultActions starts with 'forward', not an authenticate action"
    ]
    assert messages(ui_listener([])) == ["defaultActions starts with None, not an authenticate action"]


def test_an_ingress_without_an_authenticate_action_is_named():
    assert messages(ui_ingress()) == [
        "alb.ingress.kubernetes.io/auth-type is 'none': no authenticate action; allowed: oidc, cognito"
    ]
    no_secret = ui_ingress(auth_type="oidc", auth_idp_oidc=json.dumps(IDP))
    assert messages(no_secret) == [
        "alb.ingress.kubernetes.io/auth-idp-oidc names no secretName (the client credentials' Secret)"
    ]
    other_class = ui_ingress(auth_type="oidc", auth_idp_oidc=GOOD_IDP)
    other_class.inputs["spec"]["ingressClassName"] = "nginx"
    assert messages(other_class) == [
        "a platform UI Ingress of class 'nginx': only class alb (the ALB) signs people in"
    ]


def test_a_ui_is_what_the_platform_labels_or_tags_never_a_name():
    unlabelled = ui_ingress()
    unlabelled.inputs["metadata"]["labels"] = {"app": "mlflow-ui"}
    untagged = ui_listener([FORWARD])
    untagged.inputs["tags"] = {"Name": "mlflow-ui"}
    assert messages(unlabelled, untagged) == []
    rule = Res(
        "aws:lb/listenerRule:ListenerRule",
        "ui-rule",
        {"listenerArn": "arn", "actions": [FORWARD], "tags": {"mlops:purpose": "platform-ui"}},
    )
    assert messages(rule) == ["actions starts with 'forward', not an authenticate action"]


def test_the_pack_reads_the_label_the_platform_writes():
    from components.identity import oidc
    from policies import ui_auth

    assert (ui_auth.PURPOSE_LABEL, ui_auth.PLATFORM_UI) == (oidc.PURPOSE_LABEL, oidc.PLATFORM_UI)


def test_advisory_outside_prod_mandatory_in_prod():
    """Dev and staging may run MLflow without sign-in (the config refuses that only in prod)."""
    levels = {env: environment_config(env)[POLICY]["enforcementLevel"] for env in ("dev", "staging", "prod")}
    assert levels == {"dev": "advisory", "staging": "advisory", "prod": "mandatory"}
    assert environment_config("team-prod")[POLICY]["enforcementLevel"] == "mandatory"
