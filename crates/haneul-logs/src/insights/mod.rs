//! Logs Insights: StartQuery runs a query ([`parse`]) over the events of its groups in the
//! background; GetQueryResults reads what it found. Queries are kept in memory (the last
//! [`MAX_KEPT_QUERIES`]), as AWS keeps results for a limited time.

pub mod parse;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use haneul_store::events::{EventRef, GroupScan, Visit};
use serde_json::Value;

use parse::{AggFn, CmpOp, Command, Expr, Operand};

use haneul_store::EventStore;

/// Queries remembered for GetQueryResults / DescribeQueries.
pub const MAX_KEPT_QUERIES: usize = 200;
/// Events a query keeps as candidates at most (a query over more is cut, and says so).
pub const MAX_QUERY_RECORDS: usize = 200_000;
/// Rows a query returns unless its `limit` says fewer.
pub const DEFAULT_QUERY_LIMIT: usize = 10_000;

#[derive(Debug, Clone)]
pub struct QueryRun {
    pub id: String,
    pub query: String,
    pub groups: Vec<String>,
    pub created_ms: i64,
    pub status: String,
    pub rows: Vec<Vec<(String, String)>>,
    pub records_scanned: u64,
    pub records_matched: u64,
    pub bytes_scanned: u64,
    pub duration_ms: i64,
}

#[derive(Default)]
pub struct Queries {
    runs: Mutex<VecDeque<QueryRun>>,
}

impl Queries {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<QueryRun>> {
        // Every operation on the queue is a single push/replace/remove: a panic elsewhere
        // cannot leave it half-changed.
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, run: QueryRun) {
        let mut runs = self.lock();
        while runs.len() >= MAX_KEPT_QUERIES {
            runs.pop_front();
        }
        runs.push_back(run);
    }

    pub fn get(&self, id: &str) -> Option<QueryRun> {
        self.lock().iter().find(|r| r.id == id).cloned()
    }

    pub fn all(&self) -> Vec<QueryRun> {
        self.lock().iter().cloned().collect()
    }

    /// Replaces a run's result unless it was stopped meanwhile.
    pub fn finish(&self, run: QueryRun) {
        let mut runs = self.lock();
        if let Some(slot) = runs.iter_mut().find(|r| r.id == run.id) {
            if slot.status == "Running" {
                *slot = run;
            }
        }
    }

    /// Marks a running query Cancelled; whether it was running.
    pub fn stop(&self, id: &str) -> Option<bool> {
        let mut runs = self.lock();
        let slot = runs.iter_mut().find(|r| r.id == id)?;
        let was_running = slot.status == "Running";
        if was_running {
            slot.status = "Cancelled".into();
        }
        Some(was_running)
    }

