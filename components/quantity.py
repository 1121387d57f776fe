"""Kubernetes resource quantities as numbers, for quota arithmetic done before anything is deployed."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator

_CPU = re.compile(r"^(\d+(\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_MEMORY_FACTORS = {
    None: 1,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}

CPU_HINT = "a CPU quantity such as 500m, 2 or 1.5"
MEMORY_HINT = "a memory quantity such as 512Mi, 4Gi or 1G"


def cpu_millis(quantity: str) -> int:
    """'500m' -> 500, '2' -> 2000, '1.5' -> 1500."""
    match = _CPU.match(str(quantity))
    if not match:
        raise ValueError(f"{quantity!r} is not {CPU_HINT}")
    value = Decimal(match.group(1))
    return int(value if match.group(3) else value * 1000)


def memory_bytes(quantity: str) -> int:
    """'512Mi' -> 536870912, '1G' -> 1000000000."""
    match = _MEMORY.match(str(quantity))
    if not match:
        raise ValueError(f"{quantity!r} is not {MEMORY_HINT}")
    return int(Decimal(match.group(1)) * _MEMORY_FACTORS[match.group(3)])


def _cpu_quantity(value: str) -> str:
    cpu_millis(value)
    return value


def _memory_quantity(value: str) -> str:
    memory_bytes(value)
    return value


# Config-model field types: a string that must parse as a Kubernetes quantity (the string itself is kept).
CpuQuantity = Annotated[str, AfterValidator(_cpu_quantity)]
MemoryQuantity = Annotated[str, AfterValidator(_memory_quantity)]
