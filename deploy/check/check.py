#!/usr/bin/env python3
"""Offline checks of everything under deploy/, grafana/ and telegraf/.

    deploy/check/check.py                 # every overlay, dashboards, telegraf configs
    deploy/check/check.py --fixtures      # every file in fixtures/ must fail, with its rule
    deploy/deploy.sh -r -P X | deploy/check/check.py --manifests -   # schemas + rules of a render

What it checks (the README's "Deploy on Kubernetes" section lists the same):
- schema:   each manifest `kubectl kustomize` renders for each overlay validates against the
            Kubernetes OpenAPI schemas (PyPI kubernetes-validate, strict, K8S_VERSION) or, for
            CiliumNetworkPolicy / Longhorn RecurringJob / MetalLB pools, against the CRD schemas
            in schemas/ (JSON Schema); a kind with neither is an error.
- rules:    project rules: every container has cpu/memory requests and limits, liveness and
            readiness probes and a locked-down securityContext; every PVC is on Longhorn; every
            namespace has a default-deny CiliumNetworkPolicy; a workload with more than one
            replica has required anti-affinity and a PodDisruptionBudget.
- sluice:   the sluice ConfigMap agrees with the rest: SLUICE_REPLICAS = spec.replicas =
            [limits] replicas, the Ingress body limit is at least max_body_bytes, the tenants
            file, the tenant namespaces and the [[tenant]] ids match, ${VARS} follow deploy.sh's
            naming.
- env:      every ${VAR} of telegraf.conf and of the Grafana datasources reaches its container.
- grafana:  dashboards load and match schemas/grafana-dashboard.schema.json; variables used
            in queries are defined; datasource uids exist in the provisioning files.
- telegraf: telegraf.conf and telegraf-v1.conf parse as TOML after Telegraf's ${VAR}
            substitution; outputs use the variables deploy.sh and tenant-settings provide;
            both files carry the same inputs.
Exit status 0 when everything passes; each failure is printed as `rule: where: what`.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tomllib

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
# RKE2's current stable line (the schema set kubernetes-validate ships for it).
K8S_VERSION = os.environ.get("K8S_VERSION", "1.34.0")

CRD_SCHEMAS = {
    ("cilium.io/v2", "CiliumNetworkPolicy"): "cilium.io/ciliumnetworkpolicy_v2.json",
    ("longhorn.io/v1beta2", "RecurringJob"): "longhorn.io/recurringjob_v1beta2.json",
    ("metallb.io/v1beta1", "IPAddressPool"): "metallb.io/ipaddresspool_v1beta1.json",
    ("metallb.io/v1beta1", "L2Advertisement"): "metallb.io/l2advertisement_v1beta1.json",
}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"}


class Failures:
    def __init__(self):
        self.items = []

    def add(self, rule, where, what):
        self.items.append((rule, where, what))

    def rules(self):
        return {r for r, _, _ in self.items}


def where(doc):
    md = doc.get("metadata") or {}
    ns = md.get("namespace")
    return f"{doc.get('kind')}/{(ns + '/') if ns else ''}{md.get('name')}"


# ---------------------------------------------------------------------------- schemas

_crd_cache = {}


def check_schema(doc, f):
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in CRD_SCHEMAS:
        path = os.path.join(HERE, "schemas", CRD_SCHEMAS[key])
        if path not in _crd_cache:
            with open(path, encoding="utf-8") as fh:
                schema = json.load(fh)
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
            _crd_cache[path] = cls(schema)
        for err in _crd_cache[path].iter_errors(doc):
            loc = "/".join(str(p) for p in err.absolute_path)
            f.add("schema", where(doc), f"{loc}: {err.message}")
        return
    import kubernetes_validate as kv

    try:
        kv.validate(doc, K8S_VERSION, strict=True)
    except kv.SchemaNotFoundError:
        f.add("schema", where(doc), f"no schema for {key[0]} {key[1]} (Kubernetes {K8S_VERSION} or schemas/)")
    except kv.ValidationError as e:
        loc = "/".join(str(p) for p in e.absolute_path)
        f.add("schema", where(doc), f"{loc}: {e.message}")


# ---------------------------------------------------------------------------- rules

def pod_spec(doc):
    kind = doc["kind"]
    spec = doc.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def check_container(doc, pod, c, f):
    w = f"{where(doc)} container {c.get('name')}"
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in (res.get(part) or {}):
                f.add("limits", w, f"no resources.{part}.{r}")
    if doc["kind"] in LONG_RUNNING:
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in c:
                f.add("probes", w, f"no {probe}")
    sc = c.get("securityContext") or {}
    psc = pod.get("securityContext") or {}
    if sc.get("allowPrivilegeEscalation") is not False:
        f.add("securityContext", w, "allowPrivilegeEscalation is not false")
    if sc.get("readOnlyRootFilesystem") is not True:
        f.add("securityContext", w, "readOnlyRootFilesystem is not true")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        f.add("securityContext", w, "capabilities.drop lacks ALL")
    if (sc.get("capabilities") or {}).get("add"):
        f.add("securityContext", w, "adds capabilities")
    if sc.get("privileged"):
        f.add("securityContext", w, "privileged")
    if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
        f.add("securityContext", w, "runAsNonRoot is not set")
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        f.add("securityContext", w, "seccompProfile is not RuntimeDefault")


def selects(selector, labels):
    ml = (selector or {}).get("matchLabels") or {}
    return bool(ml) and all(labels.get(k) == v for k, v in ml.items())


def check_rules(docs, f):
    pdbs = [d for d in docs if d.get("kind") == "PodDisruptionBudget"]
    namespaces = {d["metadata"]["name"] for d in docs if d.get("kind") == "Namespace"}
    used_ns = set(namespaces)
    for d in docs:
        kind = d.get("kind")
        if kind in WORKLOADS:
            pod = pod_spec(d)
            used_ns.add(d["metadata"].get("namespace", "default"))
            for c in (pod.get("initContainers") or []) + (pod.get("containers") or []):
                check_container(d, pod, c, f)
            if not pod.get("containers"):
                f.add("probes", where(d), "no containers")
            replicas = (d.get("spec") or {}).get("replicas", 1)
            if kind in ("Deployment", "StatefulSet") and replicas > 1:
                anti = ((pod.get("affinity") or {}).get("podAntiAffinity") or {})
                if not anti.get("requiredDuringSchedulingIgnoredDuringExecution"):
                    f.add("availability", where(d), f"{replicas} replicas without required pod anti-affinity")
                labels = ((d["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
                ns = d["metadata"].get("namespace")
                if not any(p["metadata"].get("namespace") == ns and selects(p["spec"].get("selector"), labels) for p in pdbs):
                    f.add("availability", where(d), f"{replicas} replicas without a PodDisruptionBudget")
            for t in (d.get("spec") or {}).get("volumeClaimTemplates") or []:
                sc = (t.get("spec") or {}).get("storageClassName")
                if sc != "longhorn":
                    f.add("storage", f"{where(d)} volumeClaimTemplate {t['metadata'].get('name')}", f"storageClassName {sc!r}, not longhorn")
        if kind == "PersistentVolumeClaim":
            sc = (d.get("spec") or {}).get("storageClassName")
            if sc != "longhorn":
                f.add("storage", where(d), f"storageClassName {sc!r}, not longhorn")
    for ns in sorted(used_ns):
        if ns in ("longhorn-system", "metallb-system", "cattle-dashboards", "kube-system"):
            continue
        cnps = [d for d in docs if d.get("kind") == "CiliumNetworkPolicy" and d["metadata"].get("namespace") == ns]
        if not cnps:
            f.add("netpol", f"namespace {ns}", "no CiliumNetworkPolicy")
            continue
        deny = [c for c in cnps if (c["spec"].get("endpointSelector") == {}
                                    and c["spec"].get("ingress") == [{}] and c["spec"].get("egress") == [{}])]
        if not deny:
            f.add("netpol", f"namespace {ns}", "no default-deny policy (endpointSelector {}, ingress [{}], egress [{}])")


# ---------------------------------------------------------------------------- sluice

SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30,
              "K": 2**10, "M": 2**20, "G": 2**30}


def size_bytes(s):
    m = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", str(s))
    if not m or m.group(2).upper() not in SIZE_UNITS:
        raise ValueError(f"size {s!r}")
    return int(m.group(1)) * SIZE_UNITS[m.group(2).upper()]


def env_name(tenant):
    return re.sub(r"[^A-Za-z0-9]", "_", tenant).upper()


def check_sluice(overlay, docs, f):
    cm = [d for d in docs if d.get("kind") == "ConfigMap" and d["metadata"]["name"].startswith("sluice-config")]
    sts = [d for d in docs if d.get("kind") == "StatefulSet" and d["metadata"]["name"] == "sluice"]
    if len(cm) != 1 or len(sts) != 1:
        f.add("sluice", overlay, "expected one sluice-config ConfigMap and one sluice StatefulSet")
        return
    try:
        cfg = tomllib.loads(cm[0]["data"]["sluice.toml"])
    except tomllib.TOMLDecodeError as e:
        f.add("sluice", overlay, f"sluice.toml: {e}")
        return
    st = sts[0]
    replicas = st["spec"].get("replicas", 1)
    env = {e["name"]: e.get("value") for e in st["spec"]["template"]["spec"]["containers"][0].get("env") or []}
    if env.get("SLUICE_REPLICAS") != str(replicas):
        f.add("sluice", where(st), f"SLUICE_REPLICAS={env.get('SLUICE_REPLICAS')} but spec.replicas={replicas}")
    if (cfg.get("limits") or {}).get("replicas", 1) != replicas:
        f.add("sluice", overlay, f"[limits] replicas differs from spec.replicas={replicas}")
    if (cfg.get("store") or {}).get("enabled") and replicas > 1:
        f.add("sluice", overlay, "embedded store with more than one replica: each pod would answer with its share of the data")
    if "upstream" not in cfg and replicas > 1:
        f.add("sluice", overlay, "embedded mode (no [upstream]) with more than one replica")
    if not str((cfg.get("admin") or {}).get("listen", "127.0.0.1")).startswith("0.0.0.0"):
        f.add("sluice", overlay, "[admin] listen is not 0.0.0.0: Prometheus cannot scrape /metrics")
    body = size_bytes((cfg.get("server") or {}).get("max_body_bytes", "32MiB"))
    for ing in (d for d in docs if d.get("kind") == "Ingress" and d["metadata"].get("namespace") == "sluice"):
        ann = ing["metadata"].get("annotations") or {}
        limit = ann.get("nginx.ingress.kubernetes.io/proxy-body-size")
        if limit is None or size_bytes(limit.replace("m", "M").replace("k", "K").replace("g", "G")) < body:
            f.add("sluice", where(ing), f"proxy-body-size {limit} is below max_body_bytes ({body} bytes)")
        for a in ("proxy-buffering", "proxy-request-buffering"):
            if ann.get(f"nginx.ingress.kubernetes.io/{a}") != "off":
                f.add("sluice", where(ing), f"{a} is not off")
    # Tenants: the overlay's tenants file, the namespaces and the config agree.
    tenants_file = os.path.join(ROOT, "deploy", "overlays", overlay, "tenants")
    rows = []
    with open(tenants_file, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].split()
            if line:
                rows.append(line)
    ids = {t["id"] for t in cfg.get("tenant") or []}
    if ids != {r[0] for r in rows}:
        f.add("sluice", overlay, f"tenants file {sorted(r[0] for r in rows)} != [[tenant]] ids {sorted(ids)}")
    ns_labels = {d["metadata"]["name"]: (d["metadata"].get("labels") or {}).get("sluice.io/tenant")
                 for d in docs if d.get("kind") == "Namespace"}
    for r in rows:
        if ns_labels.get(r[1]) != r[0]:
            f.add("sluice", overlay, f"namespace {r[1]} is not rendered with label sluice.io/tenant={r[0]}")
    allowed = {"SLUICE_REPLICAS"} | {f"{env_name(i)}_{s}" for i in ids for s in ("TOKEN_SHA256", "INFLUX_TOKEN")}
    for var in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", re.sub(r"#.*", "", cm[0]["data"]["sluice.toml"])):
        if var not in allowed:
            f.add("sluice", overlay, f"sluice.toml uses ${{{var}}}, which deploy.sh does not put in Secret sluice-tenants")


def provided_env(dep, docs):
    """Environment variable names a workload's first container gets (env + envFrom ConfigMaps)."""
    c = pod_spec(dep)["containers"][0]
    names = {e["name"] for e in c.get("env") or []}
    ns = dep["metadata"].get("namespace")
    for ef in c.get("envFrom") or []:
        ref = (ef.get("configMapRef") or {}).get("name")
        for d in docs:
            if d.get("kind") == "ConfigMap" and d["metadata"].get("namespace") == ns and d["metadata"]["name"] == ref:
                names |= set((d.get("data") or {}).keys())
        if ef.get("secretRef"):
            names.add("*")  # a whole Secret: cannot be checked offline
    return names


