//! What goes to stdout: JSON (pretty on a terminal, compact when piped) or a table.
//!
//! Output is written to a locked stdout and write errors are ignored, so
//! `perspio list-assets | head -1` ends quietly instead of panicking on a closed pipe. JSON is
//! encoded straight from the answer into a buffered stdout (no second copy of the value, no
//! whole text in memory). Table cells and column names are server text on a terminal:
//! control characters are neutralised ([`perspio_core::text`]) and cells are cut.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use perspio_api::ResponseValue;
use perspio_api::progenitor_client::Error as ProgenitorError;
use serde::Serialize;
use serde_json::Value;

use crate::generated::CliConfig;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// JSON: pretty on a terminal, one line when piped.
    Json,
    /// Rows and columns: one row per item of a list, one row per field of an object.
    Table,
}

impl OutputFormat {
    /// Hook for profiles (issue 17): the format a profile's `output` key or `PERSPIO_OUTPUT`
    /// names, used when `--output` is not given; `None` for a name this build does not know.
    pub(crate) fn from_profile(name: &str) -> Option<OutputFormat> {
        <OutputFormat as clap::ValueEnum>::from_str(name.trim(), true).ok()
    }
}

/// Widest a table cell gets before it is cut with `…`.
const MAX_CELL_WIDTH: usize = 40;

/// Prints results to stdout; implements the generated CLI's output trait.
#[derive(Debug)]
pub(crate) struct Printer {
    format: OutputFormat,
    pretty: bool,
    /// Items of a paginated list, gathered until the list ends (for the table).
    // Read only for paginated operations, which the spec has none of yet.
    #[allow(dead_code)]
    items: Mutex<Vec<Value>>,
}

impl Printer {
    /// A printer for `format`; JSON is pretty when stdout is a terminal.
    pub(crate) fn new(format: OutputFormat) -> Self {
        Printer {
            format,
            pretty: std::io::stdout().is_terminal(),
            items: Mutex::new(Vec::new()),
        }
    }

    /// Prints any serialisable value in the chosen format.
    pub(crate) fn print<T: Serialize + ?Sized>(&self, value: &T) {
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        match self.format {
            OutputFormat::Json => {
                let _ = write_json(&mut stdout, value, self.pretty);
            }
            OutputFormat::Table => {
                let value = serde_json::to_value(value).unwrap_or_else(|e| {
                    Value::String(format!("(the value could not be turned into JSON: {e})"))
                });
                let _ = writeln!(stdout, "{}", render_table(&value));
            }
        }
        let _ = stdout.flush();
    }
}

impl CliConfig for Printer {
    fn success_item<T>(&self, value: &ResponseValue<T>)
    where
        T: schemars::JsonSchema + serde::Serialize + std::fmt::Debug,
    {
        self.print(value.as_ref());
    }

    fn success_no_item(&self, _value: &ResponseValue<()>) {}

    // Errors are reported by `main`, as one line on stderr with an exit code.
    fn error<T>(&self, _value: &ProgenitorError<T>)
    where
        T: schemars::JsonSchema + serde::Serialize + std::fmt::Debug,
    {
    }

    fn list_start<T>(&self)
    where
        T: schemars::JsonSchema + serde::Serialize + std::fmt::Debug,
    {
        if let Ok(mut items) = self.items.lock() {
            items.clear();
        }
    }

    fn list_item<T>(&self, value: &T)
    where
        T: schemars::JsonSchema + serde::Serialize + std::fmt::Debug,
    {
        if let (Ok(mut items), Ok(value)) = (self.items.lock(), serde_json::to_value(value)) {
            items.push(value);
        }
    }

    fn list_end_success<T>(&self)
    where
        T: schemars::JsonSchema + serde::Serialize + std::fmt::Debug,
    {
        let items = self
            .items
            .lock()
            .map(|mut items| std::mem::take(&mut *items))
            .unwrap_or_default();
        self.print(&items);
    }

    fn list_end_error<T>(&self, _value: &ProgenitorError<T>)
    where
        T: schemars::JsonSchema + serde::Serialize + std::fmt::Debug,
    {
    }
}

