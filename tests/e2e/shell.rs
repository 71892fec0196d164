//! What the package ships beside the commands, through the real binaries: shell completions,
//! man pages, and the configuration files (`/etc/wacast/wacast.toml` and the user's, their
//! precedence under variables and flags, a misspelt key refused, `config show` without the
//! Redis password).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;
use wacast_shared::testing::TestRedis;

use crate::support::*;

/// A home of its own: the system file's path, `$HOME` and `$XDG_CONFIG_HOME` in a temporary
/// folder, so that no file of the machine running the tests is read.
struct Home {
    dir: TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: TempDir::new().unwrap(),
        }
    }

    /// The host's file, as WACAST_SYSTEM_CONFIG names it.
    fn system_file(&self) -> PathBuf {
        self.dir.path().join("etc/wacast/wacast.toml")
    }

    /// The user's file under $XDG_CONFIG_HOME.
    fn user_file(&self) -> PathBuf {
        self.dir.path().join("xdg/wacast/wacast.toml")
    }

    fn write(&self, path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `wacast ARGS…` with this home and `envs`, and no WACAST_ variable of the caller's.
    fn wacast(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut command = Command::new(bin("wacast"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("WACAST_") {
                command.env_remove(&key);
            }
        }
        command
            .args(args)
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env("WACAST_SYSTEM_CONFIG", self.system_file())
            .env_remove("CREDENTIALS_DIRECTORY")
            .envs(envs.iter().copied());
        command.output().expect("wacast runs")
    }

    /// `wacast config show --format json`'s settings, each as (value, from).
    fn config_show(&self, args: &[&str], envs: &[(&str, &str)]) -> Value {
        let output = self.wacast(
            &[&["config", "show", "--format", "json"], args].concat(),
            envs,
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
        shown["settings"].clone()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn completions_for_each_shell_complete_the_commands() {
    let home = Home::new();
    for (shell, marker) in [
        ("bash", "complete -F _wacast"),
        ("zsh", "#compdef wacast"),
        ("fish", "complete -c wacast"),
    ] {
        let output = home.wacast(&["completions", shell], &[]);
        assert!(output.status.success(), "{shell}: {}", stderr(&output));
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for command in [
            "enqueue",
            "status",
            "report",
            "optout",
            "completions",
            "config",
        ] {
            assert!(script.contains(command), "{shell}'s script lacks {command}");
        }
    }
    let output = home.wacast(&["completions", "tcsh"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("bash"), "{}", stderr(&output));
}

#[test]
fn man_pages_are_roff_that_groff_renders_and_name_the_commands() {
    let home = Home::new();
    let out = home.dir.path().join("man");
    let output = home.wacast(&["manpages", "--out", out.to_str().unwrap()], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = Command::new(bin("wacast-worker"))
        .args(["manpages", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    for page in [
        "wacast.1",
        "wacast-enqueue.1",
        "wacast-optout-add.1",
        "wacast-config-show.1",
        "wacast-worker.1",
        "wacast-worker-check-config.1",
    ] {
        assert!(out.join(page).exists(), "{page} was not written");
    }
    assert!(!out.join("wacast-manpages.1").exists());
    let main = std::fs::read_to_string(out.join("wacast.1")).unwrap();
    assert!(main.contains(".TH wacast 1"), "{main}");
    // groff renders it without a warning (-ww: all of them; -z: no output; -k: UTF-8 input, as
    // man reads it).
    let groff = Command::new("groff")
        .args(["-k", "-man", "-ww", "-z", "-Tutf8"])
        .arg(out.join("wacast.1"))
        .output()
        .expect("groff runs (scripts/lib.sh ensure_groff)");
    assert!(
        groff.status.success() && groff.stderr.is_empty(),
        "{}",
        stderr(&groff)
    );
    let rendered = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-P-c"])
        .arg(out.join("wacast.1"))
        .output()
        .unwrap();
    let text = stdout(&rendered);
    for words in [
        "wacast-enqueue(1)",
        "Read a CSV of recipients",
        "--redis-url",
    ] {
        assert!(text.contains(words), "wacast.1 lacks {words:?}:\n{text}");
    }
    let worker = std::fs::read_to_string(out.join("wacast-worker.1")).unwrap();
    assert!(worker.contains("check\\-config"), "{worker}");
}

#[test]
fn the_user_file_beats_the_system_file_the_environment_both_and_a_flag_everything() {
    let home = Home::new();
    let system = home.system_file();
    let user = home.user_file();
    home.write(
        &system,
        "prefix = \"host\"\nregion = \"AT\"\ntz = \"Europe/Vienna\"\n\
         redis_url = \"redis://127.0.0.1:7001\"\n",
    );
    let sys = system.to_str().unwrap();
    let shown = home.config_show(&[], &[]);
    assert_eq!(shown["prefix"]["value"], "host");
    assert_eq!(shown["prefix"]["from"], sys);
    assert_eq!(shown["tz"]["value"], "Europe/Vienna");
    assert_eq!(shown["redis_url"]["value"], "redis://127.0.0.1:7001");

    home.write(&user, "prefix = \"mine\"\nregion = \"DE\"\n");
    let usr = user.to_str().unwrap();
    let shown = home.config_show(&[], &[]);
    assert_eq!(shown["prefix"]["value"], "mine");
    assert_eq!(shown["prefix"]["from"], usr);
    assert_eq!(shown["region"]["value"], "DE");
    assert_eq!(shown["region"]["from"], usr);
    // Keys the user's file does not set still come from the host's.
    assert_eq!(shown["tz"]["value"], "Europe/Vienna");
    assert_eq!(shown["tz"]["from"], sys);
    assert_eq!(shown["templates"]["value"], Value::Null);
    assert_eq!(shown["templates"]["from"], "default");

    let env = [("WACAST_PREFIX", "env"), ("WACAST_TZ", "Asia/Tokyo")];
    let shown = home.config_show(&[], &env);
    assert_eq!(shown["prefix"]["value"], "env");
    assert_eq!(shown["prefix"]["from"], "$WACAST_PREFIX");
    assert_eq!(shown["tz"]["value"], "Asia/Tokyo");
    assert_eq!(shown["region"]["value"], "DE");

    let flags = ["--prefix", "flag", "--redis-url", "redis://127.0.0.1:7002"];
    let shown = home.config_show(&flags, &env);
    assert_eq!(shown["prefix"]["value"], "flag");
    assert_eq!(shown["prefix"]["from"], "--prefix");
    assert_eq!(shown["redis_url"]["value"], "redis://127.0.0.1:7002");
    assert_eq!(shown["redis_url"]["from"], "--redis-url");

    // The files' values are the flags' defaults, as `--help` shows, where the flag lives.
    let help = stdout(&home.wacast(&["enqueue", "--help"], &[]));
    assert!(help.contains("[default: Europe/Vienna]"), "{help}");
    assert!(help.contains("[default: DE]"), "{help}");

    // --config names the one file read instead of both.
    let only = home.dir.path().join("only.toml");
    home.write(&only, "tz = \"America/New_York\"\n");
    let shown = home.config_show(&["--config", only.to_str().unwrap()], &[]);
    assert_eq!(shown["tz"]["value"], "America/New_York");
    assert_eq!(shown["prefix"]["value"], "wacast");
    assert_eq!(shown["prefix"]["from"], "default");
    let missing = home.wacast(&["config", "show", "--config", "/nonexistent/x.toml"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("/nonexistent/x.toml"),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_use_the_redis_url_and_prefix_of_the_configuration_file() {
    let redis = TestRedis::shared().await;
    let home = Home::new();
    let csv = write_csv(home.dir.path(), 3);
    enqueue(&redis.url, &redis.prefix, &csv, "from-config", &TEMPLATE);
    // The URL from a file the configuration names, relative to the configuration's folder.
    home.write(&home.dir.path().join("etc/wacast/redis-url"), &redis.url);
    let config = format!(
        "redis_url_file = \"redis-url\"\nprefix = \"{}\"\n",
        redis.prefix
    );
    home.write(&home.system_file(), &config);
    let output = home.wacast(&["list", "--format", "json"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let ids: Vec<&str> = listed["campaigns"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .filter_map(|c| c["campaign"].as_str())
        .collect();
    assert_eq!(ids, ["from-config"]);
}

#[test]
fn a_misspelt_key_is_refused_with_its_file_and_line() {
    let home = Home::new();
    let system = home.system_file();
    home.write(&system, "# wacast\nprefix = \"x\"\ncolour = \"red\"\n");
    let output = home.wacast(&["list"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    let expected = format!("error: {}:3: unknown field `colour`", system.display());
    assert!(error.starts_with(&expected), "{error}");
    assert!(
        error.contains("prefix"),
        "the known keys are named: {error}"
    );

    home.write(&system, "tz = \"Europe/Berln\"\n");
    let error = stderr(&home.wacast(&["config", "show"], &[]));
    assert!(
        error.contains(":1: tz = \"Europe/Berln\" is not an IANA time zone"),
        "{error}"
    );
}

#[test]
fn config_show_never_prints_the_redis_password() {
    let home = Home::new();
    home.write(
        &home.user_file(),
        "redis_url = \"redis://wacast:s3cret-pw@db.internal:6379/0\"\n",
    );
    let output = home.wacast(&["config", "show"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("redis://***@db.internal:6379/0"), "{text}");
    assert!(text.contains(home.user_file().to_str().unwrap()), "{text}");
    let json = home.wacast(&["config", "show", "--format", "json"], &[]);
    for shown in [text, stdout(&json)] {
        assert!(!shown.contains("s3cret"), "{shown}");
    }
    let flag = home.wacast(
        &["config", "show", "--redis-url", "redis://:flag-pw@h:1"],
        &[],
    );
    assert!(!stdout(&flag).contains("flag-pw"), "{}", stdout(&flag));
}
