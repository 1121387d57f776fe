"""The `identity` section of `mlops:platform`: Identity Center permission sets, their groups and OIDC sign-in.

Built by components/identity (PlatformIdentity, OidcSignIn).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from components.configbase import KEBAB_RE, REGION_RE, KeyedValueError, Model, https_url

_GROUP_ID_RE = r"^([0-9a-f]{10}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_ISO_HOURS_RE = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?$")


def session_seconds(duration: str) -> int:
    """Seconds of an ISO 8601 session duration such as PT4H or PT1H30M (hours and minutes only)."""
    match = _ISO_HOURS_RE.match(duration)
    if not match or not any(match.groups()):
        raise ValueError(
            f"{duration!r} is not an ISO 8601 duration in hours/minutes (allowed: e.g. PT4H, PT1H30M)"
        )
    return int(match.group(1) or 0) * 3600 + int(match.group(2) or 0) * 60


class AccessRole(Model):
    """One access role: the Identity Center group that gets it and how its SSO role is named in the account.

    The SSO-provisioned role is ``AWSReservedSSO_<permission set>_<suffix>``; the suffix is only known once the
    permission set has been assigned. Until ``role-suffix`` (or a full ``role-arn``) is set the role has no
    EKS access entry: deploy once, read the suffix from IAM, then set it.
    """

    group_id: Annotated[str, Field(alias="group-id", pattern=_GROUP_ID_RE)]
    session_duration: Annotated[str, Field(alias="session-duration")] = "PT8H"
    role_suffix: Annotated[str | None, Field(alias="role-suffix", pattern=r"^[0-9a-f]{16}$")] = None
    role_arn: Annotated[
        str | None,
        Field(
            alias="role-arn",
            pattern=r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/aws-reserved/sso\.amazonaws\.com/.+$",
        ),
    ] = None

    @field_validator("session_duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        seconds = session_seconds(value)
        if not 3600 <= seconds <= 12 * 3600:
            raise ValueError(f"{value!r} is outside Identity Center's range; allowed: PT1H to PT12H")
        return value

    @model_validator(mode="after")
    def _one_role_source(self) -> AccessRole:
        if self.role_suffix and self.role_arn:
            raise KeyedValueError(("role-arn",), "set either role-suffix or role-arn, not both")
        return self


class IdentityRoles(Model):
    platform_admin: Annotated[AccessRole, Field(alias="platform-admin")]
    ml_engineer: Annotated[AccessRole, Field(alias="ml-engineer")]
    read_only: Annotated[AccessRole, Field(alias="read-only")]


class OidcConfig(Model):
    """OIDC sign-in for web UIs behind the load balancer; the client secret is ``mlops:oidc-client-secret``."""

    issuer: str
    authorization_endpoint: Annotated[str, Field(alias="authorization-endpoint")]
    token_endpoint: Annotated[str, Field(alias="token-endpoint")]
    user_info_endpoint: Annotated[str, Field(alias="user-info-endpoint")]
    client_id: Annotated[str, Field(alias="client-id", min_length=1, max_length=256)]
    scope: str = "openid email profile"
    session_timeout_seconds: Annotated[int, Field(alias="session-timeout-seconds", ge=60, le=604800)] = 3600

    _urls = field_validator("issuer", "authorization_endpoint", "token_endpoint", "user_info_endpoint")(
        classmethod(lambda cls, value: https_url(value))
    )

    @field_validator("scope")
    @classmethod
    def _openid_scope(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError(
                f"{value!r} lacks the 'openid' scope; allowed: space-separated scopes including openid"
            )
        return value


class IdentityConfig(Model):
    """IAM Identity Center (SSO) permission sets, their group assignments and their access to the clusters."""

    sso_instance_arn: Annotated[
        str,
        Field(
            alias="sso-instance-arn",
            pattern=r"^arn:aws(-cn|-us-gov)?:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$",
        ),
    ]
    identity_store_id: Annotated[str, Field(alias="identity-store-id", pattern=r"^d-[0-9a-f]{10}$")]
    sso_region: Annotated[str | None, Field(alias="sso-region")] = None
    roles: IdentityRoles
    ml_engineer_namespaces: Annotated[
        list[Annotated[str, Field(pattern=KEBAB_RE, max_length=63)]],
        Field(alias="ml-engineer-namespaces", min_length=1, max_length=25),
    ]
    resource_prefix: Annotated[str | None, Field(alias="resource-prefix", pattern=KEBAB_RE)] = None
    oidc: OidcConfig | None = None

    @field_validator("sso_region")
    @classmethod
    def _sso_region(cls, value: str | None) -> str | None:
        if value is not None and not REGION_RE.match(value):
            raise ValueError(
                f"{value!r} is not an AWS region name (allowed: names like us-east-1, eu-west-2)"
            )
        return value

    @field_validator("ml_engineer_namespaces")
    @classmethod
    def _no_system_namespaces(cls, value: list[str]) -> list[str]:
        for index, namespace in enumerate(value):
            if (
                namespace in ("default", "kube-system", "kube-public", "kube-node-lease")
                or namespace in value[:index]
            ):
                raise KeyedValueError(
                    (index,), f"{namespace!r} is reserved or listed twice; allowed: distinct team namespaces"
                )
        return value
