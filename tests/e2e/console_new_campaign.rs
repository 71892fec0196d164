//! The console's new campaign page over HTTP, against a real `wacast serve` and a real Redis:
//! the upload as a browser's form posts it (multipart, the CSRF token in the action), its size
//! cap, the dry run's rejects with their line numbers, escaping, who may upload, the template's
//! parameters chosen among the file's columns, and enqueues (seven's, and Bird's sent by a
//! worker to the mock gateway) that end with the campaign in Redis.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use wacast_shared::campaign::{CampaignId, CampaignState, ProviderKind};
use wacast_shared::queue::CampaignRecord;
use wacast_shared::testing::TestRedis;

use crate::console_support::{ConsoleClient, ConsoleServer, OPERATOR_TOKEN, VIEWER_TOKEN};
use crate::support::{
    BIRD_CHANNEL, BIRD_WORKSPACE, SENDER, gateway_stats, spawn_gateway, spawn_worker, wait_for,
};

const TEMPLATES: &str = r#"
[[templates]]
name = "order_confirmation"
language = "de"
body = 2
buttons = 1

[[templates]]
name = "shipping_update"
language = "en"
body = 1
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

/// Uploads `csv` with the typed template fields and returns the dry run page's address and
/// HTML.
async fn upload(console: &ConsoleServer, session: &ConsoleClient, csv: &str) -> (String, String) {
    upload_with(console, session, &template_fields(), csv).await
}

