//! `ingest` without the command line: a request built by hand, a CSV from an in-memory reader,
//! a real Redis; and the dry run through the same API.

use std::collections::BTreeMap;
use std::io::Cursor;

use wacast_producer::ingest::{
    self, BirdOptions, ContentRequest, DeliveryOptions, Event, IngestRequest, InputOptions,
    Progress, Reason, Source,
};
use wacast_shared::campaign::{CampaignId, ProviderKind};
use wacast_shared::testing::counters_match_messages;

use crate::support::{Env, FROM, to_and_values};

/// Valid rows, enough for three chunks of the pump (1,000 rows each).
const ROWS: usize = 2500;

/// A freetext campaign to `phone,name` rows, with its id given.
fn request(env: &Env, id: &str) -> IngestRequest {
    IngestRequest {
        from: FROM.to_string(),
        provider: ProviderKind::Seven,
        content: ContentRequest {
            text: Some("Hello {{name}}".to_string()),
            template_version: "latest".to_string(),
            ..ContentRequest::default()
        },
        bird: BirdOptions::default(),
        input: InputOptions::default(),
        delivery: DeliveryOptions {
            delay: None,
            tz: chrono_tz::UTC,
            ttl: 2880,
            label: None,
            performance_tracking: false,
            handoff_ahead: 0,
            only_open_window: false,
            window: None,
            window_tz: None,
            id: Some(id.to_string()),
        },
        rejects_file: env.dir.path().join(format!("{id}.rejects.csv")),
    }
}

/// `ROWS` good rows, then an invalid number and a duplicate of the first row.
fn csv() -> Vec<u8> {
    let mut text = String::from("phone,name\n");
    for i in 0..ROWS {
        text.push_str(&format!("+49151{:08},Name {i}\n", 30_000_000 + i));
    }
    text.push_str("not a number,Nobody\n");
    text.push_str("+4915130000000,Again\n");
    text.into_bytes()
}

#[tokio::test]
async fn ingest_streams_an_in_memory_csv_into_redis_and_reports_progress() {
    let env = Env::new().await;
    let queue = env.redis.queue().await;
    let request = request(&env, "from-memory");
    let bytes = csv();
    let size = bytes.len() as u64;
    let mut progress: Vec<Progress> = Vec::new();
    let report = ingest::run(
        Some(&queue),
        &request,
        Source::reader("upload.csv", Cursor::new(bytes)),
        |event| match event {
            Event::Progress(p) => progress.push(p),
            Event::Warning(text) => panic!("no warning expected: {text}"),
        },
    )
    .await
    .expect("the upload is ingested");

    // Progress: once at the start, then after every chunk, with increasing counts.
    assert!(progress.len() >= 4, "{progress:#?}");
    assert_eq!((progress[0].rows, progress[0].bytes), (0, 0));
    for pair in progress.windows(2) {
        assert!(pair[1].rows > pair[0].rows, "{pair:?}");
        assert!(pair[1].enqueued >= pair[0].enqueued, "{pair:?}");
        assert!(pair[1].bytes > pair[0].bytes, "{pair:?}");
    }
    let last = progress.last().unwrap();
    assert_eq!(
        (last.rows, last.enqueued, last.rejected, last.total_bytes),
        (ROWS as u64 + 2, ROWS as u64, 2, size)
    );

    // The report: rows, enqueued, and the rejects by reason.
    assert!(!report.interrupted);
    let summary = &report.summary;
    assert_eq!(summary.campaign.as_str(), "from-memory");
    assert!(!summary.dry_run && !summary.resumed);
    assert_eq!(
        (summary.rows, summary.enqueued, summary.already_enqueued),
        (ROWS as u64 + 2, ROWS as u64, 0)
    );
    assert_eq!(
        summary.rejected,
        BTreeMap::from([(Reason::InvalidPhone, 1), (Reason::Duplicate, 1)])
    );
    let rejects = env.read(&request.rejects_file);
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines.len(), 3, "{rejects}");
    assert_eq!(lines[0], "line,reason,phone,name");
    assert!(lines[1].starts_with(&format!("{},", ROWS + 2)), "{rejects}");
    assert!(lines[2].starts_with(&format!("{},", ROWS + 3)), "{rejects}");
    // The campaign keeps them by reason, for the console's campaign page.
    let kept = queue
        .upload_rejects(&CampaignId::parse("from-memory").unwrap())
        .await
        .unwrap();
    let kept: Vec<(&str, u64, Vec<u64>)> = kept
        .iter()
        .map(|s| {
            (
                s.code.as_str(),
                s.count,
                s.rows.iter().map(|r| r.line).collect(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            ("duplicate", 1, vec![ROWS as u64 + 3]),
            ("invalid_phone", 1, vec![ROWS as u64 + 2])
        ]
    );

    // The campaign hash and the messages.
    let campaign = env.campaign("from-memory").await;
    assert_eq!(campaign["ingest"], "done");
    assert_eq!(campaign["total"], ROWS.to_string());
    assert_eq!(campaign["queued"], ROWS.to_string());
    assert_eq!(campaign["rejected"], "2");
    assert_eq!(campaign["content"], r#"{"text":"Hello {{name}}"}"#);
    assert_eq!(
        to_and_values(&env.message("from-memory", 1).await),
        ["4915130000000", "Name 0"]
    );
    assert_eq!(env.n_due().await, ROWS as u64);
    counters_match_messages(&queue, &CampaignId::parse("from-memory").unwrap())
        .await
        .expect("counters equal the message hashes");
}

#[tokio::test]
async fn a_dry_run_through_ingest_previews_and_writes_nothing_to_redis() {
    let env = Env::new().await;
    let request = request(&env, "dry");
    let mut n_progress = 0;
    let report = ingest::run(
        None,
        &request,
        Source::reader("upload.csv", Cursor::new(csv())),
        |event| {
            if let Event::Progress(_) = event {
                n_progress += 1;
            }
        },
    )
    .await
    .expect("the dry run succeeds");
    assert!(n_progress >= 4);
    let summary = &report.summary;
    assert!(summary.dry_run && !summary.opt_outs_checked);
    assert_eq!(
        (summary.rows, summary.enqueued),
        (ROWS as u64 + 2, ROWS as u64)
    );
    assert_eq!(summary.preview.len(), 3);
    assert_eq!(summary.preview[0]["body"]["text"], "Hello Name 0");
    assert!(env.keys().await.is_empty(), "{:?}", env.keys().await);
}
