//! Scenario 5: build cost. Code generation in-process (checked-in spec and a synthetic spec
//! of hundreds of operations), and `cargo build -p perspio-api` in a scratch copy of the
//! workspace: clean, after touching a source file of the crate, after a spec edit.
//!
//! The real workspace is never edited: everything happens in a temporary copy with its own
//! target directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::stats::{Row, median};

/// Operations in the synthetic spec.
pub(crate) const SYNTHETIC_OPERATIONS: usize = 300;

/// The workspace root, read at run time first (`cargo run` sets `CARGO_MANIFEST_DIR`), so that
/// a binary reused from a shared target directory by a copy of the workspace reads the copy.
fn project_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn spec_path(root: &Path) -> PathBuf {
    root.join("openapi/perspio-talk.normalized.json")
}

/// The checked-in normalised spec, the base of [`synthetic_spec`].
pub(crate) fn checked_in_spec() -> anyhow::Result<Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(spec_path(
        &project_root(),
    ))?)?)
}

/// The checked-in spec grown to `operations` operations: each a `GET` with its own item and
/// list schemas (four typed fields and an open map) and the error responses of `list_assets`.
pub(crate) fn synthetic_spec(base: &Value, operations: usize) -> anyhow::Result<Value> {
    let mut spec = base.clone();
    let template = base
        .pointer("/paths/~1assets~1v3~1/get/responses")
        .cloned()
        .context("the spec has no GET /assets/v3/ responses")?;
    let paths = spec
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .context("the spec has no paths")?;
    let mut schemas = serde_json::Map::new();
    for i in 0..operations {
        let mut responses = template.clone();
        responses["200"] = json!({
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/Thing{i}List")}}}
        });
        paths.insert(
            format!("/things{i}/v3/{{id}}"),
            json!({"get": {
                "operationId": format!("get_things_{i}"),
                "summary": format!("Synthetic operation {i}"),
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "format": "int32"}}
                ],
                "responses": responses
            }}),
        );
        schemas.insert(
            format!("Thing{i}"),
            json!({"type": "object", "additionalProperties": true, "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "count": {"type": "integer", "format": "int64"},
                "updated": {"type": "string", "format": "date-time"}
            }}),
        );
        schemas.insert(
            format!("Thing{i}List"),
            json!({"type": "array", "items": {"$ref": format!("#/components/schemas/Thing{i}")}}),
        );
    }
    let components = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .context("the spec has no components.schemas")?;
    components.extend(schemas);
    Ok(spec)
}

/// Median time of `runs` calls of `perspio_codegen::generate`, and the operation count.
fn time_generate(spec: &Value, runs: usize) -> anyhow::Result<(Duration, usize, usize)> {
    let parsed: openapiv3::OpenAPI = serde_json::from_value(spec.clone())?;
    let operations = parsed.operations().count();
    let mut times = Vec::new();
    let mut lines = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let source = perspio_codegen::generate(&parsed)?;
        times.push(started.elapsed().as_secs_f64());
        lines = source.lines().count();
    }
    Ok((Duration::from_secs_f64(median(&times)), operations, lines))
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == "target" || name_str.starts_with("target-") || name_str == ".git" {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

/// `cargo build -p perspio-api` in `workspace`, timed; `--timings` when `timings`.
fn cargo_build(workspace: &Path, target: &Path, timings: bool) -> anyhow::Result<Duration> {
    cargo_build_package(workspace, target, "perspio-api", timings)
}

/// `cargo build -p <package> -j 2` in `workspace`, timed; `--timings` when `timings`.
fn cargo_build_package(
    workspace: &Path,
    target: &Path,
    package: &str,
    timings: bool,
) -> anyhow::Result<Duration> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let mut command = Command::new(cargo);
    command.args(["build", "--quiet", "-j", "2", "-p", package]);
    if timings {
        command.arg("--timings");
    }
    let status = command
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTC_WRAPPER")
        .status()
        .context("running cargo")?;
    let elapsed = started.elapsed();
    if !status.success() {
        bail!("cargo build -p {package} failed in {}", workspace.display());
    }
    Ok(elapsed)
}