/// Uploads `csv` with `fields` and returns the page it leads to: its address and HTML.
async fn upload_with(
    console: &ConsoleServer,
    session: &ConsoleClient,
    fields: &[(&str, &str)],
    csv: &str,
) -> (String, String) {
    let answer = post_upload(
        console,
        session,
        Some(&session.csrf),
        fields,
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
    assert!(page.contains("<code>invalid_phone</code> (1)"), "{page}");
    assert!(page.contains(r#"<td class="num">3</td>"#), "{page}");
    assert!(page.contains("<code>duplicate</code> (1)"), "{page}");
    assert!(page.contains(r#"<td class="num">5</td>"#), "{page}");
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
    let (state, record) = enqueued(&redis, &session, &progress).await;
    assert_eq!(state["enqueued"], 50);
    // The progress page now leads to the campaign's page.
    let answer = session.get_raw(&progress).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        answer.headers()["location"],
        format!("/campaigns/{}", record.campaign.id).as_str()
    );
    assert_eq!(record.counters.total, 50, "{record:#?}");
}

/// The `<select>` named `name` in a page, up to its end.
fn select<'a>(page: &'a str, name: &str) -> &'a str {
    let start = page
        .find(&format!(r#"<select id="{name}" name="{name}">"#))
        .unwrap_or_else(|| panic!("no select {name}: {page}"));
    let end = page[start..].find("</select>").expect("a select ends") + start;
    &page[start..end]
}

/// The provider's request body of the dry run's first message, as the page shows it (pretty
/// JSON, HTML-escaped quotes).
fn first_message(page: &str) -> Value {
    let start = page.find(r#"<pre class="message">"#).expect("a preview") + 21;
    let end = page[start..].find("</pre>").unwrap() + start;
    let preview: Value = serde_json::from_str(&page[start..end].replace("&quot;", "\""))
        .expect("the preview is JSON");
    preview["body"].clone()
}

/// Posts the options form of the dry run page at `location` (`Check again`) with `fields`, and
/// returns the page it leads to.
async fn check(session: &ConsoleClient, location: &str, fields: &[(&str, &str)]) -> String {
    let (status, next) = session.post(&format!("{location}/check"), fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{next}");
    assert_eq!(next, location);
    let (status, page) = session.get(location).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_s_parameters_are_chosen_among_the_file_s_columns() {
    let redis = TestRedis::shared().await;
    let (console, _dir) = start(&redis, &[]);
    let session = console.login(OPERATOR_TOKEN).await;
    // The upload form cannot know the file's columns yet: it asks for none.
    let (_, form) = session.get("/campaigns/new").await;
    assert!(!form.contains(r#"name="body""#), "{form}");
    assert!(form.contains("After the upload, choose the file"), "{form}");

    let csv = "Telefon,Vorname,Bestellung,Stadt,<script>note</script>\n\
               +4915100000001,Anna,A-1,Berlin,x\n\
               +4915100000002,Ben,A-2,Köln,y\n";
    let template = [
        ("from", SENDER),
        ("kind", "template"),
        ("template", "order_confirmation|de"),
        ("tz", "UTC"),
        ("ttl", "2880"),
    ];
    let (location, page) = upload_with(&console, &session, &template, csv).await;
    // No dry run yet: a select of the file's columns per parameter of the template, starting
    // with the columns in order, the phone column left out.
    assert!(page.contains("Choose the columns"), "{page}");
    assert!(
        page.contains("<h1>New campaign: choose the columns</h1>"),
        "{page}"
    );
    assert!(!page.contains(r#"id="dry-accepted""#), "{page}");
    for (name, label, proposed) in [
        ("body_1", "Body {{1}}", "Vorname"),
        ("body_2", "Body {{2}}", "Bestellung"),
        ("button_1", "Button 1", "Stadt"),
    ] {
        assert!(
            page.contains(&format!(r#"<label for="{name}">{label} ("#)),
            "{page}"
        );
        let options = select(&page, name);
        for column in ["Telefon", "Vorname", "Bestellung", "Stadt"] {
            assert!(
                options.contains(&format!(r#"<option value="{column}""#)),
                "{options}"
            );
        }
        assert!(
            options.contains(&format!(r#"<option value="{proposed}" selected>"#)),
            "{options}"
        );
    }
    assert!(
        !page.contains("body_3") && !page.contains("header_1"),
        "{page}"
    );
    // A column's name is text in the options, never markup.
    assert!(!page.contains("<script>note"), "{page}");
    assert!(
        select(&page, "body_1").contains("&lt;script&gt;note&lt;/script&gt;"),
        "{page}"
    );
    // The phone column is one of the file's columns too, found by its header unless chosen.
    let phone = select(&page, "phone_column");
    assert!(phone.contains(r#"<option value="" selected>"#), "{phone}");
    assert!(phone.contains(r#"<option value="Telefon">"#), "{phone}");

    // The operator's choice, not the proposal: the dry run renders it.
    let chosen = [
        &template[..],
        &[
            ("mapped_for", "order_confirmation|de"),
            ("body_1", "Bestellung"),
            ("body_2", "Vorname"),
            ("button_1", "Bestellung"),
            ("phone_column", "Telefon"),
        ],
    ]
    .concat();
    let page = check(&session, &location, &chosen).await;
    assert!(page.contains(r#"id="dry-accepted">2<"#), "{page}");
    let message = first_message(&page);
    assert_eq!(message["template"], "order_confirmation", "{message}");
    assert_eq!(
        message["components"]["body"],
        serde_json::json!(["A-1", "Anna"]),
        "{message}"
    );
    let button = message["components"]["buttons"].to_string();
    assert!(button.contains("A-1"), "{message}");
    // The page shows the choice again.
    assert!(
        select(&page, "body_1").contains(r#"<option value="Bestellung" selected>"#),
        "{page}"
    );
    assert!(
        select(&page, "phone_column").contains(r#"<option value="Telefon" selected>"#),
        "{page}"
    );

    // A select left without a column is named, as the flags' checks name theirs.
    let left = [
        &template[..],
        &[
            ("mapped_for", "order_confirmation|de"),
            ("body_1", "Bestellung"),
            ("body_2", ""),
            ("button_1", "Bestellung"),
        ],
    ]
    .concat();
    let page = check(&session, &location, &left).await;
    assert!(
        page.contains("choose the file&#39;s column for Body {{2}}")
            || page.contains("choose the file's column for Body {{2}}"),
        "{page}"
    );

    // Another template: the columns chosen for the first are not taken for it; its own
    // selects come instead.
    let other = [
        ("from", SENDER),
        ("kind", "template"),
        ("template", "shipping_update|en"),
        ("mapped_for", "order_confirmation|de"),
        ("body_1", "Bestellung"),
        ("body_2", "Vorname"),
        ("button_1", "Bestellung"),
    ];
    let page = check(&session, &location, &other).await;
    assert!(page.contains("Choose the columns"), "{page}");
    assert!(
        select(&page, "body_1").contains(r#"<option value="Vorname" selected>"#),
        "{page}"
    );
    assert!(
        !page.contains("body_2") && !page.contains("button_1"),
        "{page}"
    );
    let (_, n_campaigns) = redis.queue().await.campaign_ids(Some(1)).await.unwrap();
    assert_eq!(n_campaigns, 0, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_templates_file_the_columns_are_typed_as_the_flags_take_them() {
    let redis = TestRedis::shared().await;
    let console = ConsoleServer::start(&redis, &[]);
    let session = console.login(OPERATOR_TOKEN).await;
    let (_, form) = session.get("/campaigns/new").await;
    assert!(form.contains(r#"name="body""#), "{form}");
    let csv = "phone,name,order_id\n+4915100000001,Anna,A-1\n";
    let (_, page) = upload(&console, &session, csv).await;
    assert!(page.contains(r#"id="dry-accepted">1<"#), "{page}");
    assert_eq!(
        first_message(&page)["components"]["body"],
        serde_json::json!(["Anna", "A-1"])
    );
    // The typed lists stay, with the file's columns named beside them.
    assert!(page.contains(r#"value="name,order_id""#), "{page}");
    assert!(
        page.contains("The file&#39;s columns: phone, name, order_id")
            || page.contains("The file's columns: phone, name, order_id"),
        "{page}"
    );
    assert!(!page.contains(r#"name="mapped_for""#), "{page}");
}

/// Waits for the console's enqueue behind the progress page `progress` to end; returns its
/// last progress and its campaign's record.
async fn enqueued(
    redis: &TestRedis,
    session: &ConsoleClient,
    progress: &str,
) -> (Value, CampaignRecord) {
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
    let campaign = CampaignId::parse(state["campaign"].as_str().unwrap()).unwrap();
    let record = redis.queue().await.load_campaign(&campaign).await.unwrap();
    (state, record)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bird_campaign_is_created_through_the_form_and_sent_by_a_worker() {
    let redis = TestRedis::shared().await;
    let (console, _dir) = start(&redis, &[]);
    let session = console.login(OPERATOR_TOKEN).await;
    let (_, form) = session.get("/campaigns/new").await;
    for field in [
        "provider",
        "workspace",
        "channel",
        "tags",
        "template_project",
    ] {
        assert!(form.contains(&format!(r#"name="{field}""#)), "{form}");
    }
    let mut csv = String::from("phone,name\n");
    for i in 0..10 {
        csv.push_str(&format!("+49151{i:08},Customer {i}\n"));
    }
    let (project, _, locale) = wacast_tests::gateway::bird::templates::BUILTIN_TEXT;
    let bird = [
        ("provider", "bird"),
        ("from", SENDER),
        ("workspace", BIRD_WORKSPACE),
        ("channel", BIRD_CHANNEL),
        ("tags", "VIP"),
        ("kind", "template"),
        // seven's template select posts its value too: Bird does not use it.
        ("template", "order_confirmation|de"),
        ("template_project", project),
        ("template_version", "latest"),
        ("locale", locale),
        ("params", "name=name"),
        ("tz", "UTC"),
        ("ttl", "2880"),
    ];
    let (location, page) = upload_with(&console, &session, &bird, &csv).await;
    assert!(page.contains(r#"id="dry-accepted">10<"#), "{page}");
    // The preview is Bird's send request, the variable filled from the row.
    let message = first_message(&page);
    assert_eq!(message["template"]["projectId"], project, "{message}");
    assert_eq!(
        message["template"]["parameters"][0]["value"], "Customer 0",
        "{message}"
    );
    // The form shows Bird chosen, with its fields as typed.
    assert!(
        page.contains(r#"id="provider-bird" type="radio" name="provider" value="bird" checked"#),
        "{page}"
    );
    assert!(
        page.contains(&format!(r#"value="{BIRD_CHANNEL}""#)),
        "{page}"
    );

    let (status, progress) = session.post(&format!("{location}/enqueue"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{progress}");
    let (_, record) = enqueued(&redis, &session, &progress).await;
    assert_eq!(record.campaign.provider, ProviderKind::Bird);
    let target = record
        .campaign
        .bird
        .clone()
        .expect("a Bird campaign keeps its target");
    assert_eq!(target.workspace_id, BIRD_WORKSPACE);
    assert_eq!(target.channel_id, BIRD_CHANNEL);
    assert_eq!(target.tags, ["vip"]);
    assert_eq!(record.counters.total, 10);

    // A worker sends it to the mock's Bird API.
    let gateway = spawn_gateway(&[]);
    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    let record = wait_for(
        &redis.queue().await,
        &record.campaign.id,
        Duration::from_secs(60),
        "completed",
        |r| r.state == CampaignState::Completed,
    )
    .await;
    assert_eq!(record.counters.sent, 10);
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["bird"]["accepted"], 10, "{stats}");
    assert_eq!(stats["requests"]["messages"], 0, "nothing went to seven");
}
