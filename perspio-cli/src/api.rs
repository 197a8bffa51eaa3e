//! `perspio api <PATH>`: a request to any path of PerspioTalk, for endpoints the spec does not
//! have, through the same client stack as every other command (`Client::request`): token,
//! Perspio headers, `401` refresh, retries, rate limit, body limit, timeouts.
//!
//! ```text
//! perspio api /assets/v3/IN-000123                          # GET
//! perspio api /assets/v3/ -f siteId=IN-SITE-000123          # GET /assets/v3/?siteId=…
//! perspio api -X POST /geofences/v3/ -f name=Yard -F radius=50 -F active=true
//! perspio api -X PATCH /assets/v3/IN-000123 --input patch.json
//! perspio api /sites/v3/ -i -o csv                          # status and headers on stderr
//! ```
//!
//! Fields: `-f key=value` is a string; `-F key=value` is typed (`true`, `false`, `null` and JSON
//! numbers as such, `@FILE` the file's text, `@-` standard input, anything else a string).
//! `key[]=v` appends to an array, `key[sub]=v` nests an object (bodies only). For GET and HEAD,
//! and with `--input`, fields are query parameters (an array as the name repeated); otherwise
//! they make the JSON body, in the order given.
//!
//! `-i` prints `HTTP <status>` and the response headers on **stderr**, so that stdout stays one
//! document in every `--output` format. An error status prints nothing on stdout: its message
//! goes to stderr with the exit code of any other command (3 for 401, 4 otherwise); so does a
//! redirect to another origin, which is never followed.

use std::io::{Read as _, Write as _};

use perspio_api::{Error, Method};
use perspio_core::text;
use serde_json::{Map, Value};

use crate::config::Connection;
use crate::exit::{CliError, Exit, api_status, cause_chain, typed_error};
use crate::output::{Printer, cell};

/// Options of `perspio api`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ApiArgs {
    /// The path, relative to the base URL, with an optional query (for example
    /// /assets/v3/IN-000123 or sites/v3/?top=10). A path that leaves the configured host or
    /// climbs above the base URL is refused before anything is sent.
    #[arg(value_name = "PATH")]
    path: String,

    /// The HTTP method.
    #[arg(short = 'X', long, value_name = "METHOD", default_value = "GET")]
    method: String,

    /// A request header, `Name: value` (repeatable). Authorization given here replaces the
    /// client's token.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,

    /// A string field, `key=value` (repeatable): a query parameter for GET, HEAD and with
    /// --input, else a member of the JSON body. `key[]=v` appends to an array, `key[sub]=v`
    /// nests.
    #[arg(short = 'f', long = "raw-field", value_name = "KEY=VALUE")]
    raw_fields: Vec<String>,

    /// A typed field, `key=value` (repeatable): true, false, null and JSON numbers as such,
    /// @FILE the file's text (@- standard input), anything else a string.
    #[arg(short = 'F', long = "field", value_name = "KEY=VALUE")]
    fields: Vec<String>,

    /// The request body, read from FILE (- for standard input) and sent as it is, with
    /// Content-Type application/json unless -H sets another; a JSON body is checked to be
    /// JSON before sending. Fields then become query parameters.
    #[arg(long, value_name = "FILE")]
    input: Option<String>,

    /// Print the status and the response headers on stderr (stdout keeps the document).
    #[arg(short = 'i', long)]
    include: bool,
}

/// One `-f` or `-F`, in command-line order.
#[derive(Debug, Clone, PartialEq)]
struct Field {
    key: Vec<KeyPart>,
    /// The key as typed, for messages.
    raw_key: String,
    value: Value,
}

/// A step of a field's key: `a`, `[b]` or `[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyPart {
    Name(String),
    Append,
}

