#!/usr/bin/env python3
"""DuckDB on the fifty random filters of `benches/support/random_filters.rs`,
side by side with the crate's criterion timings of the same filters.

    SEGMENTS_PEERS_DIR=/tmp/peers SEGMENTS_BENCH_SIZES=1000000 \\
        cargo bench -p segments-benches --bench evaluate -- peers_random
    python3 benches/peers_random.py /tmp/peers/1000000 [--runs 15]

The bench writes DIR/random.jsonl: DuckDB's column types, then each filter
with the SQL the crate compiles for DuckDB (parameters inlined) and the
number of entities the crate found. This script loads DIR/entities.jsonl
into DuckDB (2 threads), checks that each query counts the same entities
(a differential run on the bench's own data), times `SELECT count(*)` (the
least DuckDB can do; the crate's time is a full bitmap of ids), and prints
per filter both medians and their ratio, then the geometric mean and the
worst ratio. With --polars it loads the file into polars too, checks its
counts (a translation of each filter into polars expressions with the
contract's missing-value rules) and takes the ratio against the faster
peer. Criterion's medians are read from
target/criterion/peers_random_N/<i>/new/estimates.json.
"""
import argparse, datetime as dt, json, math, os, statistics, sys, time

NOW = dt.datetime(2026, 11, 22, 12, 0, 0)
UNIT = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400}


def median_ms(fn, runs):
    """The median time of `runs` calls of `fn`, in milliseconds."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def instant(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")


def polars_expr(node, schema):
    """The filter as a polars expression with the contract's semantics: a
    positive rule is false on a missing value, a negative one its exact
    complement, `not` the complement within all rows."""
    import polars as pl
    if "combinator" in node:
        parts = [polars_expr(r, schema) for r in node["rules"]]
        if node["combinator"] == "and":
            e = pl.all_horizontal(parts) if parts else pl.lit(True)
        else:
            e = pl.any_horizontal(parts) if parts else pl.lit(False)
        return ~e if node.get("not") else e
    f, op, v = node["field"], node["operator"], node.get("value")
    c = pl.col(f)
    if op == "null":
        return c.is_null()
    if op == "notNull":
        return c.is_not_null()
    ts = schema[f] == "timestamp"
    lit = (lambda x: instant(x)) if ts else (lambda x: x)
    negative = {"!=": "=", "notIn": "in", "notBetween": "between", "doesNotContain": "contains",
                "doesNotBeginWith": "beginsWith", "doesNotEndWith": "endsWith"}
    if op in negative:
        return ~polars_expr(dict(node, operator=negative[op]), schema)
    if op == "=":
        e = c == lit(v)
    elif op == "<":
        e = c < lit(v)
    elif op == "<=":
        e = c <= lit(v)
    elif op == ">":
        e = c > lit(v)
    elif op == ">=":
        e = c >= lit(v)
    elif op == "between":
        e = c.is_between(lit(v[0]), lit(v[1]))
    elif op == "in":
        e = c.is_in([lit(x) for x in v])
    elif op == "contains":
        e = c.str.contains(v, literal=True)
    elif op == "beginsWith":
        e = c.str.starts_with(v)
    elif op == "endsWith":
        e = c.str.ends_with(v)
    elif op in ("withinLast", "withinNext", "moreThanAgo"):
        d = dt.timedelta(seconds=v["amount"] * UNIT[v["unit"]])
        e = {"withinLast": c.is_between(NOW - d, NOW), "withinNext": c.is_between(NOW, NOW + d),
             "moreThanAgo": c < NOW - d}[op]
    else:
        raise ValueError(f"no polars form for {op}")
    return e.fill_null(False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--polars", action="store_true", help="time polars too; the ratio is then against the faster peer")
    ap.add_argument("--criterion", default=os.path.join(os.path.dirname(__file__), "..", "target", "criterion"))
    a = ap.parse_args()
    import duckdb

    n = os.path.basename(os.path.normpath(a.dir))
    with open(os.path.join(a.dir, "random.jsonl")) as f:
        head, *rows = [json.loads(line) for line in f if line.strip()]
    con = duckdb.connect()
    con.execute("SET threads = 2; SET TimeZone = 'UTC'")
    cols = head["columns"]
    con.execute(f"CREATE TABLE account AS SELECT * FROM read_json('{a.dir}/entities.jsonl',"
                f" format='newline_delimited', columns={cols!r})")
    df = None
    if a.polars:
        import polars as pl
        schema = json.load(open(os.path.join(a.dir, "schema.json")))["fields"]
        pty = {"int": pl.Int64, "float": pl.Float64, "string": pl.String, "bool": pl.Boolean,
               "timestamp": pl.String}
        df = pl.read_ndjson(os.path.join(a.dir, "entities.jsonl"),
                            schema={"key": pl.String} | {f: pty[t] for f, t in schema.items()})
        df = df.with_columns([pl.col(f).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="us")
                              for f, t in schema.items() if t == "timestamp"])
    ours_dir = os.path.join(a.criterion, f"peers_random_{n}")
    ratios, bad, polars_ms = [], 0, []
    print(f"{'#':>3} {'matches':>9} {'duckdb ms':>10} {'polars ms':>10} {'ours ms':>9} {'ratio':>8}")
    for r in rows:
        q = f"SELECT count(*) FROM ({r['sql']})"
        got = con.execute(q).fetchone()[0]
        if got != r["matches"]:
            bad += 1
            print(f"{r['i']:>3} DIFFERS: duckdb {got}, segments {r['matches']}\n    {r['filter']}", file=sys.stderr)
        duck = median_ms(lambda: con.execute(q).fetchone(), a.runs)
        if df is not None:
            e = polars_expr(json.loads(r["filter"]), schema)
            pgot = df.select(e.sum()).item()
            if pgot != r["matches"]:
                bad += 1
                print(f"{r['i']:>3} DIFFERS: polars {pgot}, segments {r['matches']}", file=sys.stderr)
            polars_ms.append(median_ms(lambda: df.select(e.sum()).item(), a.runs))
        ours = None
        est = os.path.join(ours_dir, f"{r['i']:02}", "new", "estimates.json")
        if os.path.exists(est):
            with open(est) as f:
                ours = json.load(f)["median"]["point_estimate"] / 1e6
        pol = f"{polars_ms[-1]:>10.3f}" if df is not None else f"{'-':>10}"
        best = min([duck] + (polars_ms[-1:] if df is not None else []))
        if ours:
            ratios.append(best / ours)
            print(f"{r['i']:>3} {r['matches']:>9} {duck:>10.3f} {pol} {ours:>9.3f} {best / ours:>7.1f}x")
        else:
            print(f"{r['i']:>3} {r['matches']:>9} {duck:>10.3f} {pol} {'-':>9}")
    if ratios:
        geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        peer = "the faster peer's" if df is not None else "DuckDB's"
        print(f"{peer} time / ours over {len(ratios)} filters: geometric mean {geo:.1f}x,"
              f" worst {min(ratios):.1f}x, best {max(ratios):.1f}x")
    if bad:
        sys.exit(f"{bad} filters count differently in DuckDB")


if __name__ == "__main__":
    main()