def check_tenant_env(overlay, docs, f):
    """Every ${VAR} of telegraf.conf and of the Grafana datasources reaches the container."""
    files = {"telegraf": os.path.join(ROOT, "telegraf", "telegraf.conf"),
             "grafana": os.path.join(ROOT, "grafana", "provisioning", "datasources", "sluice.yaml")}
    for d in docs:
        name = d["metadata"]["name"]
        if d.get("kind") != "Deployment" or name not in files:
            continue
        have = provided_env(d, docs)
        with open(files[name], encoding="utf-8") as fh:
            text = re.sub(r"#.*", "", fh.read())
        for var in sorted(set(re.findall(r"\$\{(\w+)\}", text))):
            if var not in have and "*" not in have:
                f.add("env", where(d), f"{os.path.relpath(files[name], ROOT)} uses ${{{var}}}, not in the container's environment")


# ---------------------------------------------------------------------------- grafana

def walk_panels(panels):
    for p in panels or []:
        yield p
        yield from walk_panels(p.get("panels"))


def check_grafana(f):
    gdir = os.path.join(ROOT, "grafana")
    with open(os.path.join(HERE, "schemas", "grafana-dashboard.schema.json"), encoding="utf-8") as fh:
        validator = jsonschema.Draft7Validator(json.load(fh))
    uids = set()
    provisioned = []  # (type, name)
    pdir = os.path.join(gdir, "provisioning", "datasources")
    for name in sorted(os.listdir(pdir)):
        with open(os.path.join(pdir, name), encoding="utf-8") as fh:
            for ds in yaml.safe_load(fh).get("datasources") or []:
                if not ds.get("uid"):
                    f.add("grafana", name, f"datasource {ds.get('name')} has no uid")
                uids.add(ds.get("uid"))
                provisioned.append((ds.get("type"), ds.get("name")))
    ddir = os.path.join(gdir, "dashboards")
    for name in sorted(os.listdir(ddir)):
        w = f"grafana/dashboards/{name}"
        try:
            with open(os.path.join(ddir, name), encoding="utf-8") as fh:
                dash = json.load(fh)
        except (OSError, json.JSONDecodeError) as e:
            f.add("grafana", w, f"does not load: {e}")
            continue
        for err in validator.iter_errors(dash):
            f.add("grafana", w, f"{'/'.join(str(p) for p in err.absolute_path)}: {err.message}")
        variables = {v["name"]: v for v in (dash.get("templating") or {}).get("list") or []}
        builtin = {"timeFilter", "__interval", "interval", "__interval_ms", "__rate_interval", "__range",
                   "col", "__url_time_range", "__all_variables"}
        def known(text, ctx):
            for v in re.findall(r"\$\{?(\w+)", text):
                if v not in variables and v not in builtin and not v.startswith("tag_"):
                    f.add("grafana", f"{w} {ctx}", f"unknown variable ${v}")
        for v in variables.values():
            if v["type"] == "datasource":
                # A datasource variable must offer at least one provisioned datasource.
                rx = (v.get("regex") or "/.*/").strip("/")
                if not any(t == v.get("query") and re.search(rx, n) for t, n in provisioned):
                    f.add("grafana", f"{w} variable {v['name']}", f"no provisioned {v.get('query')} datasource matches {v.get('regex')}")
                continue
            q = v.get("query")
            known(json.dumps(q), f"variable {v['name']}")
        for p in walk_panels(dash.get("panels")):
            for t in p.get("targets") or []:
                ds = (t.get("datasource") or p.get("datasource") or {}).get("uid", "")
                m = re.fullmatch(r"\$\{(\w+)\}", ds)
                if m:
                    if (variables.get(m.group(1)) or {}).get("type") != "datasource":
                        f.add("grafana", f"{w} panel {p.get('title')!r}", f"datasource {ds} is not a datasource variable")
                elif ds not in uids:
                    f.add("grafana", f"{w} panel {p.get('title')!r}", f"datasource uid {ds!r} is not provisioned")
                text = t.get("query") or t.get("expr") or ""
                if not text.strip():
                    f.add("grafana", f"{w} panel {p.get('title')!r}", f"target {t.get('refId')} has no query")
                known(text + " " + t.get("alias", "") + " " + t.get("legendFormat", ""), f"panel {p.get('title')!r}")