/// Runs `perspio api`.
///
/// # Errors
/// [`Exit::Usage`] for a malformed method, header, field, input or a refused path (nothing is
/// sent); otherwise the exit codes of any call.
pub(crate) async fn run(
    connection: &Connection,
    args: &ApiArgs,
    matches: &clap::ArgMatches,
    printer: &Printer,
) -> Result<(), CliError> {
    let method =
        Method::from_bytes(args.method.trim().to_ascii_uppercase().as_bytes()).map_err(|_| {
            usage(format!(
                "-X: `{}` is not an HTTP method",
                text::remote(&args.method)
            ))
        })?;
    let fields = fields_in_order(matches)?;
    let body = args.input.as_deref().map(read_input).transpose()?;
    let query_fields = body.is_some() || matches!(method, Method::GET | Method::HEAD);

    let mut request = connection.client.request(method.clone(), args.path.clone());
    let mut content_type = None;
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .map(|(n, v)| (n.trim(), v.trim()))
            .filter(|(n, _)| !n.is_empty())
            .ok_or_else(|| {
                usage(format!(
                    "-H: `{}` is not `Name: value`",
                    text::remote(header)
                ))
            })?;
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        }
        request = request.header(name, value);
    }
    if query_fields {
        for (name, value) in query_parameters(&fields)? {
            request = request.query(name, value);
        }
    }
    if let Some(body) = body {
        let json = content_type
            .as_deref()
            .is_none_or(|t| t.to_ascii_lowercase().contains("json"));
        if json && !body.is_empty() {
            serde_json::from_slice::<serde::de::IgnoredAny>(&body).map_err(|e| {
                usage(format!(
                    "--input: the body is not JSON ({e}); set -H 'Content-Type: …' to send another format"
                ))
            })?;
        }
        if content_type.is_none() {
            request = request.header("content-type", "application/json");
        }
        request = request.body(body);
    } else if !query_fields && !fields.is_empty() {
        let body = json_body(&fields)?;
        request = request.json(&body);
    }

    if is_write(&method) && read_only_flow(connection) {
        let _ = writeln!(
            std::io::stderr().lock(),
            "perspio: note: {method} with a client-credentials token, which PerspioTalk documents \
             as read only: the API may refuse it (403); writes need a signed-in API user"
        );
    }

    let label = format!("{method} {}", shown_path(&args.path));
    match request.send().await {
        Ok(answer) => {
            if args.include {
                print_head(answer.status(), answer.headers());
            }
            if !answer.status().is_success() {
                // Redirects within the origin are followed: what arrives here is one to
                // another origin (never followed: credentials stay home), or a 1xx/304.
                let mut message = format!("{label}: the api answered {}", answer.status());
                if answer.status().is_redirection() {
                    message.push_str("; redirects to another origin are not followed");
                }
                return Err(CliError::new(Exit::Api, message));
            }
            if answer.bytes().is_empty() {
                return Ok(());
            }
            let document = match serde_json::from_slice::<Value>(answer.bytes()) {
                Ok(document) => document,
                Err(_) => {
                    let content_type = answer
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .map(|v| text::remote(&String::from_utf8_lossy(v.as_bytes())))
                        .unwrap_or_else(|| "none".to_owned());
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "perspio: note: the answer is not JSON (content type {content_type}); \
                         printed as one JSON string"
                    );
                    Value::String(answer.text())
                }
            };
            printer.print_document(&document)
        }
        Err(error) => {
            if args.include
                && let Some(response) = error.api_response()
            {
                print_head(response.status, &response.headers);
            }
            Err(request_error(&label, &error))
        }
    }
}

/// Whether `method` changes something (PerspioTalk documents POST, PUT, PATCH, DELETE).
fn is_write(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether the connection's tokens come from the client-credentials flow, which PerspioTalk
/// documents as read only. Every connection does today; sign-in as an API user (the profiles
/// work) makes this depend on the profile.
fn read_only_flow(_connection: &Connection) -> bool {
    true
}

/// The error of a raw request as one line with its exit code.
fn request_error(label: &str, error: &Error) -> CliError {
    match error {
        Error::PathRefused { .. } | Error::InvalidRequest { .. } => {
            CliError::new(Exit::Usage, cause_chain(error))
        }
        Error::Api { response, .. } => {
            api_status(label, response.status, &response.body, &response.headers)
        }
        Error::Transport { .. } | Error::ResponseBody { .. } => {
            let chain = cause_chain(error);
            let causes = chain
                .strip_prefix(perspio_api::REQUEST_OPERATION)
                .and_then(|rest| rest.strip_prefix(": "))
                .unwrap_or(&chain);
            CliError::new(Exit::Network, format!("{label}: {causes}"))
        }
        other => typed_error(other),
    }
}

/// `HTTP <status>` and each header, on stderr, neutralised.
fn print_head(status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "HTTP {status}");
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        let _ = writeln!(stderr, "{name}: {}", text::message(&value));
    }
}

/// The path for a message: without its query, neutralised.
fn shown_path(path: &str) -> String {
    text::remote(path.split(['?', '#']).next().unwrap_or_default())
}

fn usage(message: String) -> CliError {
    CliError::new(Exit::Usage, message)
}

