//! The CLI's configuration files, which give flags their defaults: `/etc/wacast/wacast.toml`
//! (the host's), then `$XDG_CONFIG_HOME/wacast/wacast.toml` (`~/.config/wacast/wacast.toml`,
//! the user's), or instead of both the one file named by `--config` (`WACAST_CONFIG`).
//! Precedence: flag > environment > user file > system file > built-in default; the files are
//! merged key by key. A file's values become clap's defaults ([`Settings::apply`]), so clap
//! keeps deciding between a flag and its variable, and `--help` shows the value in force.
//! `wacast config show` prints each value in force and where it came from ([`Origin`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use wacast_shared::redis_url::{self, RedisUrlError};

use crate::cli::{GlobalArgs, env};

/// The host's file.
pub(crate) const SYSTEM_PATH: &str = "/etc/wacast/wacast.toml";
/// Names another host file (tests, packaging checks); not a flag, as operators do not need it.
pub(crate) const SYSTEM_PATH_ENV: &str = "WACAST_SYSTEM_CONFIG";

/// One file as written. Unknown keys are refused, so that a misspelt key is not silently
/// ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    redis_url: Option<String>,
    redis_url_file: Option<PathBuf>,
    prefix: Option<String>,
    templates: Option<PathBuf>,
    region: Option<String>,
    tz: Option<toml::Spanned<String>>,
}

/// Where the Redis URL is, as a file says.
#[derive(Debug, Clone)]
pub(crate) enum RedisSetting {
    /// `redis_url`: the URL itself.
    Url(String),
    /// `redis_url_file`: a file holding it (as `--redis-url-file`).
    File(PathBuf),
}

/// A value and the file that gave it.
#[derive(Debug, Clone)]
pub(crate) struct FromFile<T> {
    pub(crate) value: T,
    pub(crate) file: PathBuf,
}

/// A file looked for, and what was found.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct FileState {
    pub(crate) path: PathBuf,
    /// `read`, `absent`, or `unreadable` (no permission: the host's file may be kept from
    /// some users, e.g. a service's dynamic user, who then go without it).
    pub(crate) state: &'static str,
}

/// The files' values, merged.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    pub(crate) files: Vec<FileState>,
    pub(crate) redis: Option<FromFile<RedisSetting>>,
    pub(crate) prefix: Option<FromFile<String>>,
    pub(crate) templates: Option<FromFile<PathBuf>>,
    pub(crate) region: Option<FromFile<String>>,
    pub(crate) tz: Option<FromFile<String>>,
}

impl Settings {
    /// Reads the one file `explicit` names (it must exist), or else the host's file and the
    /// user's, each optional.
    pub(crate) fn load(explicit: Option<&Path>) -> anyhow::Result<Settings> {
        let mut settings = Settings::default();
        if let Some(path) = explicit {
            let text = std::fs::read_to_string(path).map_err(|err| {
                anyhow::anyhow!(
                    "cannot read the configuration file {}: {err}",
                    path.display()
                )
            })?;
            settings.merge(path, &text)?;
            settings.files.push(FileState {
                path: path.to_path_buf(),
                state: "read",
            });
            return Ok(settings);
        }
        let system = std::env::var_os(SYSTEM_PATH_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(SYSTEM_PATH));
        for path in std::iter::once(system).chain(user_path()) {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    settings.merge(&path, &text)?;
                    settings.files.push(FileState {
                        path,
                        state: "read",
                    });
                }
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    settings.files.push(FileState {
                        path,
                        state: "absent",
                    });
                }
                Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                    tracing::debug!(path = %path.display(), "Configuration file not readable, skipped.");
                    settings.files.push(FileState {
                        path,
                        state: "unreadable",
                    });
                }
                Err(err) => anyhow::bail!(
                    "cannot read the configuration file {}: {err}",
                    path.display()
                ),
            }
        }
        Ok(settings)
    }

    /// Parses one file's text and lays its values over those read before.
    fn merge(&mut self, path: &Path, text: &str) -> anyhow::Result<()> {
        let at = |span: Option<std::ops::Range<usize>>| match span {
            Some(span) => format!("{}:{}", path.display(), line_of(text, span.start)),
            None => path.display().to_string(),
        };
        let file: FileSettings = toml::from_str(text)
            .map_err(|err| anyhow::anyhow!("{}: {}", at(err.span()), err.message().trim()))?;
        // Relative paths are read from the file's folder, not from wherever wacast runs.
        let dir = path.parent().unwrap_or(Path::new("."));
        fn from<T>(path: &Path, value: T) -> FromFile<T> {
            FromFile {
                value,
                file: path.to_path_buf(),
            }
        }
        match (file.redis_url, file.redis_url_file) {
            (Some(_), Some(_)) => anyhow::bail!(
                "{}: both redis_url and redis_url_file are set: keep one",
                path.display()
            ),
            (Some(url), None) => self.redis = Some(from(path, RedisSetting::Url(url))),
            (None, Some(file)) => self.redis = Some(from(path, RedisSetting::File(dir.join(file)))),
            (None, None) => {}
        }
        if let Some(tz) = file.tz {
            if tz.get_ref().parse::<chrono_tz::Tz>().is_err() {
                anyhow::bail!(
                    "{}: tz = {:?} is not an IANA time zone such as Europe/Berlin or UTC",
                    at(Some(tz.span())),
                    tz.get_ref()
                );
            }
            self.tz = Some(from(path, tz.into_inner()));
        }
        if let Some(prefix) = file.prefix {
            self.prefix = Some(from(path, prefix));
        }
        if let Some(templates) = file.templates {
            self.templates = Some(from(path, dir.join(templates)));
        }
        if let Some(region) = file.region {
            self.region = Some(from(path, region));
        }
        Ok(())
    }

    /// The command line with the files' values as the defaults of the flags they stand for
    /// (at any depth: `--tz` is `enqueue`'s, `--region` also `optout`'s).
    pub(crate) fn apply(&self, command: clap::Command) -> clap::Command {
        let defaults = [
            ("prefix", self.prefix.as_ref().map(|s| s.value.clone())),
            (
                "templates",
                (self.templates.as_ref()).map(|s| s.value.to_string_lossy().into_owned()),
            ),
            ("region", self.region.as_ref().map(|s| s.value.clone())),
            ("tz", self.tz.as_ref().map(|s| s.value.clone())),
        ];
        defaults
            .into_iter()
            .filter_map(|(id, value)| Some((id, value?)))
            .fold(command, |command, (id, value)| {
                set_default(command, id, &value)
            })
    }
}

