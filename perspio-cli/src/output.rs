//! The one output pipeline of every command: the answer, through `--jq` when given, printed in
//! the `--output` format on stdout.
//!
//! | format | stdout |
//! |---|---|
//! | `json` | one JSON document: pretty on a terminal, one line when piped |
//! | `ndjson` | one compact JSON document per line: each item of a list, else the answer |
//! | `yaml` | one YAML document |
//! | `csv`, `tsv` | a header line, then one row per item of a list (or one row); columns are the union of the items' keys in first-seen order, nested values compact JSON cells, quoted by the `csv` crate where needed |
//! | `table` | rows and columns on a terminal (`comfy-table`, cells neutralised and cut); `tsv` when stdout is not a terminal |
//!
//! stdout holds that document (or that ndjson stream) and nothing else: notices and errors go
//! to stderr. Output is written to a locked, buffered stdout and write errors are ignored, so
//! `perspio list-assets | head -1` ends quietly. Server text is never interpreted: JSON and
//! ndjson are escaped by the encoder (control characters by serde_json, the Unicode
//! bidirectional controls by [`NoBidi`]); table cells, and on a terminal csv/tsv cells and
//! yaml's bidirectional controls, are neutralised ([`perspio_core::text`]). JSON without
//! `--jq` is encoded straight from the answer (no second copy of it). Object keys keep the order they arrived in (serde_json's
//! `preserve_order`), so csv columns follow the server's order, or the one a filter builds.
//!
//! With `--jq FILTER` (compiled before any request: [`JqFilter`]) the document is the filter's
//! output: one output is that value, several or none the list of them.

mod jq;
mod records;

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use perspio_api::ResponseValue;
use perspio_api::progenitor_client::Error as ProgenitorError;
use serde::Serialize;
use serde_json::Value;

pub(crate) use jq::JqFilter;
pub(crate) use records::cell;

use crate::exit::{CliError, Exit};
use crate::generated::CliConfig;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// JSON: pretty on a terminal, one line when piped.
    Json,
    /// One compact JSON document per line: each item of a list, else the whole answer.
    Ndjson,
    /// YAML.
    Yaml,
    /// Comma-separated values with a header line: one row per item of a list.
    Csv,
    /// Tab-separated values with a header line: one row per item of a list.
    Tsv,
    /// Rows and columns on a terminal; tab-separated values when stdout is not a terminal.
    Table,
}

impl OutputFormat {
    /// Hook for profiles: the format a profile's `output` key or `PERSPIO_OUTPUT` names, used
    /// when `--output` is not given; `None` for a name this build does not know.
    pub(crate) fn from_profile(name: &str) -> Option<OutputFormat> {
        <OutputFormat as clap::ValueEnum>::from_str(name.trim(), true).ok()
    }
}

/// The format when neither `--output`, `PERSPIO_OUTPUT` nor the profile names one.
pub(crate) const DEFAULT_OUTPUT: OutputFormat = OutputFormat::Json;

/// Prints results to stdout; implements the generated CLI's output trait.
#[derive(Debug)]
pub(crate) struct Printer {
    format: OutputFormat,
    jq: Option<Arc<JqFilter>>,
    terminal: bool,
    /// The first failure of a print made through [`CliConfig`] (which cannot return one).
    failure: Arc<Mutex<Option<CliError>>>,
    /// Items of a paginated list, gathered until the list ends.
    // Read only for paginated operations, which the spec has none of yet.
    #[allow(dead_code)]
    items: Mutex<Vec<Value>>,
}

/// Where a [`Printer`] moved into the generated CLI leaves its failure.
#[derive(Debug, Clone)]
pub(crate) struct PrintFailure(Arc<Mutex<Option<CliError>>>);

impl PrintFailure {
    /// The failure, if a print failed.
    pub(crate) fn take(&self) -> Option<CliError> {
        self.0.lock().ok().and_then(|mut failure| failure.take())
    }
}

impl Printer {
    /// A printer for `format`, through `jq` when given.
    pub(crate) fn new(format: OutputFormat, jq: Option<Arc<JqFilter>>) -> Self {
        Printer {
            format,
            jq,
            terminal: std::io::stdout().is_terminal(),
            failure: Arc::default(),
            items: Mutex::new(Vec::new()),
        }
    }

    /// The handle to a failure of a print made through [`CliConfig`].
    pub(crate) fn failure(&self) -> PrintFailure {
        PrintFailure(Arc::clone(&self.failure))
    }