# ---------------------------------------------------------------------------- telegraf

# What the tenant stack gives Telegraf: the ConfigMap tenant-settings and Secret tenant-credentials.
TELEGRAF_ENV = {
    "SLUICE_URL": "http://sluice.sluice.svc.cluster.local:8086", "SLUICE_TENANT": "demo",
    "SLUICE_ORG": "demo", "SLUICE_BUCKET": "telegraf", "SLUICE_TOKEN": "t0ken",
    "SNMP_AGENTS": '["udp://192.0.2.1:161", "udp://192.0.2.2:161"]', "PING_URLS": '["192.0.2.1"]',
    "SNMP_COMMUNITY": "public",
}


def telegraf_subst(text, f, name):
    """Telegraf's substitution: ${NAME} anywhere outside comments, before TOML parsing."""
    out = []
    for line in text.splitlines(keepends=True):
        code, hash_, comment = line.partition("#") if not line.lstrip().startswith(("'''", '"')) else (line, "", "")
        def sub(m):
            if m.group(1) not in TELEGRAF_ENV:
                f.add("telegraf", name, f"${{{m.group(1)}}} is not provided by tenant-settings / tenant-credentials")
                return "x"
            return TELEGRAF_ENV[m.group(1)]
        out.append(re.sub(r"\$\{(\w+)\}", sub, code) + hash_ + comment)
    return "".join(out)


