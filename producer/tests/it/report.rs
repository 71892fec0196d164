//! `wacast report`: every message once, in row order, across batches; the status filter; the
//! file written whole or not at all.

use std::collections::HashMap;

use wacast_shared::queue::Terminal;

use crate::ops::{PRICE, enqueue, failed, finish, number, sent, wacast};
use crate::support::Env;

/// The report's CSV as one map per line.
pub(crate) fn parse(csv: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn report_streams_every_message_in_row_order_across_batches() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    // 2,503 data records, three of them rejected (row 1,200 twice a duplicate, one invalid):
    // more than two batches of 1,000, with holes in the row numbers.
    let mut text = String::from("phone,name\n");
    for i in 1..=2503usize {
        let phone = match i {
            1200 | 1201 => number(5),
            2000 => "not a number".to_string(),
            _ => number(i),
        };
        text.push_str(&format!("{phone},Name {i}\n"));
    }
    let csv = env.write("big.csv", text);
    let out = env.enqueue(&csv, &["--text", "Hi {{name}}", "--id", "big"]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(out.json()["enqueued"], 2500);
    finish(&queue, 5000, |row| match row % 3 {
        0 => failed("131026", "message undeliverable"),
        _ => sent(row),
    })
    .await;

    let report = wacast(&env, &["report", "big", "--format", "text"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert!(
        report.stdout.starts_with(
            "row,to,status,attempts,provider_id,price,error_code,error,send_at,\
             provider_scheduled_at,sent_at,updated_at,next_attempt_at,last_status,\
             last_error_code,last_error,retried_at,provider_delete,provider_delete_error,worker,\
             delivery,delivered_at,read_at,replied_at,delivery_error_code,delivery_error,\
             opted_out_at,deferred\n"
        ),
        "{}",
        &report.stdout[..300]
    );
    let lines = parse(&report.stdout);
    assert_eq!(lines.len(), 2500);
    let rows: Vec<u64> = lines.iter().map(|l| l["row"].parse().unwrap()).collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "rows are in order");
    for missing in [1200, 1201, 2000] {
        assert!(!rows.contains(&missing), "row {missing} was rejected");
    }
    let by_row: HashMap<u64, &HashMap<String, String>> = rows.iter().copied().zip(&lines).collect();
    let failed_line = by_row[&3];
    assert_eq!(failed_line["status"], "failed");
    assert_eq!(failed_line["error_code"], "131026");
    assert_eq!(failed_line["error"], "message undeliverable");
    assert_eq!(failed_line["attempts"], "1");
    assert_eq!(failed_line["provider_id"], "");
    let sent_line = by_row[&2501];
    assert_eq!(sent_line["to"], number(2501)[1..]);
    assert_eq!(sent_line["status"], "sent");
    assert_eq!(sent_line["provider_id"], "90002501");
    assert_eq!(sent_line["price"].parse::<f64>().unwrap(), PRICE);
    assert!(!sent_line["sent_at"].is_empty());
    // Sent at its send time, not ahead of it: seven holds nothing.
    assert_eq!(sent_line["provider_scheduled_at"], "");
    let hash = env.message("big", 2501).await;
    assert_eq!(sent_line["updated_at"], hash["updated_at"]);
    assert_eq!(sent_line["worker"], "test-worker");
}

#[tokio::test]
async fn report_filters_by_status_and_writes_its_file_whole() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let id = enqueue(&env, "filtered", 6, &[]);
    finish(&queue, 100, |row| match row {
        2 => failed("1", "bad"),
        5 => Terminal::Unknown {
            reason: "timeout".into(),
        },
        _ => sent(row),
    })
    .await;
    let file = env.dir.path().join("failures.csv");
    let out = wacast(
        &env,
        &[
            "report",
            id.as_str(),
            "--status",
            "failed,unknown",
            "--out",
            file.to_str().unwrap(),
            "--format",
            "text",
        ],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(out.stdout.is_empty(), "data goes to the file: {out:#?}");
    assert!(
        out.stderr
            .contains("wrote 2 messages of campaign filtered to"),
        "{out:#?}"
    );
    let lines = parse(&env.read(&file));
    let got: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["row"].as_str(), l["status"].as_str()))
        .collect();
    assert_eq!(got, [("2", "failed"), ("5", "unknown")]);
    assert!(!env.dir.path().join("failures.csv.partial").exists());

    // JSON lines: one object per message, numbers as numbers, absent fields as null.
    let json = wacast(&env, &["report", id.as_str(), "--status", "sent"]);
    assert_eq!(json.code, 0, "{json:#?}");
    let objects: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 4);
    assert_eq!(objects[0]["row"], 1);
    assert_eq!(objects[0]["attempts"], 1);
    assert_eq!(objects[0]["price"], PRICE);
    assert_eq!(objects[0]["error"], serde_json::Value::Null);
    assert_eq!(objects[3]["row"], 6);

    // A bad status is refused before anything is written.
    let bad = wacast(&env, &["report", id.as_str(), "--status", "done"]);
    assert_eq!(bad.code, 2, "{bad:#?}");
    assert!(bad.stderr.contains("unknown message status"), "{bad:#?}");
}
