//! `perspio docs --format json` and `perspio completion <SHELL>`: the command line described
//! for tools, read from the clap command itself, so neither can drift from it.
//!
//! The reference lists every command with its flags and arguments; the commands generated
//! from the spec also name their `operation_id`, method and path (read from
//! `perspio_api::NORMALIZED_SPEC`), as the `oxide` CLI's `docs --format json` does.

use std::collections::HashMap;

use serde::Serialize;

/// Options of `perspio docs`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DocsArgs {
    /// The format of the reference.
    #[arg(long, value_enum, default_value_t = DocsFormat::Json)]
    format: DocsFormat,
}

/// Formats of `perspio docs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DocsFormat {
    /// Every command, flag and operation id, as one JSON document.
    Json,
}

/// Options of `perspio completion`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CompletionArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// The completion script of `shell` for `command`, as bytes.
pub(crate) fn completion(shell: clap_complete::Shell, command: &mut clap::Command) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, command, "perspio", &mut script);
    script
}

/// A command in the reference.
#[derive(Debug, Serialize)]
pub(crate) struct CommandDoc {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    about: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    long_about: Option<String>,
    /// The spec operation the command calls, for the generated commands.
    #[serde(skip_serializing_if = "Option::is_none")]
    operation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    args: Vec<ArgDoc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subcommands: Vec<CommandDoc>,
}

/// A flag or an argument in the reference.
#[derive(Debug, Serialize)]
struct ArgDoc {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    long: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    short: Option<char>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    values: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    default: Vec<String>,
    required: bool,
    /// Whether every subcommand takes it (the options of the top-level command).
    global: bool,
    takes_value: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<String>,
}

/// The reference of `command`; `operations` maps a subcommand name to its operation id.
pub(crate) fn reference(
    command: &clap::Command,
    operations: &HashMap<String, String>,
) -> CommandDoc {
    let routes = routes();
    describe(command, operations, &routes, true)
}

fn describe(
    command: &clap::Command,
    operations: &HashMap<String, String>,
    routes: &HashMap<String, (String, String)>,
    top: bool,
) -> CommandDoc {
    let operation_id = operations.get(command.get_name()).cloned();
    let route = operation_id.as_ref().and_then(|id| routes.get(id));
    CommandDoc {
        name: command.get_name().to_owned(),
        version: top
            .then(|| command.get_version().map(str::to_owned))
            .flatten(),
        about: command.get_about().map(|s| s.to_string()),
        long_about: command
            .get_long_about()
            .map(|s| s.to_string())
            .filter(|long| Some(long) != command.get_about().map(|s| s.to_string()).as_ref()),
        method: route.map(|(method, _)| method.clone()),
        path: route.map(|(_, path)| path.clone()),
        operation_id,
        args: command
            .get_arguments()
            .filter(|arg| !arg.is_hide_set() && (top || !arg.is_global_set()))
            .map(describe_arg)
            .collect(),
        subcommands: command
            .get_subcommands()
            .filter(|sub| !sub.is_hide_set())
            .map(|sub| describe(sub, operations, routes, false))
            .collect(),
    }
}

fn describe_arg(arg: &clap::Arg) -> ArgDoc {
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values())
        || (arg.get_long().is_none() && arg.get_short().is_none());
    ArgDoc {
        name: arg.get_id().to_string(),
        long: arg.get_long().map(str::to_owned),
        short: arg.get_short(),
        value_name: arg
            .get_value_names()
            .and_then(|names| names.first())
            .map(ToString::to_string),
        values: arg
            .get_possible_values()
            .iter()
            .filter(|value| !value.is_hide_set())
            .map(|value| value.get_name().to_owned())
            .collect(),
        default: arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect(),
        required: arg.is_required_set(),
        global: arg.is_global_set(),
        takes_value,
        help: arg
            .get_long_help()
            .or_else(|| arg.get_help())
            .map(ToString::to_string),
    }
}

/// `operationId → (METHOD, path)` of every operation of the spec.
fn routes() -> HashMap<String, (String, String)> {
    let spec: serde_json::Value =
        serde_json::from_str(perspio_api::NORMALIZED_SPEC).unwrap_or_default();
    let mut routes = HashMap::new();
    if let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) {
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, operation) in item {
                if let Some(id) = operation.get("operationId").and_then(|id| id.as_str()) {
                    routes.insert(id.to_owned(), (method.to_uppercase(), path.clone()));
                }
            }
        }
    }
    routes
}
