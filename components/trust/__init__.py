"""Private trust and egress: a private CA with cert-manager and mTLS, a custom CA bundle and an egress proxy."""