/// The `-f` and `-F` fields in the order they were given.
fn fields_in_order(matches: &clap::ArgMatches) -> Result<Vec<Field>, CliError> {
    let mut given: Vec<(usize, bool, &String)> = Vec::new();
    for (id, typed) in [("raw_fields", false), ("fields", true)] {
        if let (Some(values), Some(indices)) =
            (matches.get_many::<String>(id), matches.indices_of(id))
        {
            given.extend(indices.zip(values).map(|(i, v)| (i, typed, v)));
        }
    }
    given.sort_by_key(|(index, _, _)| *index);
    let mut stdin_used = false;
    given
        .into_iter()
        .map(|(_, typed, raw)| parse_field(raw, typed, &mut stdin_used))
        .collect()
}

/// `key=value` as a field; `typed` for `-F`.
fn parse_field(raw: &str, typed: bool, stdin_used: &mut bool) -> Result<Field, CliError> {
    let flag = if typed { "-F" } else { "-f" };
    let (raw_key, value) = raw.split_once('=').ok_or_else(|| {
        usage(format!(
            "{flag}: `{}` is not `key=value`",
            text::remote(raw)
        ))
    })?;
    let key = parse_key(raw_key)
        .map_err(|why| usage(format!("{flag}: the key `{}` {why}", text::remote(raw_key))))?;
    let value = if typed {
        typed_value(value, stdin_used)
            .map_err(|why| usage(format!("{flag} {}: {why}", text::remote(raw_key))))?
    } else {
        Value::String(value.to_owned())
    };
    Ok(Field {
        key,
        raw_key: raw_key.to_owned(),
        value,
    })
}

/// `name`, `name[]`, `name[sub]`, `name[sub][]`, …
fn parse_key(raw: &str) -> Result<Vec<KeyPart>, &'static str> {
    let (first, mut rest) = match raw.find('[') {
        Some(at) => (&raw[..at], &raw[at..]),
        None => (raw, ""),
    };
    if first.is_empty() {
        return Err("has no name");
    }
    let mut parts = vec![KeyPart::Name(first.to_owned())];
    while !rest.is_empty() {
        let inner = rest
            .strip_prefix('[')
            .and_then(|r| r.find(']').map(|end| (&r[..end], &r[end + 1..])))
            .ok_or("has an unclosed `[`")?;
        if parts.last() == Some(&KeyPart::Append) {
            return Err("has `[]` before its end");
        }
        parts.push(match inner.0 {
            "" => KeyPart::Append,
            name => KeyPart::Name(name.to_owned()),
        });
        rest = inner.1;
    }
    Ok(parts)
}

/// The value of a `-F` field.
fn typed_value(raw: &str, stdin_used: &mut bool) -> Result<Value, String> {
    Ok(match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ if raw.starts_with('@') => {
            let bytes = read_source(&raw[1..], stdin_used)?;
            Value::String(
                String::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_owned())?,
            )
        }
        _ => match serde_json::from_str::<serde_json::Number>(raw) {
            Ok(number) => Value::Number(number),
            Err(_) => Value::String(raw.to_owned()),
        },
    })
}

/// The `--input` body.
fn read_input(source: &str) -> Result<Vec<u8>, CliError> {
    let mut stdin_used = false;
    read_source(source, &mut stdin_used).map_err(|why| usage(format!("--input: {why}")))
}

/// The bytes of a file, or of standard input for `-` (once per run).
fn read_source(source: &str, stdin_used: &mut bool) -> Result<Vec<u8>, String> {
    if source == "-" {
        if *stdin_used {
            return Err("standard input is already read by another field".to_owned());
        }
        *stdin_used = true;
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(bytes);
    }
    std::fs::read(source).map_err(|e| format!("cannot read {}: {e}", text::remote(source)))
}

/// The fields as query parameters: `key=value`, an array as the key repeated; a field that
/// nests (`a[b]`) has no query form.
fn query_parameters(fields: &[Field]) -> Result<Vec<(String, String)>, CliError> {
    fields
        .iter()
        .map(|field| match field.key.as_slice() {
            [KeyPart::Name(name)] | [KeyPart::Name(name), KeyPart::Append] => {
                Ok((name.clone(), cell(&field.value)))
            }
            _ => Err(usage(format!(
                "the field `{}` nests, which a query parameter cannot; nested fields make a JSON body (-X POST, PUT, PATCH)",
                text::remote(&field.raw_key)
            ))),
        })
        .collect()
}

/// The fields as a JSON object, in the order given.
fn json_body(fields: &[Field]) -> Result<Value, CliError> {
    let mut body = Value::Object(Map::new());
    for field in fields {
        insert(&mut body, &field.key, field.value.clone()).map_err(|why| {
            usage(format!(
                "the field `{}` {why}",
                text::remote(&field.raw_key)
            ))
        })?;
    }
    Ok(body)
}

