//! The `segment` command: evaluates one filter against one file of entities,
//! as [the contract](https://docs.rs/segments/latest/segments/contract/) (`src/contract.md`) fixes it.
//!
//! ```text
//! cargo run --release --example segment -- \
//!     --schema schema.json --entities entities.jsonl --filter filter.json \
//!     [--now 2026-11-22T12:00:00Z] [--max-conditions N | --max-conditions unlimited]
//!
//! cargo run --release --example segment -- \
//!     --schema schema.json --filter filter.json --sql postgres|duckdb|clickhouse|spark
//! ```
//!
//! `--entities` may also name a Parquet file (`*.parquet`): a `key` column
//! of strings and a column per field, each of an Arrow type its field
//! reads (`Table::insert_arrow` lists them); errors then name the row
//! (0-based) instead of the line. That needs the library's `parquet`
//! feature (`cargo run --release --features parquet --example segment
//! -- ...`, Rust 1.88); without it a `.parquet` file is refused with a
//! message that says so.
//!
//! stdout: the keys of the matching entities, one per line, in file order.
//! With `--sql`, instead, the filter compiled to a query of that dialect
//! (the entities in table `entity`, keyed by column `key`, each field in
//! the column of its name, events in `entity_events`), then each
//! parameter bound at `--now` as an SQL comment; `--entities` is then not
//! read.
//! stderr: timings, or a one-line error naming the file (and line, key and
//! field where they apply); the exit code is then non-zero.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use std::sync::Arc;

use segments::sql::{self, Dialect, EventTable, Mapping};
use segments::{eval, Filter, KindSchema, LimitPolicy, Plan, Schema, Table, Timestamp};

struct Args {
    schema: String,
    entities: String,
    filter: String,
    now: Option<String>,
    max_conditions: Option<String>,
    sql: Option<String>,
}

const USAGE: &str = "usage: segment --schema FILE --entities FILE --filter FILE \
                     [--now RFC3339] [--max-conditions N|unlimited] [--sql DIALECT]";

