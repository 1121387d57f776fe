"""Networking: a VPC per region with three subnet tiers, endpoints, flow logs; transit gateways between regions.

Tiers: public subnets hold only load balancers and NAT gateways; private subnets hold nodes and pods and reach
AWS through VPC endpoints (and the internet through NAT, unless the stack is internet-free); isolated subnets
hold databases and have no route out at all. Every VPC logs its traffic to a KMS-encrypted log group and keeps
its default security group empty, so nothing can be attached to an open group by accident.

Modules: ``config`` (the regions' and deployer's config models), ``vpc`` (RegionalNetwork: subnets, gateways,
routes), ``endpoints`` (the VPC endpoints private subnets reach AWS through), ``flow_logs`` (the VPC's traffic
log), ``transit`` (GlobalNetwork: transit gateways, peering and the private zone). Nothing is imported here, so
that the config models load without Pulumi.
"""
