//! The rough edges a new operator hit (issue 17), each tried as they tried it: the real
//! `wacast` binary against a test Redis.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use serde_json::Value;
use wacast_shared::campaign::{CampaignId, CampaignState};

use crate::ops::{command, enqueue, wacast};
use crate::support::Env;

#[tokio::test]
async fn a_semicolon_separated_windows_1252_file_from_excel_is_read() {
    let env = Env::new().await;
    // German Excel's "CSV (Trennzeichen-getrennt)": `;`, windows-1252 ("ü" is 0xFC).
    let csv = env.write(
        "excel.csv",
        b"Telefon;Name;Order ID\r\n+4915100000001;J\xfcrgen;A-1\r\n".as_slice(),
    );
    let out = env.enqueue(
        &csv,
        &[
            "--encoding",
            "windows-1252",
            "--text",
            "Hallo {{name}}",
            "--id",
            "excel",
        ],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(out.json()["enqueued"], 1, "{out:#?}");
    let message = env.message("excel", 1).await;
    assert!(
        message.values().any(|v| v == "Jürgen"),
        "the name is decoded: {message:?}"
    );

    // The same file read with the wrong delimiter: the error says which one to give.
    let out = env.enqueue(
        &csv,
        &[
            "--encoding",
            "windows-1252",
            "--delimiter",
            ",",
            "--text",
            "Hallo {{name}}",
            "--id",
            "excel-comma",
        ],
    );
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains("no phone column") && out.stderr.contains("--delimiter ';'"),
        "{out:#?}"
    );
}

