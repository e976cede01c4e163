"""Parses sluice's Flux answers with the official Python client (influxdb-client).

Usage: client.py URL TOKEN ORG QUERIES.json
QUERIES.json is a list of {"name", "query"}. For each query, both query_csv (the raw CSV
reader) and query (annotated CSV into FluxTables) must succeed. Prints one JSON document:
{"<name>": {"csv_rows": n, "tables": [{"key": {...}, "rows": [[time_us|null, value], ...],
"columns": [...]}]}} or {"<name>": {"error": "..."}}; times as Unix microseconds.
"""
import calendar
import json
import sys

from influxdb_client import InfluxDBClient


def us(dt):
    if dt is None:
        return None
    return calendar.timegm(dt.utctimetuple()) * 1_000_000 + dt.microsecond


def plain(v):
    if hasattr(v, "utctimetuple"):
        return us(v)
    return v


def main():
    url, token, org, path = sys.argv[1:5]
    queries = json.load(open(path))
    out = {}
    with InfluxDBClient(url=url, token=token, org=org, timeout=60_000) as client:
        api = client.query_api()
        for q in queries:
            name = q["name"]
            value_col = q.get("value", "_value")
            try:
                rows = list(api.query_csv(q["query"]))
                tables = api.query(q["query"])
                res = []
                for t in tables:
                    key = {c.label: plain(t.records[0].values.get(c.label)) if t.records else None
                           for c in t.get_group_key()}
                    res.append({
                        "key": key,
                        "columns": [c.label for c in t.columns],
                        "rows": [[us(r.values.get("_time")), plain(r.values.get(value_col))]
                                 for r in t.records],
                    })
                out[name] = {"csv_rows": len(rows), "tables": res}
            except Exception as e:  # noqa: BLE001 - reported to the Rust side
                out[name] = {"error": f"{type(e).__name__}: {e}"}
    json.dump(out, sys.stdout)


main()
