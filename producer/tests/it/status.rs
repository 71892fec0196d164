//! `wacast list`, `status` (and `--watch`), `wait`: what they show matches Redis, and they
//! refuse unknown campaigns and a Redis that is down at once.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::Value;
use wacast_shared::queue::Terminal;

use crate::ops::{PRICE, assert_refused, command, enqueue, failed, finish, number, sent, wacast};
use crate::support::Env;

#[tokio::test]
async fn list_shows_campaigns_newest_first_with_progress_and_cost() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let older = enqueue(&env, "older", 4, &["--label", "spring"]);
    // Creation times are milliseconds apart; make the order unmistakable.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let newer = enqueue(&env, "newer", 2, &[]);
    // Two of the older campaign's four messages are sent.
    let handled = finish(&queue, 100, |row| {
        if row <= 2 {
            sent(row)
        } else {
            Terminal::Expired
        }
    })
    .await;
    assert_eq!(handled.len(), 6);

    let out = wacast(&env, &["list"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let json = out.json();
    assert_eq!(json["total"], 2);
    let list = json["campaigns"].as_array().unwrap();
    let ids: Vec<&str> = list
        .iter()
        .map(|c| c["campaign"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [newer.as_str(), older.as_str()]);
    let record = queue.load_campaign(&older).await.unwrap();
    let old = &list[1];
    assert_eq!(old["label"], "spring");
    assert_eq!(old["state"], "completed");
    assert_eq!(old["progress"], 1.0);
    assert_eq!(old["counters"]["sent"], record.counters.sent);
    assert_eq!(old["counters"]["expired"], 2);
    assert!((old["cost"].as_f64().unwrap() - 2.0 * PRICE).abs() < 1e-9);

    let text = wacast(&env, &["list", "--format", "text", "--limit", "1"]);
    assert_eq!(text.code, 0, "{text:#?}");
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{text:#?}");
    assert!(lines[0].starts_with("ID "), "{text:#?}");
    assert!(lines[1].starts_with("newer "), "{text:#?}");
    assert!(text.stderr.contains("newest 1 of 2"), "{text:#?}");
}

#[tokio::test]
async fn status_reports_counters_cost_send_times_and_failure_reasons() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let id = enqueue(&env, "mixed", 6, &["--label", "may"]);
    finish(&queue, 100, |row| match row {
        1 | 2 => sent(row),
        3..=5 => failed("7002001", "no open 24-hour window"),
        _ => Terminal::Unknown {
            reason: "read timed out".into(),
        },
    })
    .await;

    let out = wacast(&env, &["status", id.as_str()]);
    assert_eq!(out.code, 0, "{out:#?}");
    let json = out.json();
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(json["state"], "completed");
    assert_eq!(json["label"], "may");
    for (name, value) in [
        ("total", record.counters.total),
        ("sent", 2),
        ("failed", 3),
        ("unknown", 1),
        ("queued", 0),
    ] {
        assert_eq!(json["counters"][name], value, "{name}");
    }
    assert!((json["cost"].as_f64().unwrap() - 2.0 * PRICE).abs() < 1e-9);
    assert!(json["finished_at"].is_string());
    assert!(json["first_sent_at"].is_string() && json["last_sent_at"].is_string());
    assert_eq!(json["send_times"]["exact"], true);
    // Nothing is running, so no rate is measured and nothing is left to estimate.
    assert_eq!(json["rate_per_s"], Value::Null);
    assert_eq!(json["estimated_completion"], Value::Null);
    let failures = &json["failures"];
    assert_eq!(failures["in_failed_set"], 4);
    assert_eq!(failures["exact"], true);
    assert_eq!(failures["top"][0]["error_code"], "7002001");
    assert_eq!(failures["top"][0]["count"], 3);
    assert_eq!(failures["top"][1]["status"], "unknown");
    assert_eq!(failures["top"][1]["error"], "read timed out");

    let text = wacast(&env, &["status", id.as_str(), "--format", "text"]);
    assert_eq!(text.code, 0, "{text:#?}");
    for fragment in [
        "state        completed",
        "sent 2  failed 3  expired 0  cancelled 0  unknown 1",
        "4 failed or unknown (all examined)",
        "3  failed   7002001    no open 24-hour window",
    ] {
        assert!(text.stdout.contains(fragment), "{fragment:?}: {text:#?}");
    }
}

#[tokio::test]
async fn status_counts_the_uploads_rejects_by_reason() {
    let env = Env::new().await;
    let csv = env.write(
        "rejects.csv",
        format!(
            "phone,name\n{},A\n12,B\n{},C\n{},D\n",
            number(1),
            number(1),
            number(1)
        ),
    );
    let out = env.enqueue(&csv, &["--text", "Hi {{name}}", "--id", "rejects"]);
    assert_eq!(out.code, 1, "rows were rejected: {out:#?}");
    let text = wacast(&env, &["status", "rejects", "--format", "text"]);
    assert!(
        text.stdout
            .contains("3 rows at enqueue: duplicate 2, invalid_phone 1\n"),
        "{text:#?}"
    );
    // The same in JSON, with each reason's first rows by line.
    let json = wacast(&env, &["status", "rejects", "--format", "json"]);
    let status: Value = serde_json::from_str(&json.stdout).unwrap();
    let rejects = &status["rejects"];
    assert_eq!(rejects[0]["code"], "duplicate", "{status:#}");
    assert_eq!(rejects[0]["count"], 2);
    let lines: Vec<&Value> = rejects[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| &row["line"])
        .collect();
    assert_eq!(lines, [4, 5]);
    assert_eq!(rejects[1]["code"], "invalid_phone");
    assert_eq!(rejects[1]["rows"][0]["line"], 3);
    assert!(
        rejects[1]["rows"][0]["message"]
            .as_str()
            .unwrap()
            .contains("12"),
        "{status:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_a_running_campaign_measures_its_rate_and_estimates_completion() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let id = enqueue(&env, "busy", 200, &[]);
    // A stand-in worker sends one message every 10 ms while status measures.
    let sender = {
        let queue = queue.clone();
        tokio::spawn(async move {
            for _ in 0..150 {
                finish(&queue, 1, sent).await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = wacast(&env, &["status", id.as_str()]);
    sender.abort();
    assert_eq!(out.code, 0, "{out:#?}");
    let json = out.json();
    assert_eq!(json["state"], "running");
    let rate = json["rate_per_s"].as_f64().expect("a rate");
    // 100/s at most; the machine may be slower, but it is never idle.
    assert!(rate > 10.0 && rate < 150.0, "{rate}");
    assert!(json["rate_window_s"].as_f64().unwrap() >= 1.0);
    let eta: chrono::DateTime<chrono::Utc> = json["estimated_completion"]
        .as_str()
        .expect("an estimate")
        .parse()
        .unwrap();
    assert!(eta > chrono::Utc::now(), "{eta}");
}

#[tokio::test]
async fn unknown_campaigns_are_refused_by_every_command() {
    let env = Env::new().await;
    for args in [
        &["status", "nope"][..],
        &["wait", "nope"],
        &["report", "nope"],
        &["pause", "nope"],
        &["resume", "nope"],
        &["cancel", "nope"],
        &["retry", "nope", "--status", "failed"],
        &["purge", "nope"],
    ] {
        let out = wacast(&env, args);
        assert_refused(
            &out,
            "campaign nope does not exist: check the id with `wacast list`",
        );
    }
    assert_refused(&wacast(&env, &["status", "no/pe"]), "is invalid");
}

#[tokio::test]
async fn commands_fail_fast_when_redis_is_down() {
    let env = Env::new().await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{closed}");
    for args in [
        &["list"][..],
        &["status", "x"],
        &["optout", "check", "+4915123456789"],
    ] {
        let started = Instant::now();
        let out = wacast(&env, &[args, &["--redis-url", &url]].concat());
        assert_refused(&out, "cannot connect to Redis at");
        assert!(started.elapsed() < Duration::from_secs(3), "{args:?}");
    }
}

#[tokio::test]
async fn watch_prints_a_line_per_refresh_until_the_campaign_finishes() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let id = enqueue(&env, "watched", 3, &[]);
    let mut child = command(
        &env,
        &[
            "status",
            id.as_str(),
            "--watch",
            "--interval",
            "100ms",
            "--format",
            "text",
        ],
        &[],
    )
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    tokio::time::sleep(Duration::from_millis(350)).await;
    finish(&queue, 100, sent).await;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    let lines = lines.join().unwrap();
    assert!(lines.len() >= 3, "{lines:#?}");
    assert!(
        lines[0].contains(" watched scheduled 0.0% queued=3 "),
        "{lines:#?}"
    );
    let last = lines.last().unwrap();
    assert!(last.contains(" watched completed 100.0% "), "{last}");
    assert!(last.contains(" sent=3 "), "{last}");
}

#[tokio::test]
async fn wait_returns_when_finished_and_exits_124_on_timeout() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let id = enqueue(&env, "waited", 2, &[]);
    let started = Instant::now();
    let out = wacast(&env, &["wait", id.as_str(), "--timeout", "1"]);
    assert_eq!(out.code, 124, "{out:#?}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(out.json()["finished"], false);
    assert!(out.stderr.contains("not finished after"), "{out:#?}");

    let mut waiter = command(
        &env,
        &[
            "wait",
            "waited",
            "--interval",
            "50ms",
            "--timeout",
            "30s",
            "--format",
            "text",
        ],
        &[],
    );
    let waiter = std::thread::spawn(move || waiter.output().unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    finish(&queue, 100, sent).await;
    let output = waiter.join().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:#?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("waited completed 100.0% (2 of 2)"),
        "{output:#?}"
    );
}
