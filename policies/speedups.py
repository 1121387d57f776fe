"""Decode each resource's properties once per Analyze call instead of once per policy.

The Python policy SDK converts a request's properties (MessageToDict, deserialize_properties, then a read-only
unknown-checking proxy, and the resource options) separately for every policy, which dominates analysis time with dozens of policies.
The steps are pure, so caching the last result by object identity returns the same values and changes no
verdict; a miss simply decodes again.
"""

from __future__ import annotations

import threading
from typing import Any

import pulumi_policy.policy as sdk

_local = threading.local()


class _CachingJsonFormat:
    """Stands in for google.protobuf.json_format inside pulumi_policy.policy."""

    def __init__(self, real: Any):
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:
        last = getattr(_local, "message", None)
        if last is not None and last[0] is message and not args and not kwargs:
            return last[1]
        result = self._real.MessageToDict(message, *args, **kwargs)
        if not args and not kwargs:
            _local.message = (message, result)
        return result


def _cached(real, slot: str):
    """`real`, remembering its last argument and result (by identity) per thread."""

    def call(value: Any) -> Any:
        last = getattr(_local, slot, None)
        if last is not None and last[0] is value:
            return last[1]
        result = real(value)
        setattr(_local, slot, (value, result))
        return result

    return call


def install() -> None:
    if not isinstance(sdk.json_format, _CachingJsonFormat):
        sdk.json_format = _CachingJsonFormat(sdk.json_format)
        sdk.deserialize_properties = _cached(sdk.deserialize_properties, "deserialized")
        # Sharing one proxy (and its options) across the policies of a request is safe because no policy of
        # this pack writes to a resource's properties: remediations build new mappings.
        sdk.unknown_checking_proxy = _cached(sdk.unknown_checking_proxy, "proxy")
        servicer = sdk._PolicyAnalyzerServicer
        options = servicer._get_resource_options
        servicer._get_resource_options = lambda self, request: _cached(lambda r: options(self, r), "options")(request)
