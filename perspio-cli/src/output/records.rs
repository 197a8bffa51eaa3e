//! The record formats: a document as records (one per item of a list), written as ndjson, csv,
//! tsv or a table.

use std::io::{self, Write};

use comfy_table::{ContentArrangement, Table, presets};
use perspio_core::text;
use serde_json::Value;

/// Widest a table cell gets on a terminal before it is cut with `…`.
pub(crate) const MAX_CELL_WIDTH: usize = 40;

/// The column of a record that is not an object (a string, a number, a list).
const VALUE_COLUMN: &str = "value";

/// The records of a document: each item of a list, else the document itself.
pub(crate) fn records(document: &Value) -> &[Value] {
    match document {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    }
}

/// A value as one csv/tsv/table cell: text as it is, nothing for `null`, numbers and booleans
/// as JSON, arrays and objects as compact JSON.
pub(crate) fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Rows and columns of a list of records: when every record is an object, the columns are
/// the union of their keys in first-seen order and a missing key is an empty cell; otherwise
/// one `value` column, an object being one compact JSON cell like any nested value.
pub(crate) fn grid(records: &[Value]) -> (Vec<String>, Vec<Vec<String>>) {
    let objects: Option<Vec<_>> = records
        .iter()
        .map(|record| match record {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .collect();
    match objects {
        Some(objects) if !objects.is_empty() => {
            let mut columns = indexmap::IndexSet::new();
            for object in &objects {
                for key in object.keys() {
                    if !columns.contains(key.as_str()) {
                        columns.insert(key.clone());
                    }
                }
            }
            let rows = objects
                .iter()
                .map(|object| {
                    columns
                        .iter()
                        .map(|column| object.get(column).map(cell).unwrap_or_default())
                        .collect()
                })
                .collect();
            (columns.into_iter().collect(), rows)
        }
        _ => (
            vec![VALUE_COLUMN.to_owned()],
            records.iter().map(|record| vec![cell(record)]).collect(),
        ),
    }
}

/// One compact JSON document per line.
pub(crate) fn write_ndjson(out: &mut impl Write, document: &Value) -> io::Result<()> {
    for record in records(document) {
        super::encode_json(&mut *out, record, false)?;
        writeln!(out)?;
    }
    Ok(())
}

/// csv (`delimiter` `,`) or tsv (`\t`) with a header line, quoted by the `csv` crate where a
/// cell needs it. Nothing at all for an empty list. On a terminal every cell is neutralised
/// (control characters shown as escapes): the bytes are exact only when piped.
pub(crate) fn write_delimited(
    out: &mut impl Write,
    document: &Value,
    delimiter: u8,
    terminal: bool,
) -> io::Result<()> {
    let records = records(document);
    if records.is_empty() {
        return Ok(());
    }
    let (columns, rows) = grid(records);
    let shown = |cell: String| {
        if terminal {
            text::sanitize(&cell, usize::MAX)
        } else {
            cell
        }
    };
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(out);
    writer.write_record(columns.into_iter().map(shown))?;
    for row in rows {
        writer.write_record(row.into_iter().map(shown))?;
    }
    writer.flush()?;
    Ok(())
}

/// A table for a terminal (`comfy-table`): one row per record under a header of column names;
/// an object alone is `field`/`value` rows. Every cell is server text: neutralised and cut to
/// [`MAX_CELL_WIDTH`]. `None` for an empty list.
pub(crate) fn render_table(document: &Value) -> Option<String> {
    let (columns, rows) = match document {
        Value::Object(map) => (
            vec!["field".to_owned(), VALUE_COLUMN.to_owned()],
            map.iter()
                .map(|(key, value)| vec![key.clone(), cell(value)])
                .collect(),
        ),
        other => {
            let records = records(other);
            if records.is_empty() {
                return None;
            }
            grid(records)
        }
    };
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns.iter().map(|c| shown(&c.to_uppercase())));
    for row in rows {
        table.add_row(row.iter().map(|text| shown(text)));
    }
    Some(table.to_string())
}

/// Server text in a table: control characters and bidirectional overrides shown as escapes
/// ([`text::sanitize`]), cut to [`MAX_CELL_WIDTH`].
fn shown(cell: &str) -> String {
    let cell = text::sanitize(cell, MAX_CELL_WIDTH);
    if cell.chars().count() > MAX_CELL_WIDTH {
        let cut: String = cell.chars().take(MAX_CELL_WIDTH - 1).collect();
        format!("{cut}…")
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn doc(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn keys_keep_the_order_they_arrived_in_and_a_repeated_key_its_first_place() {
        // serde_json's `preserve_order`, which perspio-cli turns on.
        let json = r#"{"name":"x","id":1,"a":{"z":1,"b":2}}"#;
        assert_eq!(doc(json).to_string(), json);
        assert_eq!(
            doc(r#"{"a":1,"b":2,"a":3}"#).to_string(),
            r#"{"a":3,"b":2}"#
        );
    }

    #[test]
    fn cells_are_text_as_is_and_nested_values_compact_json() {
        let items = doc(r#"[null, "a,b", 1.5, true, [1, "x"], {"k": null}]"#);
        let cells: Vec<String> = records(&items).iter().map(cell).collect();
        assert_eq!(
            cells,
            ["", "a,b", "1.5", "true", r#"[1,"x"]"#, r#"{"k":null}"#]
        );
    }

    fn delimited(json: &str, delimiter: u8) -> String {
        let mut out = Vec::new();
        write_delimited(&mut out, &doc(json), delimiter, false).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_columns_are_the_union_of_keys_in_first_seen_order() {
        let csv = delimited(
            r#"[{"id":"A","name":"x, y"},{"status":"idle","id":"B","tags":["a","b"],"n":null}]"#,
            b',',
        );
        assert_eq!(
            csv,
            "id,name,status,tags,n\nA,\"x, y\",,,\nB,,idle,\"[\"\"a\"\",\"\"b\"\"]\",\n"
        );
    }

    #[test]
    fn tsv_quotes_only_what_needs_it_and_scalars_are_one_value_column() {
        assert_eq!(
            delimited(r#"["a\tb", "plain", 3, {"k": 1}]"#, b'\t'),
            "value\n\"a\tb\"\nplain\n3\n\"{\"\"k\"\":1}\"\n"
        );
        assert_eq!(delimited("[]", b'\t'), "");
        assert_eq!(delimited(r#"{"one": "record"}"#, b'\t'), "one\nrecord\n");
    }

    #[test]
    fn ndjson_is_one_record_per_line() {
        let mut out = Vec::new();
        write_ndjson(&mut out, &doc(r#"[{"b":1,"a":2},[3],"x"]"#)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"b\":1,\"a\":2}\n[3]\n\"x\"\n"
        );
    }

    #[test]
    fn a_table_has_a_header_and_one_row_per_record_and_cuts_long_cells() {
        let long = "x".repeat(100);
        let table = render_table(&doc(&format!(
            r#"[{{"id":"SBX-1","name":"Forklift"}},{{"id":"SBX-2","note":"{long}"}}]"#
        )))
        .unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[1].contains("ID") && lines[1].contains("NOTE"),
            "{table}"
        );
        assert!(table.contains("SBX-2") && table.contains('…'), "{table}");
        assert!(!table.contains(&"x".repeat(MAX_CELL_WIDTH)), "{table}");
        let object = render_table(&doc(r#"{"mail":"a@b.c"}"#)).unwrap();
        assert!(
            object.contains("FIELD") && object.contains("a@b.c"),
            "{object}"
        );
        assert_eq!(render_table(&doc("[]")), None);
    }

    #[test]
    fn server_text_in_a_table_or_on_a_terminal_cannot_drive_the_terminal() {
        let hostile = r#"[{"id":"A\u001b]0;pwned\u0007","na\u001b[2Jme":"x\u009b31m"}]"#;
        let table = render_table(&doc(hostile)).unwrap();
        assert!(
            !table.chars().any(|c| c.is_control() && c != '\n'),
            "{table:?}"
        );
        assert!(table.contains("A\\e]0;pwned\\a"), "{table}");
        let mut out = Vec::new();
        write_delimited(&mut out, &doc(hostile), b',', true).unwrap();
        let shown = String::from_utf8(out).unwrap();
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{shown:?}"
        );
    }
}
