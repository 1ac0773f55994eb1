#!/usr/bin/env python3
"""DuckDB on the fifty random filters of `benches/support/random_filters.rs`,
side by side with the crate's criterion timings of the same filters.

    SEGMENTS_PEERS_DIR=/tmp/peers SEGMENTS_BENCH_SIZES=1000000 \\
        cargo bench --bench evaluate -- peers_random
    python3 benches/peers_random.py /tmp/peers/1000000 [--runs 15]

The bench writes DIR/random.jsonl: DuckDB's column types, then each filter
with the SQL the crate compiles for DuckDB (parameters inlined) and the
number of entities the crate found. This script loads DIR/entities.jsonl
into DuckDB (2 threads), checks that each query counts the same entities
(a differential run on the bench's own data), times `SELECT count(*)` (the
least DuckDB can do; the crate's time is a full bitmap of ids), and prints
per filter both medians and their ratio, then the geometric mean and the
worst ratio. Criterion's medians are read from
target/criterion/peers_random_N/<i>/new/estimates.json.
"""
import argparse, json, math, os, statistics, sys, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--runs", type=int, default=15)
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
    ours_dir = os.path.join(a.criterion, f"peers_random_{n}")
    ratios, bad = [], 0
    print(f"{'#':>3} {'matches':>9} {'duckdb ms':>10} {'ours ms':>9} {'ratio':>8}")
    for r in rows:
        q = f"SELECT count(*) FROM ({r['sql']})"
        got = con.execute(q).fetchone()[0]
        if got != r["matches"]:
            bad += 1
            print(f"{r['i']:>3} DIFFERS: duckdb {got}, segments {r['matches']}\n    {r['filter']}", file=sys.stderr)
        times = []
        for _ in range(a.runs):
            t = time.perf_counter()
            con.execute(q).fetchone()
            times.append(time.perf_counter() - t)
        duck = statistics.median(times) * 1e3
        ours = None
        est = os.path.join(ours_dir, f"{r['i']:02}", "new", "estimates.json")
        if os.path.exists(est):
            with open(est) as f:
                ours = json.load(f)["median"]["point_estimate"] / 1e6
        if ours:
            ratios.append(duck / ours)
            print(f"{r['i']:>3} {r['matches']:>9} {duck:>10.3f} {ours:>9.3f} {duck / ours:>7.1f}x")
        else:
            print(f"{r['i']:>3} {r['matches']:>9} {duck:>10.3f} {'-':>9}")
    if ratios:
        geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        print(f"DuckDB time / ours over {len(ratios)} filters: geometric mean {geo:.1f}x,"
              f" worst {min(ratios):.1f}x, best {max(ratios):.1f}x")
    if bad:
        sys.exit(f"{bad} filters count differently in DuckDB")


if __name__ == "__main__":
    main()
