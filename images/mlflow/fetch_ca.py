"""Fetch the Amazon RDS certificate bundle at build time and keep it only if its SHA-256 is the pinned one.

    python fetch_ca.py URL SHA256 DEST

The MLflow server connects to PostgreSQL with sslmode=verify-full, so libpq needs the CAs that sign RDS
server certificates (Amazon RDS User Guide, "Using SSL/TLS to encrypt a connection to a DB instance": the
global bundle). The builder passes the bundle's checksum (build argument RDS_CA_SHA256); anything else fails
the build instead of shipping an unverified trust anchor.
"""

from __future__ import annotations

import hashlib
import re
import sys
import urllib.request


def fetch(url: str, sha256: str, dest: str) -> None:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise SystemExit(f"fetch_ca: RDS_CA_SHA256 must be the bundle's 64-hex SHA-256, got {sha256!r}")
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise SystemExit(f"fetch_ca: {url} has SHA-256 {actual}, not the pinned {sha256}")
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise SystemExit(f"fetch_ca: {url} holds no PEM certificate")
    with open(dest, "wb") as file:
        file.write(data)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: fetch_ca.py URL SHA256 DEST")
    fetch(*sys.argv[1:])