/// Where a value in force came from, as `wacast config show` names it.
#[derive(Debug, Clone, Default)]
pub(crate) enum Origin {
    /// A flag on the command line.
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// The systemd credential `redis-url`.
    Credential,
    /// A configuration file.
    File(PathBuf),
    /// wacast's built-in default.
    #[default]
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "{flag}"),
            Origin::Env(var) => write!(f, "${var}"),
            Origin::Credential => write!(
                f,
                "systemd credential {}",
                wacast_shared::redis_url::CREDENTIAL
            ),
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Default => write!(f, "default"),
        }
    }
}

impl Origin {
    /// Where a parsed argument's value came from: its flag, its variable, else the file that
    /// set its default, else the built-in default.
    pub(crate) fn of_arg<T>(
        matches: &clap::ArgMatches,
        id: &str,
        flag: &'static str,
        var: &'static str,
        file: Option<&FromFile<T>>,
    ) -> Origin {
        match matches.value_source(id) {
            Some(clap::parser::ValueSource::CommandLine) => Origin::Flag(flag),
            Some(clap::parser::ValueSource::EnvVariable) => Origin::Env(var),
            _ => Origin::of_file(file),
        }
    }

    /// The file's, else the built-in default.
    pub(crate) fn of_file<T>(file: Option<&FromFile<T>>) -> Origin {
        file.map_or(Origin::Default, |file| Origin::File(file.file.clone()))
    }
}

/// The user's file: `$XDG_CONFIG_HOME/wacast/wacast.toml`, else `~/.config/wacast/wacast.toml`.
/// By hand rather than with a directories crate: two lines of the XDG spec, Linux only.
fn user_path() -> Option<PathBuf> {
    let absolute = |var| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|path: &PathBuf| path.is_absolute())
    };
    let config_home =
        absolute("XDG_CONFIG_HOME").or_else(|| Some(absolute("HOME")?.join(".config")))?;
    Some(config_home.join("wacast").join("wacast.toml"))
}

fn set_default(command: clap::Command, id: &'static str, value: &str) -> clap::Command {
    command
        .mut_args(|arg| {
            if arg.get_id() == id {
                arg.default_value(value.to_string())
            } else {
                arg
            }
        })
        .mut_subcommands(|sub| set_default(sub, id, value))
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The Redis URL in force and where it came from: `--redis-url` or `--redis-url-file` (or
/// their variables), else the systemd credential `redis-url`, else the files' `redis_url` or
/// `redis_url_file`, else Redis on this host.
pub(crate) fn redis_url(
    global: &GlobalArgs,
    matches: &clap::ArgMatches,
    settings: &Settings,
) -> Result<(String, Origin), RedisUrlError> {
    let none = None::<&FromFile<()>>;
    if global.redis_url_arg.is_some() || global.redis_url_file.is_some() {
        let url = redis_url::resolve(
            global.redis_url_arg.as_deref(),
            global.redis_url_file.as_deref(),
        )?;
        let origin = if global.redis_url_arg.is_some() {
            Origin::of_arg(
                matches,
                "redis_url_arg",
                "--redis-url",
                env::REDIS_URL,
                none,
            )
        } else {
            let file = "redis_url_file";
            Origin::of_arg(matches, file, "--redis-url-file", env::REDIS_URL_FILE, none)
        };
        return Ok((url, origin));
    }
    if let Some(url) = redis_url::credential()? {
        return Ok((url, Origin::Credential));
    }
    Ok(match &settings.redis {
        Some(FromFile { value, file }) => {
            let url = match value {
                RedisSetting::Url(url) => url.clone(),
                RedisSetting::File(path) => redis_url::resolve(None, Some(path))?,
            };
            (url, Origin::File(file.clone()))
        }
        None => (redis_url::DEFAULT_REDIS_URL.to_string(), Origin::Default),
    })
}

/// What `wacast config show` reports beyond the parsed flags: the files' values, and where the
/// Redis URL and the prefix came from.
#[derive(Debug)]
pub(crate) struct InForce {
    pub(crate) settings: Settings,
    pub(crate) redis_from: Origin,
    pub(crate) prefix_from: Origin,
}
