"""`mlops cost`: prices by value from the dated table, unpriced never zero, team ranges, --compare arithmetic, the
Markdown report, and the Price List refresh against recorded responses."""

from __future__ import annotations

import json
import re

import pytest

from mlops import cost
from mlops.base import CostError
from tests.conftest import STACKS, run_mlops

TABLE = cost.PriceTable.load()


def _lines(estimate: cost.Estimate, name: str) -> list[cost.Line]:
    found = [line for line in estimate.lines if line.name == name]
    assert found, name
    return found


def _priced(estimate: cost.Estimate, name: str) -> tuple[float, float]:
    lines = [line for line in _lines(estimate, name) if line.kind == cost.PRICED]
    return round(sum(line.low for line in lines), 2), round(sum(line.high for line in lines), 2)


@pytest.fixture(scope="module")
def prod(synth) -> cost.Estimate:
    return cost.estimate("prod", synth("prod"), TABLE)


@pytest.fixture(scope="module")
def team(synth) -> cost.Estimate:
    return cost.estimate("team-fraud-prod", synth("team-fraud-prod"), TABLE)


def test_price_table_has_a_date_a_source_and_every_region_of_the_shipped_stacks():
    """Every rate is dated and sourced; every entry names each region a shipped stack uses (a rate, or null with
    the reason it could not be confirmed), so a missing rate is visible in the table, not silently absent."""
    raw = json.loads(cost.PRICES_PATH.read_text())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw["date"]) and raw["source"]
    regions = set(
        re.findall(r"- name: ([a-z]{2}-[a-z]+-\d)", "".join(p.read_text() for p in STACKS.glob("*.yaml")))
    )
    assert regions == {"us-east-1", "us-west-2"}
    for key, entry in raw["prices"].items():
        if "all-regions" in entry:
            assert entry["source"].startswith("https://"), key
            continue
        assert regions <= set(entry["regions"]), key
        if any(value is not None for value in entry["regions"].values()):
            assert entry["source"].startswith("https://"), key
        if any(value is None for value in entry["regions"].values()):
            assert entry["unconfirmed"], key


def test_fixed_price_resources_are_priced_from_the_table_by_value(prod):
    """Hourly rates x 730 hours; monthly rates as they are (values of mlops/data/prices.json)."""
    assert _priced(prod, "cluster-us-east-1-eks") == (73.0, 73.0)  # $0.10/h
    assert _priced(prod, "net-us-east-1-nat-us-east-1a") == (32.85, 32.85)  # $0.045/h
    assert _priced(prod, "net-us-east-1-nat-us-east-1a-eip") == (3.65, 3.65)  # $0.005/h
    assert _priced(prod, "net-us-east-1-sts-endpoint") == (21.9, 21.9)  # 3 AZs x $0.01/h
    assert _priced(prod, "global-attach-us-east-1") == (36.5, 36.5)  # $0.05/h
    assert _priced(prod, "global-peering-us-east-1-us-west-2") == (36.5, 36.5)
    assert _priced(prod, "global-accept-us-east-1-us-west-2") == (36.5, 36.5)  # each side of a peering
    assert _priced(prod, "serving-us-east-1-ingress") == (16.43, 16.43)  # one ALB for the IngressGroup
    assert _priced(prod, "keys-us-east-1-logs") == (1.0, 1.0)
    assert _priced(prod, "keys-us-west-2-logs") == (1.0, 1.0)  # a replica key is a key
    assert _priced(prod, "observability-us-east-1-node-cpu") == (0.1, 0.1)
    assert _priced(prod, "dns-zone") == (0.5, 0.5)
    assert _priced(prod, "observability-grafana") == (9.0, 9.0)
    assert _priced(prod, "registry-db") == (46.0, 46.0)  # Multi-AZ: 2 x 200 GB gp3 x $0.115
    kinds = {line.kind for line in _lines(prod, "registry-db")}
    assert kinds == {cost.PRICED, cost.UNPRICED, cost.USAGE}  # db.r6g.large has no confirmed rate


