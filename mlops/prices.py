"""`mlops cost --refresh-prices`: rebuild the price table's rates from the AWS Price List API (live only).

Each table entry with a ``price-list`` query (a service code and TERM_MATCH filters) is asked again, per region
the entry lists, with ``GetProducts``; the on-demand USD rate of the one product that matches replaces the
entry's rate, and the entry's source becomes the API with today's date. Entries without a query keep their rate
and source. A query matching no product or several leaves the rate as it was and says why in the entry.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from mlops.base import CostError

API_SOURCE = "AWS Price List API (pricing:GetProducts, us-east-1 endpoint)"


def on_demand_rate(product: dict[str, Any]) -> float | None:
    """The USD price per unit of a Price List product's on-demand term (its one price dimension)."""
    terms = (product.get("terms") or {}).get("OnDemand") or {}
    rates = [
        float(dimension["pricePerUnit"]["USD"])
        for term in terms.values()
        for dimension in (term.get("priceDimensions") or {}).values()
        if "USD" in (dimension.get("pricePerUnit") or {})
    ]
    return rates[0] if len(rates) == 1 else None


def products(client: Any, service: str, filters: dict[str, str], region: str) -> list[dict[str, Any]]:
    """Every product of ``service`` matching ``filters`` in ``region`` (all pages)."""
    request = {
        "ServiceCode": service,
        "FormatVersion": "aws_v1",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": field, "Value": value}
            for field, value in {**filters, "regionCode": region}.items()
        ],
    }
    found: list[dict[str, Any]] = []
    while True:
        page = client.get_products(**request)
        found.extend(json.loads(item) for item in page.get("PriceList", []))
        token = page.get("NextToken")
        if not token:
            return found
        request["NextToken"] = token


def refresh(path: Path, client: Any, today: dt.date | None = None) -> str:
    """The price table at ``path`` with every queried rate asked again; returned as text (the caller writes it)."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CostError(f"--refresh-prices: cannot read {path}: {exc}") from None
    date = (today or dt.date.today()).isoformat()
    for key, entry in table["prices"].items():
        query = entry.get("price-list")
        if not query:
            continue
        problems = []
        for region in sorted(entry.get("regions", {})):
            found = products(client, query["service"], query["filters"], region)
            rates = {rate for rate in (on_demand_rate(item) for item in found) if rate is not None}
            if len(rates) == 1:
                entry["regions"][region] = rates.pop()
            else:
                problems.append(f"{region}: {len(found)} products, {len(rates)} distinct on-demand rates")
        if problems:
            entry["unconfirmed"] = (
                f"{key}: the Price List query did not give one rate ({'; '.join(problems)})"
            )
        else:
            entry.pop("unconfirmed", None)
            entry["source"] = f"{API_SOURCE}, {date}"
    table["date"] = date
    return json.dumps(table, indent=2) + "\n"
