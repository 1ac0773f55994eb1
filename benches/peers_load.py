#!/usr/bin/env python3
"""The peers' side of the load figures: DuckDB and polars loading the same
JSON Lines file the `load` bench loads (`peers_load` group), in process,
timed to "queryable" (a table in memory), median of --runs.

usage: python3 benches/peers_load.py DIR/N [--runs 5] [--write-parquet]
       (DIR/N as written by shared/bench/peers.py --write DIR)

--write-parquet first writes DIR/N/entities.parquet (the same rows, by
DuckDB: snappy, its own dictionary pages), which the `load` bench then also
loads; both peers' loads of that file are timed too.

Set-up: pip install duckdb polars
"""
import argparse, json, statistics, time


def timed(fn, runs):
    xs = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t)
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write-parquet", action="store_true")
    a = ap.parse_args()
    schema = json.load(open(f"{a.dir}/schema.json"))["fields"]
    path = f"{a.dir}/entities.jsonl"

    import duckdb
    ty = {"int": "BIGINT", "float": "DOUBLE", "string": "VARCHAR", "bool": "BOOLEAN",
          "timestamp": "TIMESTAMPTZ", "tags": "VARCHAR[]"}
    cols = {"key": "VARCHAR"} | {f: ty[t] for f, t in schema.items()}

    def duck():
        con = duckdb.connect()
        con.execute("SET threads = 2; SET TimeZone = 'UTC'")
        con.execute(f"CREATE TABLE e AS SELECT * FROM read_json('{path}', format='newline_delimited',"
                    f" columns={cols!r})")
        n = con.execute("SELECT count(*) FROM e").fetchone()[0]
        con.close()
        return n

    import polars as pl
    pty = {"int": pl.Int64, "float": pl.Float64, "string": pl.String, "bool": pl.Boolean,
           "timestamp": pl.String, "tags": pl.List(pl.String)}

    def polars():
        df = pl.read_ndjson(path, schema={"key": pl.String} | {f: pty[t] for f, t in schema.items()})
        df = df.with_columns([pl.col(f).str.to_datetime("%Y-%m-%dT%H:%M:%SZ")
                              for f, t in schema.items() if t == "timestamp"])
        return df.height

    parquet = f"{a.dir}/entities.parquet"
    if a.write_parquet:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"COPY (SELECT * FROM read_json('{path}', format='newline_delimited',"
                    f" columns={cols!r})) TO '{parquet}' (FORMAT parquet)")
        con.close()

    duck(), polars()  # warm the page cache
    print(f"duckdb_load_s {timed(duck, a.runs):.3f}")
    print(f"polars_load_s {timed(polars, a.runs):.3f}")
    import os
    if os.path.exists(parquet):
        def duck_parquet():
            con = duckdb.connect()
            con.execute("SET threads = 2")
            con.execute(f"CREATE TABLE e AS SELECT * FROM read_parquet('{parquet}')")
            n = con.execute("SELECT count(*) FROM e").fetchone()[0]
            con.close()
            return n
        duck_parquet(), pl.read_parquet(parquet)
        print(f"duckdb_parquet_s {timed(duck_parquet, a.runs):.3f}")
        print(f"polars_parquet_s {timed(lambda: pl.read_parquet(parquet).height, a.runs):.3f}")


if __name__ == "__main__":
    main()
