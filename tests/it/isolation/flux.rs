//! Flux attacks, fronting sluice-as-InfluxDB-2 and embedded.

use super::assert_no_leak;
use crate::passthrough::flux::{UPSTREAM_TOKEN, flux, fronting_config, upstream};
use crate::passthrough::influxql::{ACME, BETA, BETA_SECRET};
use crate::passthrough::report;
use crate::support::sluice::Sluice;

use super::FOREIGN;
const ABSENT: &str = "nosuch_bucket";
const RANGE: &str = "range(start: 2024-06-01T10:00:00Z, stop: 2024-06-01T11:00:00Z)";

/// Attacks naming the foreign bucket as `F`.
fn naming() -> Vec<String> {
    [
        "from(bucket: \"F\") |> RANGE",
        "from(bucket: \"F/autogen\") |> RANGE",
        "import \"influxdata/influxdb/schema\"\nschema.measurements(bucket: \"F\")",
        "import \"influxdata/influxdb/schema\"\nschema.tagValues(bucket: \"F\", tag: \"host\")",
        "import \"influxdata/influxdb/schema\"\nschema.fieldKeys(bucket: \"F\")",
        "a = from(bucket: \"telegraf\") |> RANGE |> yield(name: \"a\")\nb = from(bucket: \"F\") |> RANGE |> yield(name: \"b\")",
    ]
    .iter()
    .map(|s| s.replace("RANGE", RANGE))
    .collect()
}

/// Every other refusal rule (no foreign name needed, or one hidden from a literal check).
fn rules() -> Vec<String> {
    [
        "from(bucketID: \"0000000000000001\") |> RANGE",
        "from(bucket: \"telegraf\", org: \"other\") |> RANGE",
        "from(bucket: \"telegraf\", orgID: \"0000000000000002\") |> RANGE",
        "from(bucket: \"telegraf\", host: \"http://127.0.0.1:1\", token: \"x\") |> RANGE",
        "b = \"beta_\" + \"telegraf\"\nfrom(bucket: b) |> RANGE",
        "b = \"beta_telegraf\"\nfrom(bucket: \"${b}\") |> RANGE",
        "f = (bucket=\"beta_telegraf\") => from(bucket: bucket) |> RANGE\nf()",
        "from(bucket: \"telegraf\") |> RANGE |> to(bucket: \"beta_telegraf\")",
        "w = to\nfrom(bucket: \"telegraf\") |> RANGE |> w(bucket: \"telegraf\")",
        "import \"sql\"\nsql.from(driverName: \"postgres\", dataSourceName: \"x\", query: \"select 1\")",
        "import \"http\"\nhttp.post(url: \"http://127.0.0.1:1\", data: bytes(v: \"x\"))",
        "import \"csv\"\ncsv.from(url: \"http://127.0.0.1:1/x.csv\")",
        "import \"experimental\"\nexperimental.to(bucket: \"telegraf\")",
        "import \"experimental/http\"\nhttp.get(url: \"http://127.0.0.1:1\")",
        "import \"influxdata/influxdb/secrets\"\nsecrets.get(key: \"k\")",
        "import \"influxdata/influxdb/v1\"\nv1.databases()",
        "import \"socket\"\nsocket.from(url: \"tcp://127.0.0.1:1\")",
        "import \"array\"\narray.from(rows: [{x: 1}])",
    ]
    .iter()
    .map(|s| s.replace("RANGE", RANGE))
    .collect()
}

/// Fronting sluice-as-InfluxDB-2: every attack is a 403 `forbidden` naming nothing of beta's,
/// and the upstream's buckets are unchanged.
#[test]
fn flux_attacks_are_refused_when_fronting() {
    let up = upstream();
    let front = Sluice::start(&fronting_config(&up.url(), ""));
    let buckets_before = flux(&up.url(), "main", UPSTREAM_TOKEN, "buckets()").text();
    let mut n = 0;
    for q in naming()
        .into_iter()
        .map(|q| q.replace("\"F", &format!("\"{FOREIGN}")))
        .chain(rules())
    {
        let r = flux(&front.url(), "main", ACME, &q);
        assert_eq!(r.status, 403, "{q}: {}", r.text());
        assert_eq!(r.json()["code"], "forbidden", "{q}");
        assert_no_leak(&q, &r.text());
        n += 1;
    }
    // buckets() lists acme's own bucket only, under its own name.
    let r = flux(&front.url(), "main", ACME, "buckets()");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(",telegraf,"), "{}", r.text());
    assert_no_leak("buckets()", &r.text());
    assert!(!r.text().contains("acme_"), "{}", r.text());
    // The upstream is unchanged and beta still reads its data.
    assert_eq!(
        flux(&up.url(), "main", UPSTREAM_TOKEN, "buckets()").text(),
        buckets_before
    );
    let own = flux(
        &front.url(),
        "main",
        BETA,
        &format!(
            "from(bucket: \"telegraf\") |> {RANGE} |> filter(fn: (r) => r._measurement == \"cpu\") |> last()"
        ),
    );
    assert!(own.text().contains(BETA_SECRET), "{}", own.text());
    report(&format!(
        "isolation: {n} Flux attacks refused 403 fronting sluice"
    ));
}

/// Embedded mode: a foreign bucket is answered exactly as an absent one (404 `could not find
/// bucket`, byte for byte once the name is swapped); every other rule is refused (400 outside
/// the subset, 403/404) without data.
#[test]
fn flux_attacks_are_refused_in_embedded_mode() {
    let s = super::embedded();
    let mut n = 0;
    for q in naming() {
        let attack = flux(
            &s.url(),
            "x",
            ACME,
            &q.replace("\"F", &format!("\"{FOREIGN}")),
        );
        let absent = flux(
            &s.url(),
            "x",
            ACME,
            &q.replace("\"F", &format!("\"{ABSENT}")),
        );
        assert!(
            matches!(attack.status, 403 | 404),
            "{q}: {} {}",
            attack.status,
            attack.text()
        );
        assert_eq!(
            (attack.status, attack.text().replace(FOREIGN, ABSENT)),
            (absent.status, absent.text()),
            "{q}"
        );
        assert!(!attack.text().contains(BETA_SECRET), "{q}");
        n += 1;
    }
    for q in rules() {
        let r = flux(&s.url(), "x", ACME, &q);
        // Embedded mode has no orgs: `from(org:)` reads the tenant's own bucket (its data only).
        let own_org = q.contains("org: \"other\"") && r.status == 200;
        assert!(
            own_org || matches!(r.status, 400 | 403 | 404),
            "{q}: {} {}",
            r.status,
            r.text()
        );
        assert!(!r.text().contains(BETA_SECRET), "{q}: {}", r.text());
        n += 1;
    }
    let r = flux(&s.url(), "x", ACME, "buckets()");
    assert_no_leak("buckets()", &r.text());
    let own = flux(
        &s.url(),
        "x",
        BETA,
        &format!(
            "from(bucket: \"{FOREIGN}\") |> {RANGE} |> filter(fn: (r) => r._measurement == \"cpu\") |> last()"
        ),
    );
    assert!(own.text().contains(BETA_SECRET), "{}", own.text());
    report(&format!(
        "isolation: {n} Flux attacks answered as absent or refused in embedded mode"
    ));
}
