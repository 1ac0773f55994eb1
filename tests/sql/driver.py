"""Runs compiled segment queries in a real SQL engine, for tests/sql.rs.

Usage: python3 driver.py JOB.json > ANSWERS.jsonl

The job names the engine ("postgres", "duckdb", "clickhouse", "spark"),
the tables to create and fill, and the queries to run, each with its
parameters as text (the form `SqlValue::to_sql_text` gives, which the
placeholders' casts read). For each query, one line: {"keys": [...]}, or
{"error": "..."}. Values in rows: null, numbers, strings, booleans, lists of
strings (tags), and instants as {"us": microseconds since the epoch, UTC}.

PostgreSQL is reached at the libpq connection string in SEGMENTS_PG.

Every session runs in a zone other than UTC (ZONE), as a service's may:
the compiled queries must not depend on it.
"""

import datetime
import json
import os
import sys

EPOCH = datetime.datetime(1970, 1, 1)
ZONE = "America/New_York"


def instant(v, aware):
    t = EPOCH + datetime.timedelta(microseconds=v["us"])
    return t.replace(tzinfo=datetime.timezone.utc) if aware else t


def plain(v, aware=False):
    if isinstance(v, dict):
        return instant(v, aware)
    return v


def run_postgres(job):
    import psycopg

    conn = psycopg.connect(os.environ["SEGMENTS_PG"], autocommit=True, options=f"-c TimeZone={ZONE}")
    with conn.cursor() as cur:
        for t in job["tables"]:
            cur.execute(f"DROP TABLE IF EXISTS {t['name']}")
            cols = ", ".join(f"{n} {ty}" for n, ty in t["columns"])
            cur.execute(f"CREATE TABLE {t['name']} ({cols})")
            if t["rows"]:
                marks = ", ".join(["%s"] * len(t["columns"]))
                cur.executemany(
                    f"INSERT INTO {t['name']} VALUES ({marks})",
                    [[plain(v, True) for v in row] for row in t["rows"]],
                )
            cur.execute(f"ANALYZE {t['name']}")
    for q in job["queries"]:
        res = conn.pgconn.exec_params(q["text"].encode(), [p.encode() for p in q["params"]])
        if res.status != psycopg.pq.ExecStatus.TUPLES_OK:
            yield {"error": res.error_message.decode(errors="replace").strip()}
            continue
        yield {"keys": [res.get_value(i, 0).decode() for i in range(res.ntuples)]}


def run_duckdb(job):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{ZONE}'")
    for t in job["tables"]:
        cols = ", ".join(f"{n} {ty}" for n, ty in t["columns"])
        con.execute(f"CREATE TABLE {t['name']} ({cols})")
        if t["rows"]:
            marks = ", ".join(["?"] * len(t["columns"]))
            con.executemany(
                f"INSERT INTO {t['name']} VALUES ({marks})",
                [[plain(v) for v in row] for row in t["rows"]],
            )
    for q in job["queries"]:
        try:
            rows = con.execute(q["text"], q["params"]).fetchall()
            yield {"keys": [r[0] for r in rows]}
        except Exception as e:  # the engine's refusal is an answer to report
            yield {"error": str(e).splitlines()[0]}


def run_clickhouse(job):
    from chdb import session

    s = session.Session()
    s.query("CREATE DATABASE IF NOT EXISTS seg; USE seg")
    s.query(f"SET session_timezone = '{ZONE}'")
    for t in job["tables"]:
        cols = ", ".join(f"{n} {ty}" for n, ty in t["columns"])
        s.query(f"CREATE TABLE {t['name']} ({cols}) ENGINE = Memory")
        names = [n for n, _ in t["columns"]]
        lines = []
        for row in t["rows"]:
            rec = {}
            for n, v in zip(names, row):
                if isinstance(v, dict):
                    v = instant(v, False).strftime("%Y-%m-%d %H:%M:%S.%f")
                # An empty array is the missing tags value: Array is not Nullable.
                if v is None and "Array" in dict(t["columns"])[n]:
                    v = []
                rec[n.strip('"')] = v
            lines.append(json.dumps(rec))
        if lines:
            s.query(f"INSERT INTO {t['name']} FORMAT JSONEachRow\n" + "\n".join(lines))
    for q in job["queries"]:
        try:
            params = {f"p{i + 1}": p for i, p in enumerate(q["params"])}
            r = s.query(q["text"], "JSONCompact", params=params)
            data = json.loads(r.data())["data"] if r.bytes() else []
            yield {"keys": [row[0] for row in data]}
        except Exception as e:
            yield {"error": str(e).strip().splitlines()[0][:500]}


def run_spark(job):
    os.environ["TZ"] = "UTC"
    import time

    time.tzset()
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("segments-sql")
        .config("spark.sql.session.timeZone", ZONE)
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    for t in job["tables"]:
        schema = ", ".join(f"{n} {ty}" for n, ty in t["columns"])
        rows = [tuple(plain(v) for v in row) for row in t["rows"]]
        df = spark.createDataFrame(rows, schema=schema)
        df.createOrReplaceTempView(t["name"].strip("`"))
    for q in job["queries"]:
        try:
            args = {f"p{i + 1}": p for i, p in enumerate(q["params"])}
            rows = spark.sql(q["text"], args=args).collect()
            yield {"keys": [r[0] for r in rows]}
        except Exception as e:
            yield {"error": str(e).strip().splitlines()[0][:500]}
    spark.stop()


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    run = {
        "postgres": run_postgres,
        "duckdb": run_duckdb,
        "clickhouse": run_clickhouse,
        "spark": run_spark,
    }[job["engine"]]
    out = sys.stdout
    for answer in run(job):
        out.write(json.dumps(answer) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