/// `value` as JSON and a line end, encoded straight into `out`.
fn write_json<T: Serialize + ?Sized>(
    out: &mut impl Write,
    value: &T,
    pretty: bool,
) -> std::io::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *out, value)?;
    } else {
        serde_json::to_writer(&mut *out, value)?;
    }
    writeln!(out)
}

/// A list of objects as rows (columns: every key, in first-seen order); a list of scalars as
/// one column; an object as `field`/`value` rows; a scalar as itself.
pub(crate) fn render_table(value: &Value) -> String {
    match value {
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
            let mut columns: Vec<&str> = Vec::new();
            for item in items {
                if let Value::Object(map) = item {
                    for key in map.keys() {
                        if !columns.contains(&key.as_str()) {
                            columns.push(key);
                        }
                    }
                }
            }
            let rows = items
                .iter()
                .map(|item| {
                    columns
                        .iter()
                        .map(|c| item.get(*c).map(cell).unwrap_or_default())
                        .collect()
                })
                .collect();
            grid(&columns, rows)
        }
        Value::Array(items) => grid(&["value"], items.iter().map(|v| vec![cell(v)]).collect()),
        Value::Object(map) => grid(
            &["field", "value"],
            map.iter().map(|(k, v)| vec![shown(k), cell(v)]).collect(),
        ),
        other => cell(other),
    }
}

/// A value as one table cell: text as is, nested values as compact JSON, neutralised and cut
/// to [`MAX_CELL_WIDTH`].
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => shown(s),
        other => shown(&other.to_string()),
    }
}

/// Server text in a table: control characters and bidirectional overrides shown as escapes
/// ([`perspio_core::text::sanitize`]), cut to [`MAX_CELL_WIDTH`].
fn shown(text: &str) -> String {
    let text = perspio_core::text::sanitize(text, MAX_CELL_WIDTH);
    if text.chars().count() > MAX_CELL_WIDTH {
        let cut: String = text.chars().take(MAX_CELL_WIDTH - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn grid(columns: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for row in &rows {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(text, width)| {
                let pad = width.saturating_sub(text.chars().count());
                format!("{text}{}", " ".repeat(pad))
            })
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let header: Vec<String> = columns.iter().map(|c| shown(&c.to_uppercase())).collect();
    let mut out = vec![line(header)];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn a_list_of_objects_is_a_table_with_every_key_as_a_column() {
        let table = render_table(&json!([
            {"id": "SBX-000101", "name": "Forklift 7"},
            {"id": "SBX-000102", "status": "idle", "tags": ["a", "b"]}
        ]));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "ID          NAME        STATUS  TAGS");
        assert_eq!(lines[1], "SBX-000101  Forklift 7");
        assert_eq!(lines[2], "SBX-000102              idle    [\"a\",\"b\"]");
    }

    #[test]
    fn an_object_is_a_field_value_table_and_long_cells_are_cut() {
        let long = "x".repeat(100);
        let table = render_table(&json!({"mail": "a@b.c", "note": long}));
        assert!(table.starts_with("FIELD  VALUE\nmail   a@b.c\n"), "{table}");
        let last = table.lines().last().unwrap_or_default();
        assert!(last.ends_with('…') && last.chars().count() == 7 + MAX_CELL_WIDTH);
    }

    fn json(value: &Value, pretty: bool) -> String {
        let mut out = Vec::new();
        write_json(&mut out, value, pretty).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_is_compact_when_piped() {
        assert_eq!(json(&json!({"a": [1, 2]}), false), "{\"a\":[1,2]}\n");
        assert!(json(&json!({"a": 1}), true).trim_end().contains('\n'));
    }

    #[test]
    fn server_text_in_a_table_cannot_drive_the_terminal() {
        let table = render_table(&json!([
            {"id": "A\u{1b}]0;pwned\u{7}", "na\u{1b}[2Jme": "x\u{9b}31m"}
        ]));
        assert!(
            !table.chars().any(|c| c.is_control() && c != '\n'),
            "{table:?}"
        );
        assert!(table.contains("A\\e]0;pwned\\a"), "{table}");
    }
}
