//! `wacast config show`: each setting in force, its value and where it came from (a flag, a
//! variable, a configuration file, the systemd credential or the built-in default), then the
//! files looked for. The Redis URL is shown without its password.

use std::process::ExitCode;

use serde_json::{Value, json};
use wacast_shared::redact::redact_url;

use crate::cli::{Format, GlobalArgs, env};
use crate::cmd::output;
use crate::config_file::{FromFile, InForce, Origin};

pub(crate) fn show(global: &GlobalArgs, in_force: &InForce) -> anyhow::Result<ExitCode> {
    let settings = &in_force.settings;
    // The settings only `enqueue` and `optout` have flags for: their variable, else the files.
    let from_env_or_file =
        |var: &'static str, file: Option<&FromFile<String>>, default: Option<&str>| {
            match std::env::var(var).ok().filter(|v| !v.is_empty()) {
                Some(value) => (Some(value), Origin::Env(var)),
                None => match file {
                    Some(file) => (Some(file.value.clone()), Origin::of_file(Some(file))),
                    None => (default.map(str::to_string), Origin::Default),
                },
            }
        };
    let templates = settings.templates.as_ref().map(|t| FromFile {
        value: t.value.display().to_string(),
        file: t.file.clone(),
    });
    let rows: Vec<(&str, Option<String>, Origin)> = vec![
        (
            "redis_url",
            Some(redact_url(&global.redis_url)),
            in_force.redis_from.clone(),
        ),
        (
            "prefix",
            Some(global.prefix.clone()),
            in_force.prefix_from.clone(),
        ),
        {
            let (value, origin) = from_env_or_file(env::TEMPLATES, templates.as_ref(), None);
            ("templates", value, origin)
        },
        {
            let (value, origin) = from_env_or_file(env::REGION, settings.region.as_ref(), None);
            ("region", value, origin)
        },
        {
            let (value, origin) = from_env_or_file(env::TZ, settings.tz.as_ref(), Some("UTC"));
            ("tz", value, origin)
        },
    ];
    match global.format {
        Format::Json => {
            let settings: serde_json::Map<String, Value> = rows
                .iter()
                .map(|(key, value, origin)| {
                    let entry = json!({ "value": value, "from": origin.to_string() });
                    (key.to_string(), entry)
                })
                .collect();
            let files = &in_force.settings.files;
            let named = &global.config_file;
            output::print_json(&json!({ "settings": settings, "files": files, "config": named }))?;
        }
        Format::Text => {
            let mut out = format!("{:<10}  {:<40}  {}\n", "SETTING", "VALUE", "FROM");
            for (key, value, origin) in &rows {
                let value = value.as_deref().unwrap_or("-");
                out.push_str(&format!("{key:<10}  {value:<40}  {origin}\n"));
            }
            out.push('\n');
            for file in &in_force.settings.files {
                out.push_str(&format!(
                    "file  {}  ({})\n",
                    file.path.display(),
                    file.state
                ));
            }
            output::print(&out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
