//! A `wacast serve` process for the console's tests (the HTTP tests here, the browser test),
//! and a logged-in HTTP client that carries the session cookie and the CSRF token the way a
//! browser does.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use wacast_shared::testing::TestRedis;
use wacast_tests::ChildGuard;

use crate::support::bin;

/// The operator token the fixture configures.
pub(crate) const OPERATOR_TOKEN: &str = "operator-token-0123456789";
/// The viewer token the fixture configures.
pub(crate) const VIEWER_TOKEN: &str = "viewer-token-0123456789";

/// A running console on a free loopback port, stopped when dropped.
pub(crate) struct ConsoleServer {
    pub(crate) url: String,
    pub(crate) process: ChildGuard,
}

impl ConsoleServer {
    /// `wacast serve` on Redis with the operator and viewer tokens, plus `extra` flags.
    pub(crate) fn start(redis: &TestRedis, extra: &[&str]) -> ConsoleServer {
        let mut command = serve_command(redis, &["--listen", "127.0.0.1:0"]);
        command
            .env("WACAST_CONSOLE_TOKEN", OPERATOR_TOKEN)
            .env("WACAST_CONSOLE_VIEWER_TOKEN", VIEWER_TOKEN)
            .args(extra);
        let process = ChildGuard::spawn_command(command, Duration::from_secs(20))
            .expect("wacast serve starts and prints its address");
        let url = process
            .first_line()
            .rsplit_once(' ')
            .map(|(_, url)| url.trim().to_string())
            .expect("the first line ends with the console's URL");
        ConsoleServer { url, process }
    }

    /// A client logged in with `token`.
    pub(crate) async fn login(&self, token: &str) -> ConsoleClient {
        let client = ConsoleClient::anonymous(&self.url);
        let response = client
            .post_raw("/login", &[("token", token), ("next", "/")])
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "login answers a redirect"
        );
        let cookie = session_cookie(response.headers()).expect("a login sets the session cookie");
        let mut client = ConsoleClient {
            cookie: Some(cookie),
            ..client
        };
        let (status, page) = client.get("/").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        client.csrf = hidden_value(&page, "csrf").expect("a page holds the CSRF token");
        client
    }
}

/// `wacast serve` against the test's Redis with `args`, nothing of the test process's own
/// configuration.
pub(crate) fn serve_command(redis: &TestRedis, args: &[&str]) -> Command {
    let mut command = Command::new(bin("wacast"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("WACAST_") || key == "CREDENTIALS_DIRECTORY" {
            command.env_remove(key.as_ref());
        }
    }
    command
        .args([
            "--redis-url",
            &redis.url,
            "--prefix",
            &redis.prefix,
            "serve",
        ])
        .args(args);
    command
}

/// The `wacast_session=…` pair of a response's `Set-Cookie`, as a browser sends it back.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("wacast_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

/// The value of the first hidden input named `name` in a page.
pub(crate) fn hidden_value(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_string())
}

/// A browser-like client: no redirects followed (tests look at them), the session cookie and
/// CSRF token of its login.
pub(crate) struct ConsoleClient {
    base: String,
    http: reqwest::Client,
    pub(crate) cookie: Option<String>,
    pub(crate) csrf: String,
}

impl ConsoleClient {
    pub(crate) fn anonymous(base: &str) -> ConsoleClient {
        ConsoleClient {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .expect("a client builds"),
            cookie: None,
            csrf: String::new(),
        }
    }

    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(cookie) => request.header(COOKIE, cookie),
            None => request,
        }
    }

    /// GET `path`: its status and body.
    pub(crate) async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self.get_raw(path).await;
        let status = response.status();
        (status, response.text().await.expect("a body"))
    }

    pub(crate) async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.with_cookie(self.http.get(format!("{}{path}", self.base)))
            .send()
            .await
            .expect("the console answers")
    }

    /// POST a form to `path` with the session's CSRF token added: its status and `Location`.
    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let mut fields = form.to_vec();
        fields.push(("csrf", &self.csrf));
        let response = self.post_raw(path, &fields).await;
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.text().await.unwrap_or_default();
        (status, location.unwrap_or(body))
    }

    /// POST a form to `path` exactly as given.
    pub(crate) async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.with_cookie(self.http.post(format!("{}{path}", self.base)))
            .form(form)
            .send()
            .await
            .expect("the console answers")
    }
}