def test_gateway_endpoints_are_free_and_interface_endpoints_are_billed_per_az():
    """PrivateLink bills an interface endpoint per AZ-hour (https://aws.amazon.com/privatelink/pricing/); a gateway
    endpoint has no charge."""
    doc = _document(
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"}),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "sts", {"vpcEndpointType": "Interface", "subnetIds": ["a", "b"]}),
    )
    result = cost.estimate("x", doc, TABLE)
    assert [(line.name, line.kind, line.low) for line in _own(result)] == [
        ("s3", cost.FREE, 0.0),
        ("sts", cost.PRICED, 14.6),
    ]


def test_unknown_types_and_regions_are_unpriced_never_zero():
    doc = _document(
        ("aws:newservice/thing:Thing", "mystery", {}),
        ("aws:eks/cluster:Cluster", "far-away", {}),
        region="eu-west-9",
    )
    result = cost.estimate("x", doc, TABLE)
    assert [(line.name, line.kind) for line in _own(result)] == [
        ("mystery", cost.UNPRICED),
        ("far-away", cost.UNPRICED),
    ]
    assert "not in the estimator" in _own(result)[0].detail
    assert _own(result)[1].detail == "eks-cluster: no rate for region eu-west-9"
    assert result.count(cost.UNPRICED) == 2
    text = cost.render_text([result], TABLE)
    assert "unpriced (2):" in text and "mystery [aws:newservice/thing:Thing]" in text


def test_every_resource_of_the_shipped_stacks_has_a_kind_and_no_type_is_unknown(prod, team):
    for estimate in (prod, team):
        assert all(
            line.kind in (cost.PRICED, cost.USAGE, cost.FREE, cost.UNPRICED) for line in estimate.lines
        )
        unknown = [line.type for line in estimate.lines if "not in the estimator" in line.detail]
        assert unknown == []
        for line in estimate.lines:
            if line.kind == cost.USAGE:
                assert line.detail, line.name  # the assumption is said


def test_team_stack_is_a_range_of_min_and_max_replicas_on_the_node_pools_reference_instances(team):
    # scorer: 1 CPU / 2Gi on m6i.xlarge (4 vCPU, 16 GiB, $0.192/h): a quarter; 3..12 replicas (its ScaledObject)
    assert _priced(team, "fraud-scorer-us-east-1-v3") == (
        round(3 * 0.25 * 0.192 * 730, 2),
        round(12 * 0.25 * 0.192 * 730, 2),
    )
    # embedder: 1 GPU on g5.xlarge ($1.006/h): a whole one; 2..6 replicas (its HPA)
    assert _priced(team, "fraud-embedder-us-east-1-v1") == (
        round(2 * 1.006 * 730, 2),
        round(6 * 1.006 * 730, 2),
    )
    assert team.low < team.high
    # team Ingresses join the platform's IngressGroup: that ALB is priced in the platform stack, not twice
    ingresses = [line for line in team.lines if line.type.endswith(":Ingress")]
    assert ingresses and all(line.kind == cost.FREE and "platform stack" in line.detail for line in ingresses)


def test_compare_is_after_minus_before_per_resource_and_in_total():
    base_doc = _document(("aws:eks/cluster:Cluster", "eks", {}), ("aws:ec2/natGateway:NatGateway", "nat", {}))
    head_doc = _document(
        ("aws:eks/cluster:Cluster", "eks", {}),
        ("aws:kms/key:Key", "key", {}),
    )
    base = cost.to_json([cost.estimate("prod", base_doc, TABLE)], TABLE)
    changes = cost.compare(base, [cost.estimate("prod", head_doc, TABLE)])
    assert [(c.name, c.before, c.after, c.delta) for c in changes] == [
        ("(total)", (105.85, 105.85), (74.0, 74.0), (-31.85, -31.85)),
        ("nat", (32.85, 32.85), (0.0, 0.0), (-32.85, -32.85)),  # by URN: gone
        ("key", (0.0, 0.0), (1.0, 1.0), (1.0, 1.0)),  # new
    ]
    markdown = cost.render_diff_markdown(changes, TABLE)
    assert "| `prod` | (total) | $105.85 | $74.00 | -$31.85 |" in markdown
    assert "| `prod` | `key` | $0.00 | $1.00 | +$1.00 |" in markdown


