//! Watching a fleet (issue 17): the alert rules pass `promtool`, every metric the Grafana
//! dashboard and the alert rules use is one a real worker exports after a campaign went through
//! the mock gateway (so they cannot drift apart), and the workers log a campaign's life once
//! for the fleet, with progress lines, in plain text when stderr is no terminal.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::testing::{TestRedis, counters_match_messages};
use wacast_tests::ChildGuard;

use crate::support::*;

const SLOW: Duration = Duration::from_secs(60);

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Every `wacast_…` metric name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("wacast_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

fn promtool(args: &[&str]) {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(deploy("prometheus"))
        .output()
        .expect("promtool runs (Debian's prometheus package; scripts/lib.sh ensure_promtool)");
    assert!(
        output.status.success(),
        "promtool {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    promtool(&["check", "rules", "wacast-alerts.yml"]);
    promtool(&["test", "rules", "wacast-alerts.test.yml"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_the_dashboard_and_the_alerts_is_exported_by_a_worker() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    let dashboard = std::fs::read_to_string(deploy("grafana/wacast-dashboard.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&dashboard).expect("the dashboard is JSON");
    let alerts = std::fs::read_to_string(deploy("prometheus/wacast-alerts.yml")).unwrap();
    let mut used = metric_names(&dashboard);
    used.extend(metric_names(&alerts));
    assert!(used.len() >= 15, "too few metrics found: {used:?}");

    // Unsigned callbacks on the worker's hooks listener, which the mock sends to; some
    // messages fail (an error body); the sender's rate puts rows off.
    let hooks = format!("127.0.0.1:{}", free_port());
    let metrics = format!("127.0.0.1:{}", free_port());
    let gateway = spawn_gateway(&[
        "--callback-url",
        &format!("http://{hooks}"),
        "--callback-delay",
        "50ms",
        "--error-body",
        "0.2",
        "--seed",
        "17",
    ]);
    let mut command = worker_command(&redis.url, &redis.prefix, &gateway.url(), Keys::BOTH);
    command
        .args([
            "--lease",
            "5s",
            "--default-rate",
            "40",
            "--progress-interval",
            "1s",
        ])
        .args(["--metrics-addr", &metrics, "--hooks-addr", &hooks])
        .args(["--hooks-public-url", &format!("http://{hooks}")])
        .arg("--hooks-allow-unsigned")
        .env("RUST_LOG", "info");
    let worker = ChildGuard::spawn_daemon(command).expect("wacast-worker starts");
    let csv = write_csv(dir.path(), 40);
    // Due in two seconds: the watch sees its backlog before it is sent.
    enqueue(
        &redis.url,
        &redis.prefix,
        &csv,
        "scraped",
        &[&TEMPLATE[..], &["--delay", "+2s"]].concat(),
    );
    let id = CampaignId::parse("scraped").unwrap();
    wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;

    // Callbacks and the watch's next look come a little after: poll the scrape.
    let deadline = Instant::now() + Duration::from_secs(20);
    let missing = loop {
        let scraped = match reqwest::get(format!("http://{metrics}/metrics")).await {
            Ok(answer) => answer.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let exported: BTreeSet<String> = scraped
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split(['{', ' ']).next())
            .map(str::to_string)
            .collect();
        let missing: Vec<&String> = used.difference(&exported).collect();
        if missing.is_empty() || Instant::now() > deadline {
            break missing
                .into_iter()
                .map(|name| format!("{name}\n"))
                .collect::<String>();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        missing.is_empty(),
        "the dashboard or the alert rules use metrics the worker does not export:\n{missing}\nworker log:\n{}",
        worker.stderr()
    );
    if let Err(problems) = counters_match_messages(&queue, &id).await {
        panic!("{problems}");
    }
}

/// The worker's log lines with `text`, across workers.
fn lines_with<'a>(logs: &'a [String], text: &str) -> Vec<&'a str> {
    logs.iter()
        .flat_map(|log| log.lines())
        .filter(|line| line.contains(text))
        .collect()
}

async fn wait_for_line(workers: &[&ChildGuard], text: &str) {
    let deadline = Instant::now() + SLOW;
    loop {
        let logs: Vec<String> = workers.iter().map(|w| w.stderr()).collect();
        if !lines_with(&logs, text).is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no worker logged {text:?}:\n{}",
            logs.join("\n----\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_log_a_campaigns_life_once_with_progress_lines() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    let gateway = spawn_gateway(&[]);
    let flags = ["--progress-interval", "1s"];
    let first = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &flags);
    let second = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &flags);
    let workers = [&first, &second];
    // 20/s: five seconds of sending, a progress line a second.
    wacast(&redis, &["rate", "set", SENDER, "20"]);
    let csv = write_csv(dir.path(), 100);
    enqueue(&redis.url, &redis.prefix, &csv, "told", &[]);
    let id = CampaignId::parse("told").unwrap();

    wait_for_line(&workers, "Campaign started.").await;
    wait_for_line(&workers, "Campaign progress.").await;
    wacast(&redis, &["pause", "told", "--reason", "checking the copy"]);
    wait_for_line(&workers, "Campaign paused.").await;
    wacast(&redis, &["resume", "told"]);
    wait_for_line(&workers, "Campaign resumed.").await;
    wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    wait_for_line(&workers, "Campaign completed.").await;

    let logs: Vec<String> = workers.iter().map(|w| w.stderr()).collect();
    for event in [
        "Campaign started.",
        "Campaign paused.",
        "Campaign resumed.",
        "Campaign completed.",
    ] {
        let lines = lines_with(&logs, event);
        assert_eq!(lines.len(), 1, "{event} once in the fleet: {lines:#?}");
        assert!(lines[0].contains("campaign=told"), "{}", lines[0]);
    }
    let paused = lines_with(&logs, "Campaign paused.")[0];
    assert!(
        paused.contains("checking the copy") && paused.contains("cause=\"operator\""),
        "{paused}"
    );
    let completed = lines_with(&logs, "Campaign completed.")[0];
    assert!(
        completed.contains("sent=100") && completed.contains("failed=0"),
        "{completed}"
    );
    let progress = lines_with(&logs, "Campaign progress.");
    assert!(
        progress
            .iter()
            .all(|line| line.contains("sent=") && line.contains("remaining=")),
        "{progress:#?}"
    );
    assert!(
        progress.iter().any(|line| !line.contains("rate=0.0/s")),
        "a progress line shows the campaign moving: {progress:#?}"
    );
    assert!(
        logs.iter().all(|log| !log.contains('\u{1b}')),
        "no colour codes when stderr is no terminal"
    );
}
