from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.quantity import cpu_millis, memory_bytes


@pytest.mark.parametrize(("text", "millis"), [("500m", 500), ("2", 2000), ("1.5", 1500), ("0.25", 250)])
def test_cpu(text, millis):
    assert cpu_millis(text) == millis


@pytest.mark.parametrize(
    ("text", "size"), [("512Mi", 512 * 2**20), ("4Gi", 4 * 2**30), ("1G", 10**9), ("100", 100)]
)
def test_memory(text, size):
    assert memory_bytes(text) == size


@pytest.mark.parametrize("text", ["", "2 cores", "-1", "1.5.1", "500mi"])
def test_bad_cpu(text):
    with pytest.raises(ValueError, match=r"is not a CPU quantity such as 500m, 2 or 1\.5"):
        cpu_millis(text)


@pytest.mark.parametrize("text", ["4GB", "Gi", "1.2.3Mi"])
def test_bad_memory(text):
    with pytest.raises(ValueError, match="is not a memory quantity"):
        memory_bytes(text)


@given(st.integers(min_value=0, max_value=10**6))
def test_millicores_round_trip(millis):
    assert cpu_millis(f"{millis}m") == millis
    assert cpu_millis(str(millis)) == millis * 1000


@given(st.integers(min_value=0, max_value=10**5), st.sampled_from(["Ki", "Mi", "Gi"]))
def test_binary_suffixes_scale(amount, suffix):
    assert memory_bytes(f"{amount}{suffix}") == amount * {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}[suffix]