def test_markdown_report_has_the_totals_table_components_and_unpriced_list():
    doc = _document(
        ("aws:eks/cluster:Cluster", "eks", {}),
        ("aws:s3/bucket:Bucket", "bucket", {}),
        ("aws:newservice/thing:Thing", "mystery", {}),
    )
    markdown = cost.render_markdown([cost.estimate("dev", doc, TABLE)], TABLE)
    assert markdown.splitlines()[:5] == [
        f"### Cost estimate (prices of {TABLE.date})",
        "",
        "| stack | monthly | usage-priced | unpriced |",
        "| --- | ---: | ---: | ---: |",
        "| `dev` | $73.00 | 1 | 1 |",
    ]
    assert "| `comp` | $73.00 |" in markdown
    assert "- `mystery`: type aws:newservice/thing:Thing is not in the estimator" in markdown


def test_cli_estimates_a_saved_preview_and_compares_with_a_saved_estimate(tmp_path, synth):
    preview = tmp_path / "team.json"
    preview.write_text(json.dumps(synth("team-fraud-prod")))
    base = tmp_path / "base.json"
    made = run_mlops("cost", "team-fraud-prod", "--from", str(preview), "--format", "json", "-o", str(base))
    assert made.returncode == 0, made.stderr
    saved = json.loads(base.read_text())
    assert saved["prices"]["date"] == TABLE.date and saved["stacks"][0]["stack"] == "team-fraud-prod"
    same = run_mlops(
        "cost", "team-fraud-prod", "--from", str(preview), "--compare", str(base), "--format", "markdown"
    )
    assert same.returncode == 0, same.stderr
    assert same.stdout.splitlines()[-1] == (
        "| `team-fraud-prod` | (total) | $3,066.36 - $9,256.76 | $3,066.36 - $9,256.76 | +$0.00 |"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["cost", "prod", "--format", "yaml"],
            "error: --format: 'yaml' is not a format; allowed: text, json, markdown",
        ),
        (["cost", "prod", "--compare", "README.md"], "error: --compare: cannot read README.md"),
        (["cost"], "error: give a stack name (or --from FILE)"),
    ],
)
def test_cli_user_errors_are_one_line(args, message):
    result = run_mlops(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_load_base_refuses_a_document_that_is_not_an_estimate(tmp_path):
    path = tmp_path / "preview.json"
    path.write_text(json.dumps({"steps": []}))
    with pytest.raises(CostError, match="is not an `mlops cost --format json` report"):
        cost.load_base(path)


# --- --refresh-prices against recorded Price List responses ------------------------------------------------


def _price_list_item(instance: str, region: str, usd: str) -> str:
    """One GetProducts PriceList entry, shaped as the AWS Price List API documents it: a JSON string with
    product, serviceCode and terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD
    (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html)."""
    return json.dumps(
        {
            "product": {
                "productFamily": "Compute Instance",
                "attributes": {"instanceType": instance, "regionCode": region, "operatingSystem": "Linux"},
                "sku": "SKU123",
            },
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    "SKU123.JRTCKXETXF": {
                        "offerTermCode": "JRTCKXETXF",
                        "sku": "SKU123",
                        "priceDimensions": {
                            "SKU123.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "pricePerUnit": {"USD": usd},
                                "description": f"$ per On Demand Linux {instance} Instance Hour",
                            }
                        },
                    }
                }
            },
        }
    )


