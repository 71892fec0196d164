//! The console in a real browser (headless chromium through chromedriver), the way an
//! operator uses it: log in, upload a CSV, read the dry run, enqueue, watch the campaign's
//! progress while a real `wacast-worker` sends to the mock gateway, pause and resume, see the
//! funnel fill from the mock's delivery callbacks, download the report. A screenshot of each
//! step goes to `target/console-screenshots/`.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::Value;
use tempfile::TempDir;
use wacast_shared::testing::TestRedis;
use wacast_tests::ChildGuard;

use crate::browser::Browser;
use crate::callbacks::{free_port, hooks, strs};
use crate::console_support::{ConsoleServer, OPERATOR_TOKEN};
use crate::support::*;

const ROWS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_takes_a_campaign_from_upload_to_report_in_a_browser() {
    let redis = TestRedis::shared().await;
    let dir = TempDir::new().unwrap();
    let templates = dir.path().join("templates.toml");
    std::fs::write(
        &templates,
        "[[templates]]\nname = \"order_confirmation\"\nlanguage = \"de\"\nbody = 2\nbuttons = 1\n",
    )
    .unwrap();
    // Twenty good rows and one without a valid number (line 22).
    let csv = write_csv(dir.path(), ROWS);
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("12,Nobody,ORD-X\n");
    std::fs::write(&csv, text).unwrap();

    let port = free_port();
    let (worker_flags, gateway_flags) = hooks(dir.path(), port);
    let gateway =
        spawn_gateway(&[&strs(&gateway_flags)[..], &["--callback-delay", "100ms"]].concat());
    let console = ConsoleServer::start(&redis, &["--templates", templates.to_str().unwrap()]);
    let mut browser = Browser::start("journey").await;
    let client = browser.client.clone();

    // Log in.
    client
        .goto(&format!("{}/login", console.url))
        .await
        .unwrap();
    browser
        .find("#token")
        .await
        .send_keys(OPERATOR_TOKEN)
        .await
        .unwrap();
    browser.screenshot("login").await;
    browser
        .find("form[action='/login'] button")
        .await
        .click()
        .await
        .unwrap();
    browser.find("nav").await;

    // Upload the CSV, then map the template's parameters to its columns.
    client
        .goto(&format!("{}/campaigns/new", console.url))
        .await
        .unwrap();
    browser.find("#from").await.send_keys(SENDER).await.unwrap();
    browser
        .find("#csv")
        .await
        .send_keys(csv.to_str().unwrap())
        .await
        .unwrap();
    browser.screenshot("new-campaign").await;
    browser
        .find("#upload button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    // The body's selects start with name and order_id; the button takes the order id too.
    browser
        .find("#button_1")
        .await
        .select_by_value("order_id")
        .await
        .unwrap();
    browser.screenshot("columns").await;
    browser
        .find("#options button[type=submit]")
        .await
        .click()
        .await
        .unwrap();

    // The dry run: counts, the rejected line, the first messages; nothing written yet.
    browser.find("#dry-run").await;
    assert_eq!(browser.text("#dry-accepted").await, ROWS.to_string());
    assert_eq!(browser.text("#dry-rejected").await, "1");
    let rejects = browser.text("#rejects").await;
    assert!(
        rejects.contains("invalid_phone") && rejects.contains("22"),
        "{rejects}"
    );
    assert!(browser.text("#preview").await.contains("Customer 0"));
    browser.screenshot("dry-run").await;
    let (_, n_campaigns) = redis.queue().await.campaign_ids(Some(1)).await.unwrap();
    assert_eq!(n_campaigns, 0, "a dry run writes nothing");

    // Enqueue: it ends on the campaign's page.
    browser.find("#enqueue button").await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/campaigns/new")
    {
        assert!(
            Instant::now() < deadline,
            "the enqueue did not end on the campaign page"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let campaign_path = client.current_url().await.unwrap().path().to_string();
    let rejects = browser.text("#rejects").await;
    assert!(
        rejects.contains("invalid_phone") && rejects.contains("22"),
        "the campaign keeps the upload's rejects: {rejects}"
    );
    browser.screenshot("enqueued").await;

    // A worker sends, five messages a second: the progress advances on the page by itself.
    let mut worker = worker_command(&redis.url, &redis.prefix, &gateway.url(), Keys::BOTH);
    worker
        .args(["--lease", "5s", "--default-rate", "5"])
        .args(strs(&worker_flags))
        .env("RUST_LOG", "info");
    let _worker = ChildGuard::spawn_daemon(worker).expect("wacast-worker starts");
    let first = browser
        .wait_for_text("sending to start", |t| sent(t).is_some_and(|n| n > 0))
        .await;
    let first = sent(&first).unwrap();
    browser.screenshot("sending").await;

    // Pause, then resume, through the confirmations.
    confirm_action(&mut browser, "Pause…", Some("confirm-pause")).await;
    browser
        .wait_for_text("the pause", |t| t.contains("Paused"))
        .await;
    browser.screenshot("paused").await;
    confirm_action(&mut browser, "Resume…", None).await;
    browser
        .wait_for_text("the resume", |t| t.contains("Resumed"))
        .await;

    // Every message sent and delivered, as the mock's callbacks report: the funnel fills.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        // The live part is replaced every two seconds: a stale funnel is read again.
        let funnel = match browser.find("svg.funnel").await.attr("aria-label").await {
            Ok(label) => label.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if funnel.contains(&format!("sent {ROWS}, delivered {ROWS}")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the funnel did not fill: {funnel}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let last = sent(&browser.text("body").await).unwrap();
    assert!(last > first, "progress advanced from {first} to {last}");
    // The state above the numbers refreshes with them: completed, nothing left to pause.
    browser
        .wait_for_text("the state completed", |t| {
            state(t).is_some_and(|s| s.starts_with("completed"))
        })
        .await;
    assert!(
        client.find(Locator::LinkText("Pause…")).await.is_err(),
        "a completed campaign offers no pause"
    );
    browser.screenshot("delivered").await;

    // The report, downloaded as the link does (same session): one line per message.
    let report = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0] + '/report.csv', {credentials: 'same-origin'})
               .then(r => r.text()).then(done);",
            vec![Value::from(campaign_path.clone())],
        )
        .await
        .unwrap();
    let report = report.as_str().unwrap_or_default();
    assert_eq!(report.lines().count(), ROWS + 1, "{report}");
    assert!(
        report.lines().nth(1).unwrap().contains("delivered"),
        "{report}"
    );
    browser.close().await;
}

/// The number of sent messages the page's progress line shows: `Progress: … of N messages`
/// beside the `Sent` card.
fn sent(page: &str) -> Option<u64> {
    let mut lines = page.lines();
    lines.find(|l| l.trim() == "Sent")?;
    lines.next()?.trim().parse().ok()
}

/// The state line of the campaign page, beside `State`.
fn state(page: &str) -> Option<&str> {
    let mut lines = page.lines();
    lines.find(|l| l.trim() == "State")?;
    lines.next().map(str::trim)
}

/// Follows the campaign page's action link `link` and submits its confirmation page
/// (screenshotted as `screenshot`, when given).
async fn confirm_action(browser: &mut Browser, link: &str, screenshot: Option<&str>) {
    browser
        .client
        .find(Locator::LinkText(link))
        .await
        .unwrap_or_else(|e| panic!("no {link} action: {e}"))
        .click()
        .await
        .unwrap();
    if let Some(name) = screenshot {
        browser.screenshot(name).await;
    }
    browser
        .find("main form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
}