#[tokio::test]
async fn list_keeps_its_columns_with_long_labels() {
    let env = Env::new().await;
    let label = "a-label-much-longer-than-sixteen-characters";
    enqueue(&env, "long", 2, &["--label", label]);
    enqueue(&env, "short", 2, &["--label", "x"]);
    let out = wacast(&env, &["list", "--format", "text"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out:#?}");
    let state_at = lines[0].find("STATE").expect("a STATE column");
    for line in &lines[1..] {
        assert_eq!(
            line.get(state_at..state_at + "scheduled".len()),
            Some("scheduled"),
            "the state column starts where its header does:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains(label), "{out:#?}");
}

#[tokio::test]
async fn rate_and_tier_list_numbers_as_json_numbers_and_tier_unset_removes_a_cap() {
    let env = Env::new().await;
    let sender = "+4915112345678";
    assert_eq!(wacast(&env, &["rate", "set", sender, "60:5"]).code, 0);
    let set = wacast(&env, &["tier", "set", sender, "2000"]);
    assert_eq!(set.code, 0, "{set:#?}");
    let listed = wacast(&env, &["rate", "list"]);
    assert_eq!(listed.code, 0, "{listed:#?}");
    let json = listed.json();
    let entry = &json["senders"][0];
    assert_eq!(entry["rate_per_second"], 60, "{json}");
    assert_eq!(entry["burst"], 5, "{json}");
    assert_eq!(entry["tier"], 2000, "{json}");
    assert!(entry["max_per_second"].is_u64(), "{json}");
    assert!(entry["tier_used"].is_u64(), "{json}");

    let unset = wacast(&env, &["tier", "unset", sender]);
    assert_eq!(unset.code, 0, "{unset:#?}");
    assert_eq!(unset.json()["tier"], Value::Null);
    let json = wacast(&env, &["rate", "list"]).json();
    assert_eq!(json["senders"][0]["tier"], Value::Null, "{json}");
    assert_eq!(json["senders"][0]["rate_per_second"], 60, "{json}");
}

#[tokio::test]
async fn a_cancelled_campaign_that_sent_nothing_says_so() {
    let env = Env::new().await;
    let id = enqueue(&env, "nothing-sent", 3, &[]);
    let out = wacast(&env, &["cancel", id.as_str()]);
    assert_eq!(out.code, 0, "{out:#?}");
    for args in [
        &["status", id.as_str(), "--format", "text"][..],
        &["list", "--format", "text"][..],
    ] {
        let out = wacast(&env, args);
        assert_eq!(out.code, 0, "{out:#?}");
        assert!(
            out.stdout.contains("cancelled: 0 sent, 3 cancelled of 3"),
            "{args:?}: {}",
            out.stdout
        );
        assert!(!out.stdout.contains("100.0%"), "{args:?}: {}", out.stdout);
    }
}

#[tokio::test]
async fn a_bird_campaigns_status_names_its_project_version_and_locale() {
    let env = Env::new().await;
    let project = "5b7a9c3e-1f2d-4e6a-8b9c-0d1e2f3a4b5c";
    let version = "3f2e1d0c-9b8a-4766-8554-433221100fed";
    let csv = env.write("bird.csv", "phone,name\n+4915100000001,Ann\n");
    let out = env.enqueue(
        &csv,
        &[
            "--provider",
            "bird",
            "--workspace",
            "0e6b1f7a-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
            "--channel",
            "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
            "--template-project",
            project,
            "--template-version",
            version,
            "--locale",
            "de",
            "--id",
            "bird",
        ],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let out = wacast(&env, &["status", "bird", "--format", "text"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout.contains(&format!(
            "template project {project} version {version} (de)"
        )),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("template - (-)"), "{}", out.stdout);
    let json = wacast(&env, &["status", "bird"]).json();
    assert_eq!(json["template"], project);
    assert_eq!(json["template_version"], version);
    assert_eq!(json["language"], "de");
}

#[tokio::test]
async fn times_show_in_the_campaigns_zone_as_text_and_in_utc_as_json() {
    let env = Env::new().await;
    let id = enqueue(
        &env,
        "berlin",
        2,
        &["--tz", "Europe/Berlin", "--delay", "2027-05-01 09:00"],
    );
    let out = wacast(&env, &["status", id.as_str(), "--format", "text"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout.contains("2027-05-01 09:00:00 Europe/Berlin"),
        "{}",
        out.stdout
    );
    let list = wacast(&env, &["list", "--format", "text"]);
    assert!(list.stdout.contains("Europe/Berlin"), "{}", list.stdout);
    let json = wacast(&env, &["status", id.as_str()]).json();
    assert_eq!(json["send_at"], "2027-05-01T07:00:00Z");
}

/// Runs `wacast ARGS` with its stdout closed before it writes anything, as `| head` leaves it.
fn with_stdout_closed(env: &Env, args: &[&str]) -> (i32, String) {
    let mut child = command(env, args, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wacast");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wacast ends");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_closed_stdout_ends_commands_quietly_and_json_errors_are_json() {
    let env = Env::new().await;
    let id = enqueue(&env, "piped", 50, &[]);
    for args in [
        &["report", id.as_str()][..],
        &["report", id.as_str(), "--format", "text"][..],
        &["list"][..],
        &["status", id.as_str(), "--format", "text"][..],
    ] {
        let (code, stderr) = with_stdout_closed(&env, args);
        assert_eq!((code, stderr.as_str()), (0, ""), "{args:?}");
    }

    let out = wacast(&env, &["status", "no-such-campaign"]);
    assert_eq!(out.code, 2, "{out:#?}");
    let error = out.error();
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("no-such-campaign")),
        "{error}"
    );
    assert!(error.get("hint").is_some(), "{error}");
    // Text errors stay text.
    let out = wacast(&env, &["status", "no-such-campaign", "--format", "text"]);
    assert!(out.stderr.starts_with("error: "), "{out:#?}");
}

#[tokio::test]
async fn optout_list_lists_the_numbers() {
    let env = Env::new().await;
    let added = wacast(&env, &["optout", "add", "+4915100000007"]);
    assert_eq!(added.code, 0, "{added:#?}");
    let out = wacast(&env, &["optout", "list", "--format", "text"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(out.stdout.contains("4915100000007"), "{out:#?}");
}

/// Runs `wacast ARGS --format text` on a terminal (util-linux `script` gives it a pty) and
/// types `answer`; returns the terminal's text and the exit status.
fn on_a_terminal(env: &Env, args: &[&str], answer: &str) -> (i32, String) {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line: Vec<String> = [env!("CARGO_BIN_EXE_wacast")]
        .iter()
        .chain(args)
        .chain(&[
            "--redis-url",
            &env.redis.url,
            "--prefix",
            &env.redis.prefix,
            "--format",
            "text",
        ])
        .map(|s| quote(s))
        .collect();
    let mut child = Command::new("script")
        .args([
            "--quiet",
            "--return",
            "--command",
            &line.join(" "),
            "/dev/null",
        ])
        .env_remove("WACAST_REDIS_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux runs");
    // Kept open until the command ends: script stops at the end of its input.
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(answer.as_bytes()).expect("type the answer");
    let mut text = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut text)
        .expect("read the terminal");
    let status = child.wait().expect("script ends");
    drop(stdin);
    (status.code().unwrap_or(-1), text)
}

async fn state(env: &Env, id: &CampaignId) -> CampaignState {
    env.redis
        .queue()
        .await
        .load_campaign(id)
        .await
        .expect("the campaign")
        .state
}

#[tokio::test]
async fn cancel_and_purge_ask_on_a_terminal_and_not_in_scripts() {
    let env = Env::new().await;
    let id = enqueue(&env, "ask", 3, &["--label", "spring"]);

    let (code, text) = on_a_terminal(&env, &["cancel", "ask"], "n\n");
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("Cancel scheduled campaign ask (label spring)? 3 of its 3 messages"),
        "{text}"
    );
    assert!(text.contains("nothing was changed"), "{text}");
    assert_eq!(state(&env, &id).await, CampaignState::Scheduled);

    let (code, text) = on_a_terminal(&env, &["cancel", "ask"], "y\n");
    assert_eq!(code, 0, "{text}");
    assert_eq!(state(&env, &id).await, CampaignState::Cancelled);

    let (code, text) = on_a_terminal(&env, &["purge", "ask"], "\n");
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("Purge campaign ask (cancelled): delete its 3 messages"),
        "{text}"
    );
    assert_eq!(state(&env, &id).await, CampaignState::Cancelled);
    // --yes answers for the operator.
    let (code, text) = on_a_terminal(&env, &["purge", "ask", "--yes"], "");
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("Purge campaign ask"), "{text}");
    assert!(env.redis.queue().await.load_campaign(&id).await.is_err());

    // Without a terminal nothing is asked (stdin is /dev/null), as scripts expect.
    let other = enqueue(&env, "scripted", 2, &[]);
    let out = wacast(&env, &["cancel", "scripted"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        !out.stderr.contains("Cancel scheduled campaign"),
        "{out:#?}"
    );
    assert_eq!(state(&env, &other).await, CampaignState::Cancelled);
}

/// `wacast SUBCOMMAND… --help`.
fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_wacast"))
        .args(args)
        .arg("--help")
        .output()
        .expect("run wacast");
    assert!(output.status.success(), "{args:?} --help");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn help_promises_only_what_exists_with_examples_in_the_future() {
    let commands: &[&[&str]] = &[
        &[],
        &["enqueue"],
        &["list"],
        &["status"],
        &["wait"],
        &["report"],
        &["pause"],
        &["resume"],
        &["cancel"],
        &["retry"],
        &["optout"],
        &["optout", "list"],
        &["purge"],
        &["rate"],
        &["rate", "list"],
        &["tier"],
        &["tier", "set"],
        &["tier", "unset"],
        &["hooks"],
        &["workers"],
    ];
    let today = chrono::Utc::now().date_naive();
    let date = regex::Regex::new(r"\b(20\d\d-\d\d-\d\d)").expect("a regex");
    for args in commands {
        let text = help(args);
        for found in date.captures_iter(&text) {
            let at: chrono::NaiveDate = found[1].parse().expect("a date");
            assert!(
                at > today,
                "`wacast {args:?} --help` shows {at}, in the past"
            );
        }
    }
    assert!(help(&["tier"]).contains("unset"));
    let report = help(&["report"]);
    assert!(!report.contains("aligned"), "{report}");
    assert!(report.contains("CSV"), "{report}");
}