    /// Prints any serialisable value.
    ///
    /// # Errors
    /// [`Exit::Other`] when the `--jq` filter fails on the value or the value cannot be
    /// encoded; nothing is printed then.
    pub(crate) fn print<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        if self.jq.is_none() && self.format == OutputFormat::Json {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let _ = write_json(&mut stdout, value, self.terminal);
            let _ = stdout.flush();
            return Ok(());
        }
        let document = serde_json::to_value(value).map_err(|e| {
            CliError::new(
                Exit::Other,
                format!("the answer cannot be encoded as JSON: {e}"),
            )
        })?;
        self.print_document(&document)
    }

    /// Prints a document (an answer as received).
    ///
    /// # Errors
    /// As [`print`](Self::print).
    pub(crate) fn print_document(&self, document: &Value) -> Result<(), CliError> {
        let filtered;
        let document = match &self.jq {
            Some(filter) => {
                let mut outputs = filter.run(document).map_err(|e| {
                    CliError::new(
                        Exit::Other,
                        format!(
                            "the --jq filter failed on the answer: {}",
                            perspio_core::text::remote(&e)
                        ),
                    )
                })?;
                filtered = if outputs.len() == 1 {
                    outputs.remove(0)
                } else {
                    Value::Array(outputs)
                };
                &filtered
            }
            None => document,
        };
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        let _ = render(&mut stdout, document, self.format, self.terminal);
        let _ = stdout.flush();
        Ok(())
    }

    /// [`print`](Self::print) for the generated CLI: a failure is kept for `main`.
    fn print_or_keep<T: Serialize + ?Sized>(&self, value: &T) {
        if let Err(error) = self.print(value)
            && let Ok(mut failure) = self.failure.lock()
        {
            failure.get_or_insert(error);
        }
    }
}

/// `document` in `format` (`terminal`: whether it goes to a terminal).
pub(crate) fn render(
    out: &mut impl Write,
    document: &Value,
    format: OutputFormat,
    terminal: bool,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Json => write_json(out, document, terminal),
        OutputFormat::Ndjson => records::write_ndjson(out, document),
        OutputFormat::Yaml => write_yaml(out, document, terminal),
        OutputFormat::Csv => records::write_delimited(out, document, b',', terminal),
        OutputFormat::Tsv => records::write_delimited(out, document, b'\t', terminal),
        OutputFormat::Table if terminal => match records::render_table(document) {
            Some(table) => writeln!(out, "{table}"),
            None => Ok(()),
        },
        OutputFormat::Table => records::write_delimited(out, document, b'\t', false),
    }
}

impl CliConfig for Printer {
    fn success_item<T>(&self, value: &ResponseValue<T>)
    where
        T: schemars::JsonSchema + serde::Serialize + std::fmt::Debug,
    {
        self.print_or_keep(value.as_ref());
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
        self.print_or_keep(&Value::Array(items));
    }

    fn list_end_error<T>(&self, _value: &ProgenitorError<T>)
    where
        T: schemars::JsonSchema + serde::Serialize + std::fmt::Debug,
    {
    }
}

/// `document` as YAML. On a terminal the Unicode bidirectional controls are shown as escapes
/// (`\u{202e}`), as in table cells: YAML has no escape for them outside double quotes, so
/// the bytes are exact only when piped.
fn write_yaml(out: &mut impl Write, document: &Value, terminal: bool) -> std::io::Result<()> {
    let yaml =
        serde_norway::to_string(document).map_err(|e| std::io::Error::other(e.to_string()))?;
    if !terminal || !yaml.contains(perspio_core::text::is_bidi_control) {
        return out.write_all(yaml.as_bytes());
    }
    for c in yaml.chars() {
        if perspio_core::text::is_bidi_control(c) {
            write!(out, "\\u{{{:x}}}", u32::from(c))?;
        } else {
            let mut utf8 = [0u8; 4];
            out.write_all(c.encode_utf8(&mut utf8).as_bytes())?;
        }
    }
    Ok(())
}

/// `value` as JSON and a line end, encoded straight into `out`.
fn write_json<T: Serialize + ?Sized>(
    out: &mut impl Write,
    value: &T,
    pretty: bool,
) -> std::io::Result<()> {
    encode_json(&mut *out, value, pretty)?;
    writeln!(out)
}

/// `value` as JSON (pretty or compact) in `out`, with the Unicode bidirectional controls
/// written as `\uXXXX` escapes ([`NoBidi`]). Every JSON this CLI prints goes through here.
pub(crate) fn encode_json<T: Serialize + ?Sized>(
    out: impl Write,
    value: &T,
    pretty: bool,
) -> serde_json::Result<()> {
    if pretty {
        let formatter = NoBidi(serde_json::ser::PrettyFormatter::new());
        value.serialize(&mut serde_json::Serializer::with_formatter(out, formatter))
    } else {
        let formatter = NoBidi(serde_json::ser::CompactFormatter);
        value.serialize(&mut serde_json::Serializer::with_formatter(out, formatter))
    }
}