fn parse_args() -> Result<Args, String> {
    let mut schema = None;
    let mut entities = None;
    let mut filter = None;
    let mut now = None;
    let mut max_conditions = None;
    let mut sql = None;
    let mut it = std::env::args_os().skip(1);
    while let Some(flag) = it.next() {
        let flag = flag.to_string_lossy().into_owned();
        let slot = match flag.as_str() {
            "--schema" => &mut schema,
            "--entities" => &mut entities,
            "--filter" => &mut filter,
            "--now" => &mut now,
            "--max-conditions" => &mut max_conditions,
            "--sql" => &mut sql,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`; {USAGE}")),
        };
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?
            .into_string()
            .map_err(|_| format!("{flag}: the value is not valid UTF-8"))?;
        if slot.replace(value).is_some() {
            return Err(format!("{flag} given twice"));
        }
    }
    let need = |v: Option<String>, flag: &str| v.ok_or_else(|| format!("{flag} is required; {USAGE}"));
    Ok(Args {
        schema: need(schema, "--schema")?,
        entities: if sql.is_some() {
            entities.unwrap_or_default()
        } else {
            need(entities, "--entities")?
        },
        filter: need(filter, "--filter")?,
        now,
        max_conditions,
        sql,
    })
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let policy =
        match args.max_conditions.as_deref() {
            None => LimitPolicy::default(),
            Some("unlimited") => LimitPolicy::default().with_unlimited_conditions(),
            Some(n) => LimitPolicy::default().with_max_conditions(n.parse().map_err(|_| {
                format!("--max-conditions: expected a non-negative integer or `unlimited`, found `{n}`")
            })?),
        };
    let now = match &args.now {
        None => Timestamp::now(),
        Some(s) => s.parse().map_err(|e| format!("--now: `{s}` {e}"))?,
    };

    let t0 = Instant::now();
    let schema_text =
        std::fs::read_to_string(&args.schema).map_err(|e| format!("{}: cannot read: {e}", args.schema))?;
    let kind = KindSchema::from_json("entity", &schema_text).map_err(|e| format!("{}: {e}", args.schema))?;
    let filter_text =
        std::fs::read_to_string(&args.filter).map_err(|e| format!("{}: cannot read: {e}", args.filter))?;
    let filter = Filter::from_json(&filter_text).map_err(|e| format!("{}: {e}", args.filter))?;

    let mut table = Table::new(kind);
    let plan = filter
        .validate(table.schema(), &policy)
        .map_err(|e| format!("{}: {e}", args.filter))?;
    if let Some(dialect) = &args.sql {
        return print_sql(&plan, table.schema(), dialect, now);
    }
    let file = File::open(&args.entities).map_err(|e| format!("{}: cannot read: {e}", args.entities))?;
    // A Parquet file (by its name) is read by column; anything else is
    // JSON Lines.
    let loaded = if args.entities.ends_with(".parquet") {
        read_parquet(&mut table, file).map_err(|e| format!("{}: {e}", args.entities))?
    } else {
        table
            .insert_json_lines(BufReader::with_capacity(1 << 20, file))
            .map_err(|e| format!("{}: {e}", args.entities))?
    };
    let t1 = Instant::now();

    let ids = eval::evaluate(&plan, &table, now).map_err(|e| e.to_string())?;
    let t2 = Instant::now();

    // Ids are handed out in file order, so id order is file order.
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    for key in table.keys_of(&ids) {
        writeln!(out, "{key}").map_err(|e| format!("stdout: {e}"))?;
    }
    out.flush().map_err(|e| format!("stdout: {e}"))?;
    // The process ends here; freeing a large table would only cost time.
    std::mem::forget(table);
    let (conditions, matches) = (plan.conditions(), ids.len());
    eprintln!(
        "segment: {loaded} entities loaded in {:.1} ms, {} conditions evaluated in {:.3} ms, {} matches",
        (t1 - t0).as_secs_f64() * 1e3,
        conditions,
        (t2 - t1).as_secs_f64() * 1e3,
        matches
    );
    Ok(())
}

/// `--sql`: the plan as a query of `dialect`, and its parameters at `now`.
fn print_sql(plan: &Plan, kind: &Arc<KindSchema>, dialect: &str, now: Timestamp) -> Result<(), String> {
    let dialect: Dialect = dialect.parse().map_err(|e| format!("--sql: {e}"))?;
    let schema = Schema::new([(**kind).clone()]).map_err(|e| e.to_string())?;
    let mapping = Mapping::new(&schema)
        .events("entity", EventTable::new("entity_events"))
        .map_err(|e| e.to_string())?;
    let q = sql::compile(plan, &mapping, dialect).map_err(|e| format!("--sql: {e}"))?;
    let mut out = std::io::stdout().lock();
    let mut text = format!("{};\n", q.text());
    for (name, v) in q.placeholder_names().iter().zip(q.bind(now)) {
        let shown = serde_json::to_string(&v.to_sql_text(dialect)).unwrap_or_default();
        text.push_str(&format!("-- {name} = {shown} ({})\n", v.type_name(dialect)));
    }
    out.write_all(text.as_bytes()).map_err(|e| format!("stdout: {e}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("segment: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Reads a Parquet file into `table`, with the `parquet` feature.
#[cfg(feature = "parquet")]
fn read_parquet(table: &mut Table, file: File) -> Result<usize, String> {
    table.insert_parquet(file).map_err(|e| e.to_string())
}

/// Without the `parquet` feature, a Parquet file is refused, saying how.
#[cfg(not(feature = "parquet"))]
fn read_parquet(_: &mut Table, _: File) -> Result<usize, String> {
    Err(
        "reading Parquet needs the `parquet` feature: cargo run --release --features parquet --example segment -- ..."
            .into(),
    )
}