fn insert(target: &mut Value, key: &[KeyPart], value: Value) -> Result<(), &'static str> {
    match key {
        [] => Err("has no name"),
        [KeyPart::Append] => match target {
            Value::Array(items) => {
                items.push(value);
                Ok(())
            }
            _ => Err("appends to something that is not an array"),
        },
        [KeyPart::Name(name), rest @ ..] => {
            let Value::Object(map) = target else {
                return Err("nests into something that is not an object");
            };
            match rest {
                [] => {
                    if map.contains_key(name) {
                        return Err("is given twice (use key[]=… for an array)");
                    }
                    map.insert(name.clone(), value);
                    Ok(())
                }
                [KeyPart::Append, ..] => {
                    let entry = map
                        .entry(name.clone())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    insert(entry, rest, value)
                }
                _ => {
                    let entry = map
                        .entry(name.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    insert(entry, rest, value)
                }
            }
        }
        [KeyPart::Append, ..] => Err("has `[]` before its end"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn field(raw: &str, typed: bool) -> Field {
        parse_field(raw, typed, &mut false).unwrap()
    }

    #[test]
    fn typed_fields_are_booleans_null_numbers_and_otherwise_strings() {
        let values: Vec<String> = [
            "a=true", "a=false", "a=null", "a=42", "a=-1.5e3", "a=007", "a=1.", "a=yes", "a=",
        ]
        .iter()
        .map(|raw| field(raw, true).value.to_string())
        .collect();
        assert_eq!(
            values,
            [
                "true", "false", "null", "42", "-1500.0", "\"007\"", "\"1.\"", "\"yes\"", "\"\""
            ]
        );
        assert_eq!(field("a=42", false).value.to_string(), "\"42\"");
        assert_eq!(
            field("url=http://x/?a=b", false).value.to_string(),
            "\"http://x/?a=b\""
        );
    }

    #[test]
    fn a_typed_field_reads_a_file_after_an_at_sign() {
        let dir = std::env::temp_dir().join(format!("perspio-api-field-{}", std::process::id()));
        std::fs::write(&dir, "line one\nline two\n").unwrap();
        let value = field(&format!("note=@{}", dir.display()), true).value;
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(value, Value::String("line one\nline two\n".into()));
        let error = parse_field("note=@/no/such/file", true, &mut false).unwrap_err();
        assert_eq!(error.exit, Exit::Usage);
    }

    #[test]
    fn fields_build_a_json_body_in_the_order_given_with_arrays_and_nesting() {
        let fields = [
            field("name=Yard", false),
            field("radius=50", true),
            field("tags[]=a", false),
            field("tags[]=2", true),
            field("centre[lat]=51.5", true),
            field("centre[lon]=-0.12", true),
            field("active=true", true),
        ];
        assert_eq!(
            json_body(&fields).unwrap().to_string(),
            r#"{"name":"Yard","radius":50,"tags":["a",2],"centre":{"lat":51.5,"lon":-0.12},"active":true}"#
        );
    }

    #[test]
    fn conflicting_or_malformed_fields_are_usage_errors() {
        for fields in [
            vec![field("a=1", false), field("a=2", false)],
            vec![field("a=1", false), field("a[b]=2", false)],
            vec![field("a[]=1", false), field("a[b]=2", false)],
        ] {
            assert_eq!(json_body(&fields).unwrap_err().exit, Exit::Usage);
        }
        for raw in ["novalue", "=x", "a[b=1", "a[][b]=1"] {
            assert!(parse_field(raw, false, &mut false).is_err(), "{raw}");
        }
    }

    #[test]
    fn fields_as_query_parameters_repeat_arrays_and_refuse_nesting() {
        let fields = [
            field("siteId=IN-SITE-1", false),
            field("top=10", true),
            field("ids[]=a", false),
            field("ids[]=b", false),
            field("flag=null", true),
        ];
        assert_eq!(
            query_parameters(&fields).unwrap(),
            [
                ("siteId", "IN-SITE-1"),
                ("top", "10"),
                ("ids", "a"),
                ("ids", "b"),
                ("flag", ""),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert!(query_parameters(&[field("a[b]=1", false)]).is_err());
    }

    #[test]
    fn only_methods_that_change_something_are_writes() {
        assert!(!is_write(&Method::GET) && !is_write(&Method::HEAD));
        assert!(is_write(&Method::POST) && is_write(&Method::PATCH) && is_write(&Method::DELETE));
    }
}