    pub fn running(&self) -> usize {
        self.lock().iter().filter(|r| r.status == "Running").count()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// One event as a query sees it: its fields by name.
type Record = BTreeMap<String, Value>;

/// What a query needs of one group.
pub struct Source {
    pub group_key: i64,
    pub group_label: String,
    pub streams: HashMap<i64, String>,
}

struct Scanned {
    records: Vec<Record>,
    scanned: u64,
    bytes: u64,
    filters: Vec<Expr>,
}

/// Runs `commands` over `sources` between `start_ms` and `end_ms` (inclusive).
pub async fn run(
    events: &EventStore,
    commands: Vec<Command>,
    sources: Vec<Source>,
    start_ms: i64,
    end_ms: i64,
    limit: Option<usize>,
) -> Result<(Vec<Vec<(String, String)>>, u64, u64, u64), haneul_store::StoreError> {
    // Filters before the first stats/sort/limit are applied while scanning.
    let leading = commands
        .iter()
        .take_while(|c| matches!(c, Command::Filter(_) | Command::Fields(_)))
        .count();
    let mut commands = commands;
    let rest = commands.split_off(leading);
    let (leading_filters, mut fields): (Vec<Expr>, Vec<String>) =
        commands
            .into_iter()
            .fold((Vec::new(), Vec::new()), |(mut f, mut d), c| {
                match c {
                    Command::Filter(e) => f.push(e),
                    Command::Fields(list) => d = list,
                    _ => {}
                }
                (f, d)
            });
    let mut scanned = Scanned {
        records: Vec::new(),
        scanned: 0,
        bytes: 0,
        filters: leading_filters,
    };
    for source in sources {
        let scan = GroupScan {
            group: source.group_key,
            streams: Some(source.streams.keys().copied().collect()),
            start_ms,
            end_ms: end_ms.saturating_add(1),
            after: None,
            max_rows: usize::MAX,
        };
        let (state, _) = events
            .scan_group(
                scan,
                (scanned, source),
                |(s, src): &mut (Scanned, Source), e: &EventRef<'_>| {
                    s.scanned += 1;
                    s.bytes += e.message.len() as u64;
                    let record = record_of(e, src);
                    if s.filters.iter().all(|f| eval(f, &record)) {
                        s.records.push(record);
                    }
                    if s.records.len() >= MAX_QUERY_RECORDS {
                        Visit::Stop
                    } else {
                        Visit::Continue
                    }
                },
            )
            .await?;
        scanned = state.0;
    }
    let (scanned_n, bytes) = (scanned.scanned, scanned.bytes);
    let mut records = scanned.records;
    let matched = records.len() as u64;
    let mut limit = limit;
    let mut stats_columns: Option<Vec<String>> = None;
    for command in rest {
        match command {
            Command::Filter(e) => records.retain(|r| eval(&e, r)),
            Command::Fields(list) => fields = list,
            Command::Sort(keys) => records.sort_by(|a, b| {
                for (k, desc) in &keys {
                    let o = compare_values(a.get(k), b.get(k));
                    let o = if *desc { o.reverse() } else { o };
                    if o != std::cmp::Ordering::Equal {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            }),
            Command::Limit(n) => {
                limit = Some(limit.map_or(n, |l| l.min(n)));
                records.truncate(n);
            }
            Command::Stats { aggregates, by } => {
                let (rows, columns) = stats(&records, &aggregates, &by);
                records = rows;
                stats_columns = Some(columns);
            }
        }
    }
    let columns = match (stats_columns, fields.is_empty()) {
        (Some(c), true) => c,
        (_, false) => fields,
        (None, true) => ["@timestamp", "@message", "@logStream", "@log"]
            .map(String::from)
            .to_vec(),
    };
    let limit = limit.unwrap_or(DEFAULT_QUERY_LIMIT);
    let rows = records
        .iter()
        .take(limit)
        .map(|r| {
            columns
                .iter()
                .filter_map(|c| r.get(c).map(|v| (c.clone(), display(c, v))))
                .collect()
        })
        .collect();
    Ok((rows, scanned_n, matched, bytes))
}

fn record_of(e: &EventRef<'_>, src: &Source) -> Record {
    let mut r = Record::new();
    if e.message.trim_start().starts_with('{') {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(e.message) {
            flatten("", &Value::Object(map), &mut r);
        }
    }
    r.insert("@timestamp".into(), Value::from(e.timestamp_ms));
    r.insert("@ingestionTime".into(), Value::from(e.ingestion_ms));
    r.insert("@message".into(), Value::from(e.message));
    r.insert(
        "@logStream".into(),
        Value::from(src.streams.get(&e.stream).cloned().unwrap_or_default()),
    );
    r.insert("@log".into(), Value::from(src.group_label.clone()));
    r
}

fn flatten(prefix: &str, v: &Value, out: &mut Record) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, child, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                flatten(&format!("{prefix}.{i}"), child, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn compare_values(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => match (as_number(x), as_number(y)) {
            (Some(p), Some(q)) => p.partial_cmp(&q).unwrap_or(std::cmp::Ordering::Equal),
            _ => as_text(x).cmp(&as_text(y)),
        },
    }
}

fn operand_value(o: &Operand, r: &Record) -> Option<Value> {
    match o {
        Operand::Field(f) => r.get(f).cloned(),
        Operand::Str(s) => Some(Value::from(s.clone())),
        Operand::Num(n) => Some(Value::from(*n)),
    }
}

fn eval(e: &Expr, r: &Record) -> bool {
    match e {
        Expr::And(a, b) => eval(a, r) && eval(b, r),
        Expr::Or(a, b) => eval(a, r) || eval(b, r),
        Expr::Not(a) => !eval(a, r),
        Expr::Like { field, regex } => r.get(field).is_some_and(|v| regex.is_match(&as_text(v))),
        Expr::In { field, values } => r.get(field).is_some_and(|v| {
            values
                .iter()
                .filter_map(|o| operand_value(o, r))
                .any(|w| compare_values(Some(v), Some(&w)) == std::cmp::Ordering::Equal)
        }),
        Expr::Truthy(field) => r.get(field).is_some_and(|v| match v {
            Value::Bool(b) => *b,
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        }),
        Expr::Cmp(left, op, right) => {
            let (Some(a), Some(b)) = (operand_value(left, r), operand_value(right, r)) else {
                return false;
            };
            let o = compare_values(Some(&a), Some(&b));
            match op {
                CmpOp::Eq => o.is_eq(),
                CmpOp::Ne => o.is_ne(),
                CmpOp::Lt => o.is_lt(),
                CmpOp::Le => o.is_le(),
                CmpOp::Gt => o.is_gt(),
                CmpOp::Ge => o.is_ge(),
            }
        }
    }
}

/// `stats …`: one row per distinct `by` tuple (in first-seen order), and the columns.
fn stats(records: &[Record], aggregates: &[parse::Aggregate], by: &[String]) -> (Vec<Record>, Vec<String>) {
    let mut order: Vec<Vec<Option<Value>>> = Vec::new();
    let mut groups: HashMap<String, Vec<&Record>> = HashMap::new();
    for r in records {
        let key: Vec<Option<Value>> = by.iter().map(|b| r.get(b).cloned()).collect();
        let text = serde_json::to_string(&key).unwrap_or_default();
        let entry = groups.entry(text).or_default();
        if entry.is_empty() {
            order.push(key);
        }
        entry.push(r);
    }
    let mut rows = Vec::new();
    for key in order {
        let text = serde_json::to_string(&key).unwrap_or_default();
        let members = groups.get(&text).map(Vec::as_slice).unwrap_or(&[]);
        let mut row = Record::new();
        for (name, value) in by.iter().zip(&key) {
            if let Some(v) = value {
                row.insert(name.clone(), v.clone());
            }
        }
        for a in aggregates {
            let values: Vec<f64> = match &a.field {
                Some(f) => members.iter().filter_map(|m| m.get(f)).filter_map(as_number).collect(),
                None => Vec::new(),
            };
            let v = match a.func {
                AggFn::Count => match &a.field {
                    None => members.len() as f64,
                    Some(f) => members.iter().filter(|m| m.contains_key(f)).count() as f64,
                },
                AggFn::Sum => values.iter().sum(),
                AggFn::Avg if values.is_empty() => continue,
                AggFn::Avg => values.iter().sum::<f64>() / values.len() as f64,
                AggFn::Min => match values.iter().copied().reduce(f64::min) {
                    Some(v) => v,
                    None => continue,
                },
                AggFn::Max => match values.iter().copied().reduce(f64::max) {
                    Some(v) => v,
                    None => continue,
                },
            };
            row.insert(a.name.clone(), Value::from(v));
        }
        rows.push(row);
    }
    let mut columns: Vec<String> = by.to_vec();
    columns.extend(aggregates.iter().map(|a| a.name.clone()));
    (rows, columns)
}

/// A value as GetQueryResults shows it: timestamps as `2026-12-03 12:00:00.000`, whole
/// numbers without a fraction.
fn display(column: &str, v: &Value) -> String {
    if column == "@timestamp" || column == "@ingestionTime" {
        if let Some(ms) = v.as_i64() {
            return format_ms(ms);
        }
    }
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => as_text(other),
    }
}

pub fn format_ms(ms: i64) -> String {
    let iso = crate::model::iso8601_ms(ms);
    iso.trim_end_matches('Z').replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_as_insights_does() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00.000");
        assert_eq!(format_ms(1_700_000_000_123), "2023-11-14 22:13:20.123");
    }

    #[test]
    fn stats_count_by() {
        let mk = |s: &str, n: i64| {
            let mut r = Record::new();
            r.insert("@logStream".into(), Value::from(s));
            r.insert("bytes".into(), Value::from(n));
            r
        };
        let records = vec![mk("a", 1), mk("b", 10), mk("a", 3)];
        let q = parse::parse("stats count(*) as n, sum(bytes) by @logStream").unwrap();
        let Command::Stats { aggregates, by } = &q[0] else {
            panic!()
        };
        let (rows, cols) = stats(&records, aggregates, by);
        assert_eq!(cols, ["@logStream", "n", "sum(bytes)"]);
        assert_eq!(rows[0]["@logStream"], "a");
        assert_eq!(rows[0]["n"], 2.0);
        assert_eq!(rows[0]["sum(bytes)"], 4.0);
        assert_eq!(rows[1]["n"], 1.0);
    }
}