/// A serde_json formatter that writes the Unicode bidirectional controls
/// ([`perspio_core::text::is_bidi_control`]) of strings as `\uXXXX` escapes: the same JSON,
/// but a server's text cannot make a terminal show it in another order than it was sent.
/// serde_json escapes every control character itself. Layout is the inner formatter's.
struct NoBidi<F>(F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for NoBidi<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some(at) = rest.find(perspio_core::text::is_bidi_control) {
            writer.write_all(&rest.as_bytes()[..at])?;
            let control = rest[at..].chars().next().unwrap_or_default();
            write!(writer, "\\u{:04x}", u32::from(control))?;
            rest = &rest[at + control.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    // The layout: PrettyFormatter overrides these (CompactFormatter keeps the defaults).
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.0.begin_array(writer)
    }
    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.0.end_array(writer)
    }
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(writer, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(writer)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.0.begin_object(writer)
    }
    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.0.end_object(writer)
    }
    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(writer, first)
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.0.end_object_key(writer)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(writer)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn rendered(json: &str, format: OutputFormat, terminal: bool) -> String {
        let document: Value = serde_json::from_str(json).unwrap();
        let mut out = Vec::new();
        render(&mut out, &document, format, terminal).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Every bidirectional control, in a key, a value and a nested value, beside ESC.
    fn with_every_bidi_control() -> String {
        let controls: String = ('\u{0}'..='\u{10ffff}')
            .filter(|c| perspio_core::text::is_bidi_control(*c))
            .collect();
        assert_eq!(controls.chars().count(), 12, "{controls:?}");
        serde_json::json!([{
            format!("k{controls}"): format!("a{controls}b\u{1b}[2J"),
            "nested": {"n": [format!("x{controls}")]}
        }])
        .to_string()
    }

    #[test]
    fn no_format_shows_a_bidirectional_control_on_a_terminal_and_json_keeps_its_value() {
        let json = with_every_bidi_control();
        let document: Value = serde_json::from_str(&json).unwrap();
        for format in [
            OutputFormat::Json,
            OutputFormat::Ndjson,
            OutputFormat::Yaml,
            OutputFormat::Csv,
            OutputFormat::Tsv,
            OutputFormat::Table,
        ] {
            let shown = rendered(&json, format, true);
            assert!(
                !shown.contains(perspio_core::text::is_bidi_control),
                "{format:?}: {shown:?}"
            );
            assert!(!shown.contains('\u{1b}'), "{format:?}: {shown:?}");
        }
        for terminal in [false, true] {
            // Escaped, not removed: the JSON printed is the server's value.
            let printed = rendered(&json, OutputFormat::Json, terminal);
            assert!(!printed.contains(perspio_core::text::is_bidi_control));
            assert_eq!(serde_json::from_str::<Value>(&printed).unwrap(), document);
            let line = rendered(&json, OutputFormat::Ndjson, terminal);
            let record: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(record, document[0]);
        }
        // Piped, YAML keeps the exact text.
        let yaml = rendered(&json, OutputFormat::Yaml, false);
        assert_eq!(serde_norway::from_str::<Value>(&yaml).unwrap(), document);
    }

    #[test]
    fn json_is_compact_when_piped_and_pretty_on_a_terminal() {
        assert_eq!(
            rendered(r#"{"b":[1,2],"a":1}"#, OutputFormat::Json, false),
            "{\"b\":[1,2],\"a\":1}\n"
        );
        assert!(
            rendered(r#"{"a":1}"#, OutputFormat::Json, true)
                .trim_end()
                .contains('\n')
        );
    }

    #[test]
    fn a_table_is_tsv_when_stdout_is_not_a_terminal() {
        let json = r#"[{"id":"A","n":1}]"#;
        assert_eq!(
            rendered(json, OutputFormat::Table, false),
            rendered(json, OutputFormat::Tsv, false)
        );
        assert!(rendered(json, OutputFormat::Table, true).contains('│'));
    }

    #[test]
    fn yaml_keeps_the_order_and_escapes_control_characters() {
        let yaml = rendered(
            r#"{"name":"x\u001b[2J","id":1,"tags":["a"]}"#,
            OutputFormat::Yaml,
            false,
        );
        assert!(yaml.starts_with("name: "), "{yaml}");
        assert!(!yaml.contains('\u{1b}'), "{yaml:?}");
        let back: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(back["name"], "x\u{1b}[2J");
    }

    #[test]
    fn a_profile_names_any_format_the_flag_takes_and_json_is_the_default() {
        assert_eq!(DEFAULT_OUTPUT, OutputFormat::Json);
        for (name, format) in [
            ("json", OutputFormat::Json),
            ("ndjson", OutputFormat::Ndjson),
            ("yaml", OutputFormat::Yaml),
            ("CSV", OutputFormat::Csv),
            (" tsv ", OutputFormat::Tsv),
            ("table", OutputFormat::Table),
        ] {
            assert_eq!(OutputFormat::from_profile(name), Some(format), "{name}");
        }
        assert_eq!(OutputFormat::from_profile("xml"), None);
    }
}
