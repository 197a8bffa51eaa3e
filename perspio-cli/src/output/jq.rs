//! `--jq FILTER`: an embedded jq (jaq), compiled when the command line is read, before any
//! request, so that a filter with a syntax error or an undefined name costs no call.
//!
//! The filter gets the whole answer as its input (`.`) and the jq standard library (`map`,
//! `select`, `to_entries`, `test`, `@csv`, `todate`, …); `input`/`inputs` are not defined (there
//! is one input). Its outputs are the document the output format prints: one output is that
//! value, several (or none) are the list of them.

use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars};
use jaq_json::{Num, Val};
use serde_json::Value;

/// The data a filter runs on: JSON values and nothing else (no `inputs`).
type Data = JustLut<Val>;

/// A compiled `--jq` filter.
pub(crate) struct JqFilter {
    filter: jaq_core::compile::Filter<jaq_core::Native<Data>>,
}

impl std::fmt::Debug for JqFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JqFilter").finish_non_exhaustive()
    }
}

impl JqFilter {
    /// Parses and compiles `code`.
    ///
    /// # Errors
    /// What is wrong and where (the column, counted from 1), as one line.
    pub(crate) fn compile(code: &str) -> Result<JqFilter, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let arena = Arena::default();
        let modules = Loader::new(defs)
            .load(&arena, File { code, path: () })
            .map_err(|errors| {
                let problems: Vec<String> = errors
                    .into_iter()
                    .flat_map(|(_, error)| load_problems(code, error))
                    .collect();
                problems.join("; ")
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let problems: Vec<String> = errors
                    .into_iter()
                    .flat_map(|(_, undefined)| undefined)
                    .map(|(name, kind)| {
                        format!(
                            "undefined {} `{name}` at {}",
                            kind.as_str(),
                            position(code, name)
                        )
                    })
                    .collect();
                problems.join("; ")
            })?;
        Ok(JqFilter { filter })
    }

    /// Runs the filter on `input` and returns its outputs.
    ///
    /// # Errors
    /// The first error the filter raised (`error("…")`, `.a` of an array, …), or a `halt` with
    /// a code other than 0; the outputs before it are dropped.
    pub(crate) fn run(&self, input: &Value) -> Result<Vec<Value>, String> {
        let context = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let mut outputs = Vec::new();
        for output in self.filter.id.run((context, to_val(input))) {
            match output {
                Ok(value) => outputs.push(from_val(&value)),
                Err(exception) => match exception.get_err() {
                    Ok(error) => return Err(error.to_string()),
                    Err(other) => match other.get_halt() {
                        Ok(0) => break,
                        Ok(code) => return Err(format!("the filter halted with code {code}")),
                        Err(_) => return Err("the filter stopped unexpectedly".to_owned()),
                    },
                },
            }
        }
        Ok(outputs)
    }
}

/// The lexer's and parser's complaints, each with its column.
fn load_problems(code: &str, error: jaq_core::load::Error<&str>) -> Vec<String> {
    use jaq_core::load::Error;
    match error {
        Error::Io(problems) => problems
            .into_iter()
            .map(|(path, message)| format!("cannot load `{path}`: {message}"))
            .collect(),
        Error::Lex(problems) => problems
            .into_iter()
            .map(|(expected, at)| {
                format!("expected {} at {}", expected.as_str(), position(code, at))
            })
            .collect(),
        Error::Parse(problems) => problems
            .into_iter()
            .map(|(expected, at)| {
                let found = if at.is_empty() {
                    "the end".to_owned()
                } else {
                    format!("`{}`", at.chars().take(20).collect::<String>())
                };
                format!(
                    "expected {} at {}, found {found}",
                    expected.as_str(),
                    position(code, at)
                )
            })
            .collect(),
    }
}

/// `column N` of the part of `code` a message points at (`part` is a slice of `code`).
fn position(code: &str, part: &str) -> String {
    let offset = jaq_core::load::span(code, part).start.min(code.len());
    let column = code
        .get(..offset)
        .map_or(offset, |before| before.chars().count())
        + 1;
    format!("column {column}")
}

