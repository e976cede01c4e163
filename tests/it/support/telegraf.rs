//! Telegraf's exact HTTP requests, replayed (wire.md §1.1, §1.4), and Telegraf-shaped data.
//!
//! Owns: the v2 write, the v1 `CREATE DATABASE` and v1 write requests byte for byte as Go's
//! `net/http` sends them (header order: Host, User-Agent, Transfer-Encoding, then the request
//! headers sorted by key, then the transport's `Accept-Encoding: gzip`), gzip bodies sent
//! chunked with no Content-Length; and `InterfaceLines`, a deterministic SNMP `interface`
//! generator whose every line can be rebuilt as a `Point` to check what a reader got back.
//! Does not own: Telegraf's retry logic (tests assert on the status it would see).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::http::{Body, Request, Response, form_encode};
use super::point::{FieldVal, Point};

/// The User-Agent Telegraf 1.35 sends.
pub const USER_AGENT: &str = "Telegraf/1.35.0 Go/1.24.0";

/// Chunk size of the replayed bodies (Go copies request bodies through a 32 KiB buffer).
pub const CHUNK: usize = 32 * 1024;

/// gzip at Telegraf's default level.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).expect("gzip to memory");
    e.finish().expect("gzip to memory")
}

/// `outputs.influxdb_v2`: `POST {base}/api/v2/write?bucket=B&org=O`, token auth, gzip, chunked.
pub fn v2_write_request(base: &str, bucket: &str, org: &str, token: &str, lines: &str) -> Request {
    let url = format!(
        "{base}/api/v2/write?{}",
        form_encode(&[("bucket", bucket), ("org", org)])
    );
    Request::new("POST", &url)
        .header("User-Agent", USER_AGENT)
        .header("Transfer-Encoding", "chunked")
        .header("Authorization", &format!("Token {token}"))
        .header("Content-Encoding", "gzip")
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("Accept-Encoding", "gzip")
        .body(Body::chunked(&gzip(lines.as_bytes()), CHUNK))
}

/// Sends [`v2_write_request`].
pub fn v2_write(base: &str, bucket: &str, org: &str, token: &str, lines: &str) -> Response {
    v2_write_request(base, bucket, org, token, lines)
        .send()
        .expect("telegraf v2 write")
}

fn basic(req: Request, auth: Option<(&str, &str)>) -> Request {
    match auth {
        Some((u, p)) => req.basic_auth(u, p),
        None => req,
    }
}

/// `outputs.influxdb`: `POST {base}/query` with `q=CREATE+DATABASE+%22db%22` (form, sized).
pub fn v1_create_database_request(base: &str, db: &str, auth: Option<(&str, &str)>) -> Request {
    let escaped = db
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    let body = form_encode(&[("q", &format!("CREATE DATABASE \"{escaped}\""))]);
    let req = Request::new("POST", &format!("{base}/query")).header("User-Agent", USER_AGENT);
    basic(req, auth)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept-Encoding", "gzip")
        .body(Body::Fixed(body.into_bytes()))
}

/// Sends [`v1_create_database_request`].
pub fn v1_create_database(base: &str, db: &str, auth: Option<(&str, &str)>) -> Response {
    v1_create_database_request(base, db, auth)
        .send()
        .expect("telegraf v1 create database")
}

/// `outputs.influxdb`: `POST {base}/write?db=D`, Basic auth if given, gzip, chunked.
pub fn v1_write_request(base: &str, db: &str, auth: Option<(&str, &str)>, lines: &str) -> Request {
    let url = format!("{base}/write?{}", form_encode(&[("db", db)]));
    let req = Request::new("POST", &url)
        .header("User-Agent", USER_AGENT)
        .header("Transfer-Encoding", "chunked");
    basic(req, auth)
        .header("Content-Encoding", "gzip")
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("Accept-Encoding", "gzip")
        .body(Body::chunked(&gzip(lines.as_bytes()), CHUNK))
}

/// Sends [`v1_write_request`].
pub fn v1_write(base: &str, db: &str, auth: Option<(&str, &str)>, lines: &str) -> Response {
    v1_write_request(base, db, auth, lines)
        .send()
        .expect("telegraf v1 write")
}

/// Nanoseconds since the epoch, rounded down to a whole second (the harness's only clock read;
/// it only anchors generated data near now, as VictoriaMetrics drops far-off timestamps).
pub fn now_ns() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(d.as_secs()).expect("seconds fit i64") * 1_000_000_000
}

/// Deterministic SNMP `interface` lines, as Telegraf's snmp input with the IF-MIB table emits:
/// `agents` devices × `ifaces` interfaces per gather, one gather every `interval_ns`.
/// Line `i` is interface `i % (agents*ifaces)` of gather `i / (agents*ifaces)`.
#[derive(Debug, Clone, Copy)]
pub struct InterfaceLines {
    pub start_ns: i64,
    pub interval_ns: i64,
    pub agents: u32,
    pub ifaces: u32,
}

/// The integer fields of every `interface` line, in the order they are written.
pub const INTERFACE_FIELDS: [&str; 10] = [
    "ifHCInOctets",
    "ifHCOutOctets",
    "ifHCInUcastPkts",
    "ifHCOutUcastPkts",
    "ifInDiscards",
    "ifInErrors",
    "ifOutDiscards",
    "ifOutErrors",
    "ifOperStatus",
    "ifHighSpeed",
];