/// From the `--timings` report: `(unit, seconds)` of the units of `packages`, e.g.
/// `("perspio-api lib", 3.2)`, `("perspio-api build script (run)", 0.9)`.
fn unit_times(target: &Path, packages: &[&str]) -> anyhow::Result<Vec<(String, f64)>> {
    let html = std::fs::read_to_string(target.join("cargo-timings/cargo-timing.html"))
        .context("reading the cargo --timings report")?;
    let start = html
        .find("const UNIT_DATA = ")
        .context("no UNIT_DATA in the cargo --timings report")?
        + "const UNIT_DATA = ".len();
    let units: Value = serde_json::Deserializer::from_str(&html[start..])
        .into_iter::<Value>()
        .next()
        .context("empty UNIT_DATA")??;
    let mut out = Vec::new();
    for unit in units.as_array().into_iter().flatten() {
        let name = unit["name"].as_str().unwrap_or_default();
        if !packages.contains(&name) {
            continue;
        }
        let target = unit["target"].as_str().unwrap_or_default().trim();
        let mode = unit["mode"].as_str().unwrap_or_default();
        let what = match (target, mode) {
            ("", _) => "lib".to_owned(),
            (t, "run-custom-build") if !t.contains("(run)") => format!("{t} (run)"),
            (t, _) => t.to_owned(),
        };
        out.push((
            format!("{name} {what}"),
            unit["duration"].as_f64().unwrap_or_default(),
        ));
    }
    Ok(out)
}

fn touch(path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read(path)?;
    std::fs::write(path, text)?;
    Ok(())
}

pub(crate) fn run(rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let s = "5 build cost";
    let root = project_root();
    let base: Value = serde_json::from_str(&std::fs::read_to_string(spec_path(&root))?)?;

    let (checked_in, ops, lines) = time_generate(&base, 5)?;
    rows.push(Row::new(
        s,
        format!("codegen, checked-in spec ({ops} operations, {lines} lines out), median of 5"),
        format!("{:.1} ms", checked_in.as_secs_f64() * 1e3),
    ));
    let synthetic = synthetic_spec(&base, SYNTHETIC_OPERATIONS)?;
    let (large, ops, lines) = time_generate(&synthetic, 3)?;
    rows.push(Row::new(
        s,
        format!("codegen, synthetic spec ({ops} operations, {lines} lines out), median of 3"),
        format!("{:.0} ms", large.as_secs_f64() * 1e3),
    ));

    let scratch = tempfile::tempdir()?;
    let workspace = scratch.path().join("ws");
    let target = scratch.path().join("target");
    copy_tree(&root, &workspace)?;
    eprintln!(
        "build cost: clean build of perspio-cli in {}",
        workspace.display()
    );
    let cli_target = scratch.path().join("target-cli");
    let clean_cli = cargo_build_package(&workspace, &cli_target, "perspio-cli", true)?;
    rows.push(
        Row::new(
            s,
            "clean `cargo build -p perspio-cli` (dev profile, all dependencies, 2 jobs)",
            format!("{:.1} s", clean_cli.as_secs_f64()),
        )
        .goal("≤ 60 s", clean_cli.as_secs_f64() <= 60.0),
    );
    rows.extend(unit_row(
        &cli_target,
        &[
            "perspio-cli",
            "perspio-api",
            "ring",
            "aws-lc-sys",
            "zbus",
            "redis",
        ],
        "of which (perspio-cli build; cargo --timings, per unit; units overlap on 2 cores)",
    ));
    std::fs::remove_dir_all(&cli_target)?;
    eprintln!(
        "build cost: clean build of perspio-api in {}",
        workspace.display()
    );
    let clean = cargo_build(&workspace, &target, true)?;
    rows.push(Row::new(
        s,
        "clean `cargo build -p perspio-api` (dev profile, all dependencies, 2 jobs)",
        format!("{:.1} s", clean.as_secs_f64()),
    ));
    rows.extend(unit_row(
        &target,
        &["perspio-api", "perspio-codegen", "ring", "aws-lc-sys"],
        "of which (cargo --timings, per unit; units overlap on 2 cores)",
    ));
    let noop = cargo_build(&workspace, &target, false)?;
    touch(&workspace.join("perspio-api/src/lib.rs"))?;
    let crate_only = cargo_build(&workspace, &target, false)?;
    rows.push(Row::new(
        s,
        "incremental rebuild after touching perspio-api/src/lib.rs (no codegen)",
        format!(
            "{:.1} s (no-op build {:.2} s)",
            crate_only.as_secs_f64(),
            noop.as_secs_f64()
        ),
    ));
    // The copy perspio-api's build script reads (`regen` writes it from openapi/): editing
    // openapi/ alone rebuilt nothing, and this row measured a no-op build.
    let spec_file = workspace
        .join("perspio-api")
        .join(perspio_codegen::NORMALIZED_SPEC);
    let original = std::fs::read_to_string(&spec_file)?;
    let edited = original.replacen(
        "List all assets in the tenant",
        "List every asset in the tenant",
        1,
    );
    anyhow::ensure!(
        edited != original,
        "the summary to edit is not in {}",
        spec_file.display()
    );
    std::fs::write(&spec_file, edited)?;
    let after_spec = cargo_build(&workspace, &target, false)?;
    rows.push(Row::new(
        s,
        "incremental rebuild after a spec edit (an operation summary; build script reruns codegen)",
        format!("{:.1} s", after_spec.as_secs_f64()),
    ));
    compile_scaling(rows, &workspace, &target, &base, &spec_file)?;
    Ok(())
}