def check_telegraf(f):
    tdir = os.path.join(ROOT, "telegraf")
    parsed = {}
    for name in ("telegraf.conf", "telegraf-v1.conf"):
        with open(os.path.join(tdir, name), encoding="utf-8") as fh:
            raw = fh.read()
        try:
            parsed[name] = tomllib.loads(telegraf_subst(raw, f, name))
        except tomllib.TOMLDecodeError as e:
            f.add("telegraf", name, f"not TOML: {e}")
            continue
        for var in ("SLUICE_URL", "SLUICE_TOKEN", "SLUICE_BUCKET"):
            if "${" + var + "}" not in raw:
                f.add("telegraf", name, f"the output does not use ${{{var}}}")
    v2 = (parsed.get("telegraf.conf") or {}).get("outputs", {}).get("influxdb_v2")
    v1 = (parsed.get("telegraf-v1.conf") or {}).get("outputs", {}).get("influxdb")
    if v2:
        o = v2[0]
        if o.get("urls") != [TELEGRAF_ENV["SLUICE_URL"]] or o.get("token") != TELEGRAF_ENV["SLUICE_TOKEN"] \
                or o.get("bucket") != TELEGRAF_ENV["SLUICE_BUCKET"] or o.get("content_encoding", "gzip") != "gzip":
            f.add("telegraf", "telegraf.conf", f"outputs.influxdb_v2 is not url/token/bucket from the environment, gzip: {o}")
    elif "telegraf.conf" in parsed:
        f.add("telegraf", "telegraf.conf", "no [[outputs.influxdb_v2]]")
    if v1:
        o = v1[0]
        if o.get("database") != TELEGRAF_ENV["SLUICE_BUCKET"] or o.get("password") != TELEGRAF_ENV["SLUICE_TOKEN"]:
            f.add("telegraf", "telegraf-v1.conf", "outputs.influxdb does not write database=$SLUICE_BUCKET with the token as password")
    elif "telegraf-v1.conf" in parsed:
        f.add("telegraf", "telegraf-v1.conf", "no [[outputs.influxdb]]")
    if len(parsed) == 2:
        a, b = (parsed[n].get("inputs") for n in ("telegraf.conf", "telegraf-v1.conf"))
        if a != b:
            f.add("telegraf", "telegraf-v1.conf", "inputs differ from telegraf.conf")
        snmp = (a or {}).get("snmp") or []
        tables = {t.get("name") for s in snmp for t in s.get("table") or []}
        if "interface" not in tables:
            f.add("telegraf", "telegraf.conf", "no SNMP table named interface")