/// A JSON value as a jaq value.
fn to_val(value: &Value) -> Val {
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::from(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Val::Num(Num::from_integral(i)),
            (None, Some(u)) => Val::Num(Num::from_integral(u)),
            _ => Val::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Val::from(s.clone()),
        Value::Array(items) => items.iter().map(to_val).collect(),
        Value::Object(map) => Val::obj(
            map.iter()
                .map(|(k, v)| (Val::from(k.clone()), to_val(v)))
                .collect(),
        ),
    }
}

/// A jaq value as JSON: numbers that JSON cannot hold (NaN, infinities) become `null` as in
/// jq, byte strings text, and object keys that are not strings their JSON text.
fn from_val(value: &Val) -> Value {
    match value {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => number(n),
        Val::TStr(bytes) | Val::BStr(bytes) => {
            Value::String(String::from_utf8_lossy(bytes).into_owned())
        }
        Val::Arr(items) => Value::Array(items.iter().map(from_val).collect()),
        Val::Obj(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::TStr(bytes) | Val::BStr(bytes) => {
                            String::from_utf8_lossy(bytes).into_owned()
                        }
                        other => from_val(other).to_string(),
                    };
                    (key, from_val(v))
                })
                .collect(),
        ),
    }
}

fn number(n: &Num) -> Value {
    let parsed = |text: &str| {
        serde_json::from_str::<serde_json::Number>(text).map_or(Value::Null, Value::Number)
    };
    match n {
        Num::Int(i) => i64::try_from(*i).map_or(Value::Null, |i| Value::Number(i.into())),
        Num::BigInt(big) => parsed(&big.to_string()),
        Num::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Num::Dec(text) => parsed(text),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn doc(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    fn run(filter: &str, input: &str) -> Vec<String> {
        JqFilter::compile(filter)
            .unwrap()
            .run(&doc(input))
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect()
    }

    #[test]
    fn a_filter_selects_builds_and_keeps_the_order_it_builds_in() {
        let assets = r#"[{"id":"A","name":"x","n":1},{"id":"B","name":"y","n":2.5}]"#;
        assert_eq!(run(".[].id", assets), [r#""A""#, r#""B""#]);
        assert_eq!(
            run(".[] | select(.n > 2) | {name, id}", assets),
            [r#"{"name":"y","id":"B"}"#]
        );
        assert_eq!(run("map(.n) | add", assets), ["3.5"]);
        assert_eq!(run("length", assets), ["2"]);
        assert_eq!(run("empty", assets), Vec::<String>::new());
        assert_eq!(run(r#"[.[] | .id | test("^A")]"#, assets), ["[true,false]"]);
    }

    #[test]
    fn large_integers_and_non_finite_numbers_become_json() {
        assert_eq!(run(".", "12345678901234567"), ["12345678901234567"]);
        assert_eq!(run("infinite, nan", "null"), ["null", "null"]);
        assert_eq!(run("{(1|tostring): 2}", "null"), [r#"{"1":2}"#]);
    }

    #[test]
    fn a_syntax_error_says_what_and_where() {
        let error = JqFilter::compile(".[] | select(.n >").unwrap_err();
        assert!(error.contains("column"), "{error}");
        let error = JqFilter::compile(".a | nosuchfilter").unwrap_err();
        assert!(
            error.contains("undefined filter `nosuchfilter` at column 6"),
            "{error}"
        );
        assert!(JqFilter::compile("{").is_err());
        assert!(JqFilter::compile("input").is_err(), "one input only");
    }

    #[test]
    fn a_runtime_error_is_reported_and_halt_stops_quietly() {
        let filter = JqFilter::compile(".a").unwrap();
        let error = filter.run(&doc("[1]")).unwrap_err();
        assert!(error.contains("cannot index"), "{error}");
        let filter = JqFilter::compile(r#"error("custom")"#).unwrap();
        assert!(filter.run(&Value::Null).unwrap_err().contains("custom"));
        assert_eq!(run("1, halt, 2", "null"), ["1"]);
    }
}