/// The sizes of the compile-scaling rows, in operations.
const COMPILE_SIZES: [usize; 2] = [1_000, 2_000];

/// `build.rs` (the generator) and the compile of perspio-api for the synthetic spec at
/// [`COMPILE_SIZES`]: the normalised spec `regen` would write is put where the build script
/// reads it (`spec_file`), and `cargo build -p perspio-api` (dependencies already built) is
/// timed, with the two units from `--timings`.
fn compile_scaling(
    rows: &mut Vec<Row>,
    workspace: &Path,
    target: &Path,
    base: &Value,
    spec_file: &Path,
) -> anyhow::Result<()> {
    let s = "5 build cost";
    let mut runs = Vec::new();
    let mut cpus = Vec::new();
    for operations in COMPILE_SIZES {
        let spec = serde_json::to_string(&synthetic_spec(base, operations)?)?;
        let derived = perspio_import::derive(&spec)?;
        std::fs::write(spec_file, &derived.normalized)?;
        eprintln!("build cost: perspio-api with {operations} synthetic operations");
        let cpu_before = crate::cpu::children_cpu();
        let took = cargo_build(workspace, target, true)?;
        // What the build's processes ran: in user mode (rustc's and the build script's own
        // work) and in the kernel on their behalf (mostly page faults of the memory they use).
        let cpu = cpu_before.zip(crate::cpu::children_cpu()).map(
            |((user, system), (user_after, system_after))| {
                (user_after - user, system_after - system)
            },
        );
        let units = unit_times(target, &["perspio-api"]).unwrap_or_default();
        let unit = |what: &str| {
            units
                .iter()
                .find(|(name, _)| name == &format!("perspio-api {what}"))
                .map_or(f64::NAN, |(_, secs)| *secs)
        };
        let (script, lib) = (unit("build-script (run)"), unit("lib"));
        rows.push(Row::new(
            s,
            format!(
                "`build.rs` + compile of perspio-api, {operations} synthetic operations ({:.1} MB of Rust; `cargo build -p perspio-api`, dependencies built)",
                derived.code.len() as f64 / 1e6
            ),
            format!(
                "{:.1} s: build script {script:.1} s, lib {lib:.1} s{}",
                took.as_secs_f64(),
                cpu.map_or(String::new(), |(user, system)| format!(
                    "; CPU of the build's processes: user {user:.1} s, system {system:.1} s"
                ))
            ),
        ));
        runs.push((script, lib));
        cpus.push(cpu);
    }
    let (first, last) = (runs[0], runs[runs.len() - 1]);
    let growth = COMPILE_SIZES[COMPILE_SIZES.len() - 1] as f64 / COMPILE_SIZES[0] as f64;
    let (script, lib) = (last.0 / first.0, last.1 / first.1);
    rows.push(
        Row::new(
            s,
            format!(
                "`build.rs` and compile: time at {} ÷ at {} operations ({growth:.0}× the operations)",
                COMPILE_SIZES[COMPILE_SIZES.len() - 1],
                COMPILE_SIZES[0]
            ),
            format!("build script {script:.2}×, lib {lib:.2}×"),
        )
        .goal(
            "≤ 2.5× (linear, 25 % noise)",
            script <= growth * 1.25 && lib <= growth * 1.25,
        ),
    );
    if let (Some(Some(first)), Some(Some(last))) = (cpus.first(), cpus.last()) {
        rows.push(Row::new(
            s,
            format!(
                "the same builds' CPU: at {} ÷ at {} operations, user mode (the compiler's own work) / system (the kernel, on its behalf)",
                COMPILE_SIZES[COMPILE_SIZES.len() - 1],
                COMPILE_SIZES[0]
            ),
            format!("user {:.2}×, system {:.2}×", last.0 / first.0, last.1 / first.1),
        ));
    }
    Ok(())
}

/// The row of per-unit times of the build in `target` (its `--timings` report) for `units`, or
/// none (said on stderr) when the report cannot be read.
fn unit_row(target: &Path, units: &[&str], label: &'static str) -> Option<Row> {
    match unit_times(target, units) {
        Ok(times) => Some(Row::new(
            "5 build cost",
            label,
            times
                .iter()
                .map(|(unit, secs)| format!("{unit} {secs:.1} s"))
                .collect::<Vec<_>>()
                .join("; "),
        )),
        Err(e) => {
            eprintln!("build cost: no per-unit times: {e:#}");
            None
        }
    }
}