impl InterfaceLines {
    /// 4 agents × 8 interfaces, 10 s apart, the last of `gathers` gathers ending before now.
    pub fn near_now(gathers: u32) -> InterfaceLines {
        let interval_ns = 10_000_000_000;
        InterfaceLines {
            start_ns: now_ns() - i64::from(gathers) * interval_ns,
            interval_ns,
            agents: 4,
            ifaces: 8,
        }
    }

    pub fn series(&self) -> u64 {
        u64::from(self.agents) * u64::from(self.ifaces)
    }

    /// The point behind line `i`.
    pub fn point(&self, i: u64) -> Point {
        let s = i % self.series();
        let gather = i64::try_from(i / self.series()).expect("gather fits i64");
        let agent = s / u64::from(self.ifaces);
        let port = s % u64::from(self.ifaces) + 1;
        let host = format!("core{agent}");
        let tags: BTreeMap<String, String> = [
            ("agent_host", format!("10.0.0.{}", agent + 1)),
            ("host", "telegraf-01".to_owned()),
            ("hostname", host),
            ("ifDescr", format!("GigabitEthernet1/0/{port}")),
            ("ifName", format!("Gi1/0/{port}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let si = i64::try_from(s).expect("series fits i64");
        let g = gather;
        let values: [i64; 10] = [
            (si + 1) * 1_000_000_007 + g * 1_250_000_000,
            (si + 1) * 900_000_011 + g * 625_000_000,
            (si + 1) * 7_000_003 + g * 950_000,
            (si + 1) * 5_000_011 + g * 470_000,
            g * (si % 3),
            g * (si % 5) / 2,
            (g + si) % 7,
            (g * si) % 11,
            if si % 9 == 8 { 2 } else { 1 },
            if si % 4 == 0 { 10_000 } else { 1_000 },
        ];
        let fields = INTERFACE_FIELDS
            .iter()
            .zip(values)
            .map(|(k, v)| ((*k).to_owned(), FieldVal::Int(v)))
            .collect();
        Point {
            measurement: "interface".to_owned(),
            tags,
            fields,
            time_ns: self.start_ns + g * self.interval_ns,
        }
    }

    /// Line `i` with its trailing `\n`, fields in Telegraf's (insertion) order.
    pub fn line(&self, i: u64) -> String {
        let p = self.point(i);
        let head = p.to_line();
        // to_line sorts fields by key; Telegraf keeps insertion order: rebuild that part.
        let tags_end = head.find(' ').expect("line has fields");
        let fields: Vec<String> = INTERFACE_FIELDS
            .iter()
            .map(|k| match p.fields.get(*k) {
                Some(FieldVal::Int(v)) => format!("{k}={v}i"),
                other => panic!("interface field {k} is {other:?}"),
            })
            .collect();
        format!("{} {} {}\n", &head[..tags_end], fields.join(","), p.time_ns)
    }

    /// Lines `range` concatenated: one Telegraf batch body (before gzip).
    pub fn batch(&self, range: std::ops::Range<u64>) -> String {
        range.map(|i| self.line(i)).collect()
    }

    /// The points of `range`, sorted as readers return them.
    pub fn points(&self, range: std::ops::Range<u64>) -> Vec<Point> {
        let mut v: Vec<Point> = range.map(|i| self.point(i)).collect();
        super::point::sort_points(&mut v);
        v
    }
}

#[test]
fn interface_lines_are_deterministic_and_parse() {
    let g = InterfaceLines {
        start_ns: 1_717_236_000_000_000_000,
        interval_ns: 10_000_000_000,
        agents: 2,
        ifaces: 3,
    };
    assert_eq!(
        g.line(7),
        "interface,agent_host=10.0.0.1,host=telegraf-01,hostname=core0,\
         ifDescr=GigabitEthernet1/0/2,ifName=Gi1/0/2 \
         ifHCInOctets=3250000014i,ifHCOutOctets=2425000022i,ifHCInUcastPkts=14950006i,\
         ifHCOutUcastPkts=10470022i,ifInDiscards=1i,ifInErrors=0i,ifOutDiscards=2i,\
         ifOutErrors=1i,ifOperStatus=1i,ifHighSpeed=1000i 1717236010000000000\n"
    );
    let batch = g.batch(0..12);
    let parsed: Vec<_> = influxdb_line_protocol::parse_lines(&batch)
        .collect::<Result<_, _>>()
        .expect("generated lines parse");
    assert_eq!(parsed.len(), 12);
    assert_eq!(g.points(0..12).len(), 12);
}

#[test]
fn v2_request_is_chunked_gzip_with_telegraf_headers() {
    let r = v2_write_request("http://127.0.0.1:1", "b", "o", "t", "m f=1i 1\n");
    let names: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "User-Agent",
            "Transfer-Encoding",
            "Authorization",
            "Content-Encoding",
            "Content-Type",
            "Accept-Encoding"
        ]
    );
    assert!(r.url.ends_with("/api/v2/write?bucket=b&org=o"));
    let Body::Chunked(chunks) = &r.body else {
        panic!("body must be chunked")
    };
    let mut out = String::new();
    let all: Vec<u8> = chunks.concat();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&all[..]), &mut out)
        .expect("gunzip");
    assert_eq!(out, "m f=1i 1\n");
}