def test_refresh_prices_reads_the_on_demand_rate_of_get_products_per_region(tmp_path):
    """boto3's pricing client (us-east-1 endpoint) with botocore's Stubber: the request must match the service
    model (TERM_MATCH filters, FormatVersion aws_v1) and the rate comes from the recorded response shape."""
    import boto3
    from botocore.stub import Stubber

    from mlops.prices import refresh

    table = {
        "date": "2000-01-01",
        "currency": "USD",
        "hours-per-month": 730,
        "source": "test",
        "reference-instances": {},
        "prices": {
            "ec2:m7i.large": {
                "unit": "instance-hour",
                "regions": {"us-east-1": None, "us-west-2": None},
                "source": None,
                "unconfirmed": "not yet",
                "price-list": {"service": "AmazonEC2", "filters": {"instanceType": "m7i.large"}},
            },
            "kms-key": {"all-regions": 1.0, "source": "https://aws.amazon.com/kms/pricing/"},
        },
    }
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    for region, usd in (("us-east-1", "0.1008000000"), ("us-west-2", "0.1008000000")):
        stubber.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": [_price_list_item("m7i.large", region, usd)]},
            {
                "ServiceCode": "AmazonEC2",
                "FormatVersion": "aws_v1",
                "Filters": [
                    {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "m7i.large"},
                    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                ],
            },
        )
    import datetime as dt

    with stubber:
        text = refresh(path, client, dt.date(2026, 12, 7))
    stubber.assert_no_pending_responses()
    refreshed = json.loads(text)
    entry = refreshed["prices"]["ec2:m7i.large"]
    assert entry["regions"] == {"us-east-1": 0.1008, "us-west-2": 0.1008}
    assert "unconfirmed" not in entry
    assert entry["source"] == "AWS Price List API (pricing:GetProducts, us-east-1 endpoint), 2026-12-07"
    assert refreshed["date"] == "2026-12-07"
    assert refreshed["prices"]["kms-key"] == table["prices"]["kms-key"]  # no query: kept as it was


def test_refresh_keeps_the_rate_and_says_why_when_the_query_matches_no_product(tmp_path):
    import boto3
    from botocore.stub import ANY, Stubber

    from mlops.prices import refresh

    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "date": "2000-01-01",
                "prices": {
                    "ec2:x": {
                        "regions": {"us-east-1": 0.5},
                        "source": "https://example.com/",
                        "price-list": {"service": "AmazonEC2", "filters": {"instanceType": "x"}},
                    }
                },
            }
        )
    )
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": []},
        {"ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1", "Filters": ANY},
    )
    with stubber:
        refreshed = json.loads(refresh(path, client))
    entry = refreshed["prices"]["ec2:x"]
    assert entry["regions"] == {"us-east-1": 0.5} and entry["source"] == "https://example.com/"
    assert entry["unconfirmed"] == (
        "ec2:x: the Price List query did not give one rate (us-east-1: 0 products, 0 distinct on-demand rates)"
    )


# --- helpers ------------------------------------------------------------------------------------------------


def _own(result: cost.Estimate) -> list[cost.Line]:
    """The lines of the resources a test document holds (not its stack, provider and component)."""
    return [line for line in result.lines if not line.type.startswith(("pulumi:", "mlops:"))]


def _document(*resources: tuple[str, str, dict], region: str = "us-east-1") -> dict:
    """A minimal preview document: an AWS provider in ``region`` and a component holding the resources."""
    stack = "urn:pulumi:x::p::pulumi:pulumi:Stack::p-x"
    provider = f"urn:pulumi:x::p::pulumi:providers:aws::aws-{region}"
    component = "urn:pulumi:x::p::mlops:test:Thing::comp"
    steps = [
        {"newState": {"type": "pulumi:pulumi:Stack", "urn": stack, "inputs": {}}},
        {
            "newState": {
                "type": "pulumi:providers:aws",
                "urn": provider,
                "id": "pid",
                "inputs": {"region": region},
                "parent": stack,
            }
        },
        {"newState": {"type": "mlops:test:Thing", "urn": component, "inputs": {}, "parent": stack}},
    ]
    for type_, name, inputs in resources:
        steps.append(
            {
                "newState": {
                    "type": type_,
                    "urn": f"urn:pulumi:x::p::mlops:test:Thing${type_}::{name}",
                    "inputs": inputs,
                    "parent": component,
                    "provider": f"{provider}::pid",
                }
            }
        )
    return {"steps": steps}