# ---------------------------------------------------------------------------- main

def render(path):
    out = subprocess.run(["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", path],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def check_docs(docs, f):
    for d in docs:
        check_schema(d, f)
    check_rules(docs, f)


def report(f, label):
    for rule, w, what in f.items:
        print(f"{rule}: {w}: {what}")
    print(f"check.py: {label}: {len(f.items)} problem(s)", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixtures", action="store_true", help="every fixture must fail with exactly the rule its header names")
    ap.add_argument("--manifests", metavar="FILE", help="check rendered manifests from FILE (- = stdin) instead of the overlays")
    args = ap.parse_args()
    if args.manifests:
        fh = sys.stdin if args.manifests == "-" else open(args.manifests, encoding="utf-8")
        docs = [d for d in yaml.safe_load_all(fh) if d]
        f = Failures()
        check_docs(docs, f)
        report(f, f"{len(docs)} manifests from {args.manifests}")
        return 1 if f.items or not docs else 0
    if args.fixtures:
        bad = 0
        fdir = os.path.join(HERE, "fixtures")
        names = sorted(os.listdir(fdir))
        for name in names:
            path = os.path.join(fdir, name)
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            m = re.search(r"^# expect: (\S+)", text, re.M)
            f = Failures()
            if os.path.isdir(path) or path.endswith(".yaml"):
                docs = render(path) if os.path.isdir(path) else [d for d in yaml.safe_load_all(text) if d]
                check_docs(docs, f)
            if not m or f.rules() != {m.group(1)}:
                bad += 1
                print(f"fixture {name}: expected a {m.group(1) if m else '?'} failure, got {sorted(f.rules()) or 'none'}")
        print(f"check.py: {len(names) - bad} of {len(names)} broken fixtures rejected as expected", file=sys.stderr)
        return 1 if bad or not names else 0
    f = Failures()
    odir = os.path.join(ROOT, "deploy", "overlays")
    overlays = sorted(os.listdir(odir))
    n = 0
    for o in overlays:
        try:
            docs = render(os.path.join(odir, o))
        except RuntimeError as e:
            f.add("render", o, str(e))
            continue
        n += len(docs)
        check_docs(docs, f)
        check_sluice(o, docs, f)
        check_tenant_env(o, docs, f)
    check_grafana(f)
    check_telegraf(f)
    report(f, f"{len(overlays)} overlays, {n} manifests (Kubernetes {K8S_VERSION}), dashboards, telegraf")
    return 1 if f.items else 0


if __name__ == "__main__":
    sys.exit(main())
