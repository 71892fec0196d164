//! `wacast serve`, over HTTP against a real process and a real Redis: every page and action
//! answers, logins and roles, CSRF, the login throttle, session expiry, escaping, the security
//! headers; and the per-minute counters the campaign page draws, filled by a real worker.

use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::testing::{TestRedis, counters_match_messages};

use crate::console_support::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_refuses_a_public_address_without_a_token() {
    let redis = TestRedis::shared().await;
    let output = serve_command(&redis, &["--listen", "0.0.0.0:0"])
        .output()
        .expect("wacast runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("without a token") && stderr.contains("WACAST_CONSOLE_TOKEN"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_roles_and_csrf_guard_every_action() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 5);
    let later = [&TEMPLATE[..], &["--delay", "+1h"]].concat();
    enqueue(&redis.url, &redis.prefix, &csv, "guarded", &later);
    let id = CampaignId::parse("guarded").unwrap();
    let console = ConsoleServer::start(&redis, &[]);

    // Without a session a page sends the browser to the login form; the form itself answers,
    // with the headers that keep other sites' scripts, frames and styles out.
    let anonymous = ConsoleClient::anonymous(&console.url);
    let response = anonymous.get_raw("/campaigns/guarded").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        "/login?next=%2Fcampaigns%2Fguarded"
    );
    let response = anonymous.get_raw("/login").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    // An action without a session is refused, not performed.
    let (status, _) = anonymous.post("/campaigns/guarded/pause", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A wrong token is sent back to the form with no cookie.
    let response = anonymous
        .post_raw("/login", &[("token", "not-the-token"), ("next", "/")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?failed=1")
    );
    assert_eq!(session_cookie(response.headers()), None);

    // The session cookie is HttpOnly and SameSite=Strict, and Secure behind an HTTPS proxy.
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/login", console.url))
        .header("x-forwarded-proto", "https")
        .form(&[("token", OPERATOR_TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }

    // A viewer sees the campaign but no action, and is refused one with 403.
    let viewer = console.login(VIEWER_TOKEN).await;
    let (status, page) = viewer.get("/campaigns/guarded").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("guarded") && !page.contains("Pause…"),
        "{page}"
    );
    for path in ["/campaigns/guarded/pause", "/campaigns/guarded/cancel"] {
        let (status, _) = viewer.post(path, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = viewer.get("/campaigns/guarded/confirm?action=cancel").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        queue.load_campaign(&id).await.unwrap().state,
        CampaignState::Scheduled
    );

    // An operator's POST without the CSRF token, or with another, is refused before it acts.
    let operator = console.login(OPERATOR_TOKEN).await;
    let response = operator.post_raw("/campaigns/guarded/pause", &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = operator
        .post_raw(
            "/campaigns/guarded/pause",
            &[("csrf", viewer.csrf.as_str())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        queue.load_campaign(&id).await.unwrap().state,
        CampaignState::Scheduled
    );

    // With it, the confirmation names the messages and the action is done.
    let (status, page) = operator
        .get("/campaigns/guarded/confirm?action=pause")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Its 5 queued messages wait"), "{page}");
    let (status, location) = operator.post("/campaigns/guarded/pause", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.starts_with("/campaigns/guarded?done=paused"),
        "{location}"
    );
    assert_eq!(
        queue.load_campaign(&id).await.unwrap().state,
        CampaignState::Paused
    );

    // Logging out ends the session: its cookie no longer opens a page.
    let (status, _) = operator.post("/logout", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = operator.get("/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // SIGTERM stops the console gracefully: it exits 0.
    let mut console = console;
    console.process.terminate().unwrap();
    let exit = console
        .process
        .wait_timeout(Duration::from_secs(10))
        .unwrap();
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_throttled_and_sessions_expire() {
    let redis = TestRedis::shared().await;
    let console = ConsoleServer::start(&redis, &["--session-ttl", "1s"]);

    // The session expires a second after its last use.
    let operator = console.login(OPERATOR_TOKEN).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, _) = operator.get("/").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "an expired session is sent to log in"
    );

    // The fixture's login was one attempt; after the burst every attempt from this address
    // is answered 429, the right token included.
    let anonymous = ConsoleClient::anonymous(&console.url);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = anonymous
            .post_raw("/login", &[("token", "guess"), ("next", "/")])
            .await;
        statuses.push(response.status());
    }
    assert_eq!(statuses[..4], [StatusCode::SEE_OTHER; 4]);
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);
    let response = anonymous
        .post_raw("/login", &[("token", OPERATOR_TOKEN), ("next", "/")])
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Login attempts through a reverse proxy: with `--trusted-proxy`, each client behind it is
/// throttled on its own, by the last address of `X-Forwarded-For`; without it the header is
/// ignored, since anyone could send it to escape the throttle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_names_the_client_that_the_login_throttle_counts() {
    let redis = TestRedis::shared().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let attempt = |base: String, forwarded: &'static str| {
        let http = http.clone();
        async move {
            http.post(format!("{base}/login"))
                .header("x-forwarded-for", forwarded)
                .form(&[("token", "guess"), ("next", "/")])
                .send()
                .await
                .unwrap()
                .status()
        }
    };

    let proxied = ConsoleServer::start(&redis, &["--trusted-proxy", "127.0.0.1"]);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        // What the client wrote comes first; the proxy appends the address it saw.
        statuses.push(attempt(proxied.url.clone(), "10.9.9.9, 203.0.113.7").await);
    }
    assert_eq!(statuses[..5], [StatusCode::SEE_OTHER; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        attempt(proxied.url.clone(), "203.0.113.8").await,
        StatusCode::SEE_OTHER,
        "another client behind the proxy has its own attempts"
    );

    let direct = ConsoleServer::start(&redis, &[]);
    let mut statuses = Vec::new();
    for forwarded in [
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.3",
        "192.0.2.4",
        "192.0.2.5",
        "192.0.2.6",
    ] {
        statuses.push(attempt(direct.url.clone(), forwarded).await);
    }
    assert_eq!(
        statuses[5],
        StatusCode::TOO_MANY_REQUESTS,
        "an untrusted peer's header is ignored: {statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_action_answers_and_escapes_what_it_shows() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    let csv = dir.path().join("hostile.csv");
    std::fs::write(
        &csv,
        format!(
            "phone,name,order_id\n{},<script>alert(1)</script>,ORD-1\n{},Ann,ORD-2\n",
            recipient(1),
            recipient(2)
        ),
    )
    .unwrap();
    let later = [&TEMPLATE[..], &["--delay", "+1h"]].concat();
    enqueue(&redis.url, &redis.prefix, &csv, "pages", &later);
    let id = CampaignId::parse("pages").unwrap();
    // A label as nobody should write it, changed by hand in Redis.
    let _: () = redis::cmd("HSET")
        .arg(queue.keys().campaign(&id))
        .arg("label")
        .arg("<script>label()</script>")
        .query_async(&mut queue.connection())
        .await
        .unwrap();
    let console = ConsoleServer::start(&redis, &[]);
    let operator = console.login(OPERATOR_TOKEN).await;

    let pages = [
        "/",
        "/?state=scheduled&label=script",
        "/fragments/campaigns?page=1",
        "/campaigns/pages",
        "/campaigns/pages/live",
        "/campaigns/pages/confirm?action=pause",
        "/campaigns/pages/confirm?action=cancel",
        "/campaigns/pages/message?row=1",
        &format!(
            "/campaigns/pages/message?phone={}",
            recipient(1).replace('+', "%2B")
        ),
        "/campaigns/new",
        "/senders",
        "/optouts",
        "/optouts?q=%2B4915100000001",
        "/workers",
    ];
    for path in pages {
        let (status, page) = operator.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert!(
            !page.contains("<script>"),
            "{path} shows markup unescaped: {page}"
        );
    }
    let (_, list) = operator.get("/?label=script").await;
    assert!(
        list.contains("&lt;script&gt;label()&lt;/script&gt;"),
        "{list}"
    );
    let (_, message) = operator.get("/campaigns/pages/message?row=1").await;
    assert!(
        message.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{message}"
    );
    let (status, _) = operator.get("/campaigns/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The report downloads: a CSV line and a JSON line per message.
    let response = operator.get_raw("/campaigns/pages/report.csv").await;
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("row,to,status"), "{csv}");
    let (_, jsonl) = operator.get("/campaigns/pages/report.jsonl").await;
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["status"], "queued");

    // Actions: rates, opt-outs, and the campaign's own.
    let (status, _) = operator
        .post(
            "/senders/rate",
            &[
                ("provider", "seven"),
                ("sender", "+4915112345678"),
                ("rate", "7"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, senders) = operator.get("/senders").await;
    assert!(
        senders.contains("4915112345678") && senders.contains(">7/s<"),
        "{senders}"
    );
    let (status, _) = operator
        .post(
            "/senders/rate",
            &[("provider", "seven"), ("sender", "12"), ("rate", "7")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = operator
        .post(
            "/senders/rate/unset",
            &[("provider", "seven"), ("sender", "+4915112345678")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (status, location) = operator
        .post("/optouts/add", &[("number", &recipient(1))])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/optouts?done=added&n=1")
    );
    let numbers = format!("{}\n{}\n", recipient(2), recipient(3));
    let (_, location) = operator
        .post("/optouts/import", &[("numbers", &numbers)])
        .await;
    assert_eq!(location, "/optouts?done=imported&n=2");
    assert_eq!(queue.optout_count().await.unwrap(), 3);
    let (_, location) = operator
        .post("/optouts/remove", &[("number", &recipient(1))])
        .await;
    assert_eq!(location, "/optouts?done=removed&n=1");
    let (status, _) = operator
        .post("/optouts/import", &[("numbers", "+49151\nnot a number")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(queue.optout_count().await.unwrap(), 2);

    let (status, _) = operator.post("/campaigns/pages/resume", &[]).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a scheduled campaign is not paused"
    );
    let (_, location) = operator.post("/campaigns/pages/pause", &[]).await;
    assert!(
        location.starts_with("/campaigns/pages?done=paused"),
        "{location}"
    );
    let (_, location) = operator.post("/campaigns/pages/resume", &[]).await;
    assert!(
        location.starts_with("/campaigns/pages?done=resumed"),
        "{location}"
    );
    let (_, location) = operator
        .post("/campaigns/pages/retry", &[("status", "failed")])
        .await;
    assert_eq!(location, "/campaigns/pages?done=retried&n=0");
    let (_, location) = operator.post("/campaigns/pages/cancel", &[]).await;
    assert_eq!(location, "/campaigns/pages?done=cancelled&n=2");
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(
        (record.state, record.counters.cancelled),
        (CampaignState::Cancelled, 2)
    );
    counters_match_messages(&queue, &id).await.unwrap();
    let (_, page) = operator.get("/campaigns/pages?done=cancelled&n=2").await;
    assert!(
        page.contains("Cancelled: 2 messages will not be sent."),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_campaign_page_counts_sends_and_deliveries_per_minute() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 20);
    enqueue(&redis.url, &redis.prefix, &csv, "minutes", &[]);
    let id = CampaignId::parse("minutes").unwrap();
    let started = Utc::now();
    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    wait_for(&queue, &id, Duration::from_secs(60), "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;

    let minutes = queue
        .per_minute(&id, started - chrono::Duration::minutes(1), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        minutes.iter().map(|m| m.sent).sum::<u64>(),
        20,
        "{minutes:?}"
    );
    let hour = Utc::now().timestamp().div_euclid(3600);
    let ttl: i64 = redis::cmd("TTL")
        .arg(queue.keys().minutes(&id, hour))
        .query_async(&mut queue.connection())
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 90_000, "the hour's counts expire: {ttl}");

    let console = ConsoleServer::start(&redis, &[]);
    let viewer = console.login(VIEWER_TOKEN).await;
    let (status, page) = viewer.get("/campaigns/minutes").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<svg class=\"chart\"") && page.contains("<svg class=\"funnel\""),
        "{page}"
    );
    assert!(page.contains("Funnel: queued 20, sent 20"), "{page}");
    // The sample message is the provider's body, rendered from row 1.
    assert!(page.contains("Customer 0"), "{page}");
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_campaign_page_lists_the_uploads_rejects_and_keeps_its_state_current() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    // Lines 2 and 3 are good; lines 4 to 25 repeat line 2's number; line 26 has no number.
    let csv = dir.path().join("rejects.csv");
    let mut text = String::from("phone,name,order_id\n");
    for i in 1..=2 {
        text.push_str(&format!("{},Customer {i},ORD-{i}\n", recipient(i)));
    }
    for _ in 4..=25 {
        text.push_str(&format!("{},Again,ORD-1\n", recipient(1)));
    }
    text.push_str("12,Nobody,ORD-X\n");
    std::fs::write(&csv, text).unwrap();
    let output = Command::new(bin("wacast"))
        .args([
            "enqueue",
            "--redis-url",
            &redis.url,
            "--prefix",
            &redis.prefix,
        ])
        .arg("--csv")
        .arg(&csv)
        .args(["--from", SENDER, "--id", "rejects", "--delay", "+1h"])
        .args(TEMPLATE)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "rows rejected: {output:?}");
    let id = CampaignId::parse("rejects").unwrap();
    let console = ConsoleServer::start(&redis, &[]);
    let operator = console.login(OPERATOR_TOKEN).await;

    // Per reason: its code, count and hint, and its first rows by line, numbers masked.
    let (status, page) = operator.get("/campaigns/rejects").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let start = page
        .find("<section id=\"rejects\"")
        .expect("a rejects section");
    let rejects = &page[start..start + page[start..].find("</section>").unwrap()];
    for part in [
        "23 of the file's rows",
        "<code>duplicate</code> (22)",
        "<code>invalid_phone</code> (1)",
        "hint: write numbers with their country code",
        "<td class=\"num\">26</td>",
        "<td class=\"num\">4</td>",
        "<td class=\"num\">23</td>",
        "number +*********0001 is on an earlier row too",
        "… and 2 more.",
    ] {
        assert!(rejects.contains(part), "{part:?} is not in {rejects}");
    }
    assert!(
        !rejects.contains(">24<") && !rejects.contains(&recipient(1)[1..]),
        "{rejects}"
    );
    assert!(
        rejects.find("duplicate") < rejects.find("invalid_phone"),
        "the most frequent reason first: {rejects}"
    );

    // The state, its reason and the actions are in the refreshed fragment, as they are now.
    let (_, live) = operator.get("/campaigns/rejects/live").await;
    assert!(live.contains("state-scheduled"), "{live}");
    assert!(
        live.contains("Pause…") && !live.contains("Resume…"),
        "{live}"
    );
    queue
        .pause(&id, Some("the template was <b>rejected</b>"))
        .await
        .unwrap();
    let (_, live) = operator.get("/campaigns/rejects/live").await;
    assert!(
        live.contains("state-paused")
            && live.contains(": the template was &lt;b&gt;rejected&lt;/b&gt;"),
        "{live}"
    );
    assert!(
        live.contains("Resume…") && !live.contains("Pause…"),
        "{live}"
    );
    let viewer = console.login(VIEWER_TOKEN).await;
    let (_, live) = viewer.get("/campaigns/rejects/live").await;
    assert!(
        live.contains("state-paused") && !live.contains("Resume…"),
        "a viewer has no actions: {live}"
    );
    queue.cancel(&id).await.unwrap();
    let (_, live) = operator.get("/campaigns/rejects/live").await;
    assert!(live.contains("state-cancelled"), "{live}");
    assert!(
        !live.contains("Resume…") && !live.contains("Cancel…"),
        "{live}"
    );
}
