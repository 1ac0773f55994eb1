//! `sql::compile` without an engine: what it refuses, and that no input
//! reaches the text but as a parameter.

use segments::segment::SegmentId;
use segments::sql::{self, Dialect, EventTable, Mapping, Param, SqlError, SqlValue};
use segments::{FieldType, Filter, LimitPolicy, Plan, Schema, Timestamp};

fn schema() -> Schema {
    Schema::builder()
        .kind(
            "account",
            [
                ("health", FieldType::Float),
                ("plan", FieldType::String),
                ("nps", FieldType::Int),
            ],
        )
        .track("health", 8)
        .build()
        .unwrap()
}

fn plan(json: &str) -> Plan {
    let f = Filter::from_json(json).unwrap();
    Plan::in_schema(&f, &schema(), "account", &LimitPolicy::default()).unwrap()
}

fn rule(field: &str, op: &str, value: &str) -> String {
    format!(r#"{{"combinator":"and","rules":[{{"field":"{field}","operator":"{op}","value":{value}}}]}}"#)
}

#[test]
fn literals_are_parameters_never_text() {
    let hostile = r#"x'); DROP TABLE account; --"#;
    let p = plan(&rule("plan", "=", &serde_json::to_string(hostile).unwrap()));
    for d in Dialect::ALL {
        let q = sql::compile(&p, &Mapping::new(&schema()), d).unwrap();
        assert!(!q.text().contains("DROP"), "{d}: {}", q.text());
        assert!(!q.text().contains('\''), "{d}: no quote of any kind in {}", q.text());
        assert_eq!(q.bind(Timestamp::from_micros(0)), [SqlValue::Text(hostile.into())]);
        assert_eq!(q.placeholder_names().len(), 1);
    }
}

#[test]
fn hostile_names_in_a_mapping_are_refused() {
    let p = plan(&rule("nps", "<", "7"));
    for bad in ["a\"; DROP TABLE x; --", "a`b", "", "a b", "x.", ".x", &"n".repeat(129)] {
        let m = Mapping::new(&schema()).table("account", bad).unwrap();
        for d in Dialect::ALL {
            assert_eq!(
                sql::compile(&p, &m, d).unwrap_err(),
                SqlError::BadIdentifier(bad.to_string()),
                "{d} {bad:?}"
            );
        }
        let m = Mapping::new(&schema()).column("account", "nps", bad).unwrap();
        assert!(matches!(
            sql::compile(&p, &m, Dialect::Postgres),
            Err(SqlError::BadIdentifier(_))
        ));
    }
    assert!(matches!(
        sql::compile_condition(&p, &Mapping::new(&schema()), Dialect::Spark, "a;b"),
        Err(SqlError::BadIdentifier(_))
    ));
    // A schema-qualified table is quoted part by part.
    let m = Mapping::new(&schema()).table("account", "crm.accounts").unwrap();
    let q = sql::compile(&p, &m, Dialect::Spark).unwrap();
    assert!(q.text().contains("FROM `crm`.`accounts` AS t0"), "{}", q.text());
}

#[test]
fn what_has_no_sql_form_is_refused_with_why() {
    let trend = plan(&rule(
        "@delta:health",
        "<=",
        r#"{"by":-10,"withinLast":{"amount":7,"unit":"days"}}"#,
    ));
    let err = sql::compile(&trend, &Mapping::new(&schema()), Dialect::DuckDb).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a trend of `health` has no SQL form: the history of a tracked field is kept by the engine, not in a table"
    );
    let count = plan(&rule("@count:login", ">=", r#"{"count":1}"#));
    assert_eq!(
        sql::compile(&count, &Mapping::new(&schema()), Dialect::DuckDb).unwrap_err(),
        SqlError::NoEvents("account".into())
    );
    let m = Mapping::new(&schema())
        .events("account", EventTable::new("ev"))
        .unwrap();
    assert!(sql::compile(&count, &m, Dialect::DuckDb).is_ok());
    let seg = plan(r#"{"combinator":"and","rules":[{"field":"@segment","operator":"in","value":[3]}]}"#);
    assert_eq!(
        sql::compile(&seg, &Mapping::new(&schema()), Dialect::Postgres).unwrap_err(),
        SqlError::UnknownSegment(3)
    );
    assert_eq!(
        Mapping::new(&schema()).column("account", "nope", "x").unwrap_err(),
        SqlError::UnknownField {
            kind: "account".into(),
            field: "nope".into()
        }
    );
    assert_eq!(
        "oracle".parse::<Dialect>().unwrap_err(),
        SqlError::UnknownDialect("oracle".into())
    );
}

#[test]
fn segments_inlined_in_a_cycle_stop() {
    let one = plan(r#"{"combinator":"and","rules":[{"field":"@segment","operator":"in","value":[1]}]}"#);
    let m = Mapping::new(&schema()).inline_segment(SegmentId(1), one.clone());
    assert!(matches!(
        sql::compile(&one, &m, Dialect::Postgres),
        Err(SqlError::TooDeep(_))
    ));
}

#[test]
fn relative_time_is_bound_at_now_and_placeholders_are_numbered_in_order() {
    let schema = Schema::builder()
        .kind("account", [("renewal", FieldType::Timestamp)])
        .build()
        .unwrap();
    let f = Filter::from_json(&rule("renewal", "withinNext", r#"{"amount":30,"unit":"days"}"#)).unwrap();
    let p = Plan::in_schema(&f, &schema, "account", &LimitPolicy::default()).unwrap();
    let q = sql::compile(&p, &Mapping::new(&schema), Dialect::Postgres).unwrap();
    assert_eq!(q.params(), [Param::SinceNow(0), Param::SinceNow(30 * 86_400_000_000)]);
    assert!(!q.text().to_lowercase().contains("now()"));
    let now: Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
    let bound = q.bind(now);
    assert_eq!(bound[1], SqlValue::Timestamp("2026-12-22T12:00:00Z".parse().unwrap()));
    assert_eq!(bound[1].to_sql_text(Dialect::Postgres), "2026-12-22 12:00:00.000000+00");
    assert!(q.text().contains("$1::timestamptz") && q.text().contains("$2::timestamptz"));
    // Far past what the dialect holds, a bound is clamped to its range.
    let far = q.bind(Timestamp::from_micros(i64::MAX - 1));
    assert_eq!(far[0].to_sql_text(Dialect::DuckDb), "9999-12-31 23:59:59.999999");
}

#[test]
fn exact_numbers_read_plainly() {
    let m = Mapping::new(&schema());
    let q = sql::compile(&plan(&rule("nps", "<", "7.5")), &m, Dialect::DuckDb).unwrap();
    assert!(q.text().contains(r#""nps" <= $1::BIGINT"#), "{}", q.text());
    assert_eq!(q.bind(Timestamp::from_micros(0)), [SqlValue::Int(7)]);
    let q = sql::compile(&plan(&rule("nps", "=", "7.5")), &m, Dialect::DuckDb).unwrap();
    assert!(q.text().ends_with("WHERE FALSE"), "{}", q.text());
    let q = sql::compile(&plan(&rule("nps", "!=", "7.5")), &m, Dialect::DuckDb).unwrap();
    assert!(q.text().ends_with("WHERE (NOT (FALSE))"), "{}", q.text());
    // 2^53 + 1 is no float (it would round to 2^53): the integer column
    // compares with integers.
    let q = sql::compile(&plan(&rule("nps", ">", "9007199254740993")), &m, Dialect::ClickHouse).unwrap();
    assert!(q.text().contains(r#""nps" >= {p1:Int64}"#), "{}", q.text());
    assert_eq!(
        q.bind(Timestamp::from_micros(0)),
        [SqlValue::Int(9_007_199_254_740_994)]
    );
}
