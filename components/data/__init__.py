"""Data access as a platform service: the team's own prefix by attribute (ABAC), shared prefixes by S3 Access
Grants on locations the platform declares, optional Lake Formation grants, and the namespace guard the scheme
relies on."""
