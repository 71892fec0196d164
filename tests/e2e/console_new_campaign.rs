//! The console's new campaign page over HTTP, against a real `wacast serve` and a real Redis:
//! the upload as a browser's form posts it (multipart, the CSRF token in the action), its size
//! cap, the dry run's rejects with their line numbers, escaping, who may upload, and an
//! enqueue that ends with the campaign in Redis.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use wacast_shared::campaign::CampaignId;
use wacast_shared::testing::TestRedis;

use crate::console_support::{ConsoleClient, ConsoleServer, OPERATOR_TOKEN, VIEWER_TOKEN};

const TEMPLATES: &str = r#"
[[templates]]
name = "order_confirmation"
language = "de"
body = 2
buttons = 1
"#;

/// The form's fields for the seed's `order_confirmation` template, as the page's form sends
/// them.
fn template_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("from", "4915112345678"),
        ("kind", "template"),
        ("template", "order_confirmation|de"),
        ("body", "name,order_id"),
        ("button", "order_id"),
        ("tz", "UTC"),
        ("ttl", "2880"),
    ]
}

/// A multipart body as a browser builds it: the fields, then the file last.
fn multipart(fields: &[(&str, &str)], csv: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----wacastTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csv\"; filename=\"list.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(csv);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts the upload form with `csrf` in its action (as the page writes it); returns the answer.
async fn post_upload(
    console: &ConsoleServer,
    session: &ConsoleClient,
    csrf: Option<&str>,
    fields: &[(&str, &str)],
    csv: &[u8],
) -> reqwest::Response {
    let (content_type, body) = multipart(fields, csv);
    let query = csrf
        .map(|token| format!("?csrf={token}"))
        .unwrap_or_default();
    let mut request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/campaigns/new{query}", console.url))
        .header("content-type", content_type)
        .body(body);
    if let Some(cookie) = &session.cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.expect("the console answers")
}

/// Uploads `csv` and returns the dry run page's address and HTML.
async fn upload(console: &ConsoleServer, session: &ConsoleClient, csv: &str) -> (String, String) {
    let answer = post_upload(
        console,
        session,
        Some(&session.csrf),
        &template_fields(),
        csv.as_bytes(),
    )
    .await;
    let status = answer.status();
    let location = answer
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let Some(location) = location else {
        panic!(
            "the upload answered {status}: {}",
            answer.text().await.unwrap()
        );
    };
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, page) = session.get(&location).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    (location, page)
}

/// The console with the templates file, plus `extra` flags; the directory holds the file.
fn start(redis: &TestRedis, extra: &[&str]) -> (ConsoleServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates.toml");
    std::fs::write(&templates, TEMPLATES).unwrap();
    let mut args = vec!["--templates", templates.to_str().unwrap()];
    args.extend_from_slice(extra);
    (ConsoleServer::start(redis, &args), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_lists_rejected_rows_by_reason_with_line_numbers_and_writes_nothing() {
    let redis = TestRedis::shared().await;
    let (console, _dir) = start(&redis, &[]);
    let session = console.login(OPERATOR_TOKEN).await;
    let csv = "phone,name,order_id\n\
               +4915100000001,Anna,A-1\n\
               12,Ben,A-2\n\
               +4915100000003,Clara,A-3\n\
               +4915100000001,Anna again,A-4\n\
               +4915100000005,<script>alert(1)</script>,A-5\n";
    let (_, page) = upload(&console, &session, csv).await;
    assert!(page.contains(r#"id="dry-rows">5<"#), "{page}");
    assert!(page.contains(r#"id="dry-accepted">3<"#), "{page}");
    assert!(page.contains(r#"id="dry-rejected">2<"#), "{page}");
    // Grouped by reason, each row with its line in the file (the header is line 1).
    assert!(page.contains("invalid_phone (1)"), "{page}");
    assert!(page.contains("<td>3</td>"), "{page}");
    assert!(page.contains("duplicate (1)"), "{page}");
    assert!(page.contains("<td>5</td>"), "{page}");
    // The CSV's value is shown as text in the preview, never as markup.
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || page.contains("\\u003cscript"),
        "{page}"
    );
    // Nothing was written: no campaign exists.
    let (_, n_campaigns) = redis.queue().await.campaign_ids(Some(1)).await.unwrap();
    assert_eq!(n_campaigns, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_cap_is_refused_and_kept_nowhere() {
    let redis = TestRedis::shared().await;
    let (console, _dir) = start(&redis, &["--max-upload", "1"]);
    let session = console.login(OPERATOR_TOKEN).await;
    // 1.1 MB: over the cap of 1 MB.
    let mut csv = String::from("phone,name,order_id\n");
    for i in 0..30_000 {
        csv.push_str(&format!("+49151{i:08},Customer {i},ORD-{i}\n"));
    }
    let answer = post_upload(
        &console,
        &session,
        Some(&session.csrf),
        &template_fields(),
        csv.as_bytes(),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let page = answer.text().await.unwrap();
    assert!(page.contains("larger than this console accepts"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_cannot_upload_and_a_post_without_csrf_is_refused() {
    let redis = TestRedis::shared().await;
    let (console, _dir) = start(&redis, &[]);
    let csv = b"phone,name,order_id\n+4915100000001,Anna,A-1\n";
    let viewer = console.login(VIEWER_TOKEN).await;
    let (status, _) = viewer.get("/campaigns/new").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let answer = post_upload(
        &console,
        &viewer,
        Some(&viewer.csrf),
        &template_fields(),
        csv,
    )
    .await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let operator = console.login(OPERATOR_TOKEN).await;
    let answer = post_upload(&console, &operator, None, &template_fields(), csv).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let answer = post_upload(
        &console,
        &operator,
        Some("not-the-token"),
        &template_fields(),
        csv,
    )
    .await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let (_, n_campaigns) = redis.queue().await.campaign_ids(Some(1)).await.unwrap();
    assert_eq!(n_campaigns, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_runs_in_the_background_and_ends_on_the_campaign_page() {
    let redis = TestRedis::shared().await;
    let (console, _dir) = start(&redis, &[]);
    let session = console.login(OPERATOR_TOKEN).await;
    let mut csv = String::from("phone,name,order_id\n");
    for i in 0..50 {
        csv.push_str(&format!("+49151{i:08},Customer {i},ORD-{i}\n"));
    }
    let (location, page) = upload(&console, &session, &csv).await;
    assert!(page.contains(r#"id="dry-accepted">50<"#), "{page}");
    let (status, progress) = session.post(&format!("{location}/enqueue"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{progress}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let state: Value = loop {
        let (_, body) = session.get(&format!("{progress}.json")).await;
        let state: Value = serde_json::from_str(&body).expect("progress is JSON");
        if state["state"] != "running" {
            break state;
        }
        assert!(
            Instant::now() < deadline,
            "the enqueue did not end: {state}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(state["state"], "done", "{state}");
    assert_eq!(state["enqueued"], 50);
    let campaign = state["campaign"].as_str().unwrap();
    // The progress page now leads to the campaign's page.
    let answer = session.get_raw(&progress).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        answer.headers()["location"],
        format!("/campaigns/{campaign}").as_str()
    );
    let record = redis
        .queue()
        .await
        .load_campaign(&CampaignId::parse(campaign).unwrap())
        .await
        .unwrap();
    assert_eq!(record.counters.total, 50, "{record:#?}");
}
