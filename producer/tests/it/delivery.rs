//! What the providers' callbacks recorded, as the operator sees it: the funnel, late failures,
//! opt-outs and deferrals in `wacast status`, the delivery filters and fields of `wacast report`,
//! and `wacast hooks unmatched`. The fields are written into Redis as the recording scripts
//! write them, so these tests hold the commands to the agreed layout.

use redis::AsyncCommands;
use serde_json::Value;
use wacast_shared::campaign::CampaignId;

use crate::ops::{enqueue, finish, sent, wacast};
use crate::report::parse;
use crate::support::Env;

/// WhatsApp's text for 131026, longer than the 64 bytes kept of a send's error: shown whole.
const UNDELIVERABLE: &str = "Message undeliverable: the recipient's phone number is not a \
                             WhatsApp number, or they have not accepted the new terms of service";

/// The campaign counters the callbacks of [`campaign_with_callbacks`] leave.
const COUNTERS: [(&str, u64); 6] = [
    ("delivered", 3),
    ("read", 2),
    ("replied", 1),
    ("delivery_failed", 2),
    ("opted_out", 1),
    ("deferred", 2),
];

/// A campaign of five sent messages, and what the callbacks made of them: rows 1 to 3
/// delivered (1 and 2 read, 1 answered with STOP and opted out), row 4 failed late (131026),
/// row 5 failed late (131050, WhatsApp's stop); two 131049 deferrals before that.
async fn campaign_with_callbacks(env: &Env) -> CampaignId {
    let queue = env.redis.queue().await;
    let id = enqueue(env, "funnel", 5, &[]);
    assert_eq!(finish(&queue, 5, sent).await.len(), 5);
    let at = "2026-05-01T07:00:0";
    let message_fields: [(u64, Vec<(&str, String)>); 5] = [
        (
            1,
            vec![
                ("delivery", "read".into()),
                ("delivered_at", format!("{at}1.000Z")),
                ("read_at", format!("{at}2.000Z")),
                ("replied_at", format!("{at}3.000Z")),
                ("opted_out_at", format!("{at}3.000Z")),
                ("deferred", "2".into()),
            ],
        ),
        (
            2,
            vec![
                ("delivery", "read".into()),
                ("delivered_at", format!("{at}1.000Z")),
                ("read_at", format!("{at}4.000Z")),
            ],
        ),
        (
            3,
            vec![
                ("delivery", "delivered".into()),
                ("delivered_at", format!("{at}1.000Z")),
            ],
        ),
        (
            4,
            vec![
                ("delivery", "failed".into()),
                ("delivery_error_code", "131026".into()),
                ("delivery_error", UNDELIVERABLE.into()),
            ],
        ),
        (
            5,
            vec![
                ("delivery", "failed".into()),
                ("delivery_error_code", "131050".into()),
                ("delivery_error", "User stopped marketing messages".into()),
            ],
        ),
    ];
    let mut conn = env.conn().await;
    for (row, fields) in message_fields {
        let _: () = conn
            .hset_multiple(env.redis.keys.message(&id, row), &fields)
            .await
            .unwrap();
    }
    let _: () = conn
        .hset_multiple(env.redis.keys.campaign(&id), &COUNTERS)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn status_shows_the_funnel_late_failures_opt_outs_and_deferrals() {
    let env = Env::new().await;
    let id = campaign_with_callbacks(&env).await;

    let out = wacast(&env, &["status", id.as_str()]);
    assert_eq!(out.code, 0, "{out:#?}");
    let json = out.json();
    for (name, value) in COUNTERS {
        assert_eq!(json[name], value, "{name}");
    }
    assert_eq!(json["counters"]["sent"], 5);
    let late = &json["late_failures"];
    assert_eq!(late["found"], 2);
    assert_eq!(late["exact"], true);
    let top = late["top"].as_array().unwrap();
    assert_eq!(top.len(), 2);
    assert_eq!(top[0]["error_code"], "131026");
    assert_eq!(top[0]["error"], UNDELIVERABLE);
    assert_eq!(top[0]["count"], 1);
    assert_eq!(top[1]["error_code"], "131050");

    let text = wacast(&env, &["status", id.as_str(), "--format", "text"]);
    assert_eq!(text.code, 0, "{text:#?}");
    for fragment in [
        "funnel       sent 5 → delivered 60.0% (3) → read 40.0% (2) → replied 20.0% (1)\n",
        "undelivered  2 sent, then reported failed (all found); by code:\n",
        &format!("     1  131026     {UNDELIVERABLE}\n"),
        "     1  131050     User stopped marketing messages\n",
        "opted out    1 recipients",
        "deferred     2 times",
    ] {
        assert!(text.stdout.contains(fragment), "{fragment:?}: {text:#?}");
    }

    // A campaign with nothing sent yet has zeros, and no funnel or late failures to show.
    let quiet = enqueue(&env, "quiet", 2, &[]);
    let json = wacast(&env, &["status", quiet.as_str()]).json();
    assert_eq!(
        (json["delivered"].as_u64(), json["deferred"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(json["late_failures"]["found"], 0);
    let text = wacast(&env, &["status", quiet.as_str(), "--format", "text"]);
    assert!(!text.stdout.contains("funnel"), "{text:#?}");
    assert!(!text.stdout.contains("undelivered"), "{text:#?}");
}

/// The rows of a report run with `--status STATUS`.
fn rows_with(env: &Env, id: &CampaignId, status: &str) -> Vec<String> {
    let out = wacast(
        env,
        &[
            "report",
            id.as_str(),
            "--status",
            status,
            "--format",
            "text",
        ],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    parse(&out.stdout)
        .into_iter()
        .map(|line| line["row"].clone())
        .collect()
}

#[tokio::test]
async fn report_filters_on_delivery_and_carries_its_fields() {
    let env = Env::new().await;
    let id = campaign_with_callbacks(&env).await;

    // A read message was delivered: `delivered` counts it, as the campaign's counter does.
    assert_eq!(rows_with(&env, &id, "delivered"), ["1", "2", "3"]);
    assert_eq!(rows_with(&env, &id, "read"), ["1", "2"]);
    assert_eq!(rows_with(&env, &id, "replied"), ["1"]);
    assert_eq!(rows_with(&env, &id, "delivery_failed"), ["4", "5"]);
    // Several: any of them, alongside the message statuses.
    assert_eq!(
        rows_with(&env, &id, "replied,delivery_failed"),
        ["1", "4", "5"]
    );
    assert_eq!(rows_with(&env, &id, "sent").len(), 5);
    let bad = wacast(&env, &["report", id.as_str(), "--status", "bounced"]);
    assert_eq!(bad.code, 2, "{bad:#?}");
    assert!(bad.stderr.contains("delivery_failed"), "{bad:#?}");

    let csv = wacast(&env, &["report", id.as_str(), "--format", "text"]);
    let lines = parse(&csv.stdout);
    assert_eq!(lines[0]["delivery"], "read");
    assert_eq!(lines[0]["replied_at"], "2026-05-01T07:00:03.000Z");
    assert_eq!(lines[0]["opted_out_at"], "2026-05-01T07:00:03.000Z");
    assert_eq!(lines[0]["deferred"], "2");
    assert_eq!(lines[2]["read_at"], "");
    assert_eq!(lines[2]["deferred"], "0");
    assert_eq!(lines[3]["delivery_error"], UNDELIVERABLE);

    let json = wacast(
        &env,
        &["report", id.as_str(), "--status", "delivery_failed"],
    );
    let objects: Vec<Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["delivery"], "failed");
    assert_eq!(objects[0]["delivery_error_code"], "131026");
    assert_eq!(objects[0]["delivered_at"], Value::Null);
    assert_eq!(objects[0]["deferred"], 0);
    assert_eq!(objects[1]["delivery_error_code"], "131050");
}

#[tokio::test]
async fn hooks_unmatched_lists_the_kept_callbacks_newest_first() {
    let env = Env::new().await;
    let empty = wacast(&env, &["hooks", "unmatched"]);
    assert_eq!(empty.code, 0, "{empty:#?}");
    assert_eq!(empty.json()["total"], 0);

    let key = format!("{}:hooks:unmatched", env.redis.prefix);
    let mut conn = env.conn().await;
    // Pushed as the recording does: the newest at the head.
    for entry in [
        r#"{"at":"2026-05-01T07:00:00.000Z","provider":"seven","kind":"status","reference":"gone.7","provider_id":"77001","status":"delivered","from":null}"#,
        r#"{"at":"2026-05-01T07:00:05.000Z","provider":"bird","kind":"status","reference":null,"provider_id":"0b5e6f1c-2f4e-4f61-9a4e-6f0b8d1e2c3a","status":"read","from":null}"#,
        r#"{"at":"2026-05-01T07:00:09.000Z","provider":"seven","kind":"inbound","reference":null,"provider_id":null,"status":null,"from":"491701234567"}"#,
    ] {
        let _: () = conn.lpush(&key, entry).await.unwrap();
    }

    let out = wacast(&env, &["hooks", "unmatched"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let json = out.json();
    assert_eq!(json["total"], 3);
    let callbacks = json["callbacks"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = callbacks
        .iter()
        .map(|c| (c["provider"].as_str().unwrap(), c["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("seven", "inbound"),
            ("bird", "status"),
            ("seven", "status")
        ]
    );
    assert_eq!(callbacks[0]["from"], "491701234567");
    assert_eq!(callbacks[0]["at"], "2026-05-01T07:00:09Z");
    assert_eq!(callbacks[2]["reference"], "gone.7");
    assert_eq!(callbacks[2]["status"], "delivered");

    let text = wacast(
        &env,
        &["hooks", "unmatched", "--limit", "2", "--format", "text"],
    );
    assert_eq!(text.code, 0, "{text:#?}");
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{text:#?}");
    assert!(lines[0].starts_with("AT (UTC)"), "{text:#?}");
    assert!(
        lines[1].starts_with("2026-05-01 07:00:09  seven"),
        "{text:#?}"
    );
    assert!(lines[1].ends_with("491701234567"), "{text:#?}");
    assert!(
        lines[2].contains("0b5e6f1c-2f4e-4f61-9a4e-6f0b8d1e2c3a"),
        "{text:#?}"
    );
    assert!(text.stderr.contains("newest 2 of 3"), "{text:#?}");
}
