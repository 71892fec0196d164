//! A real browser for the console's journey test: Debian's headless `chromium` driven through
//! `chromedriver` (WebDriver) with fantoccini, and screenshots of each step saved under
//! `target/console-screenshots/` (kept as CI artifacts, never compared pixel by pixel).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use wacast_tests::ChildGuard;

/// How long an element or a page state is waited for.
const PATIENCE: Duration = Duration::from_secs(20);

/// A headless chromium session, with its chromedriver.
pub(crate) struct Browser {
    pub(crate) client: Client,
    screenshots: PathBuf,
    test: String,
    n_shots: usize,
    // Dropped last: the driver ends its browsers when it is killed.
    _driver: ChildGuard,
}

/// Where screenshots go: `target/console-screenshots/`, beside the test binaries.
pub(crate) fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_mock-gateway"))
        .ancestors()
        .nth(2)
        .expect("binaries live in target/<profile>/")
        .join("console-screenshots")
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless chromium, 1280×1000.
    pub(crate) async fn start(test: &str) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // chromedriver prints one line on stdout once it listens.
        let driver = ChildGuard::spawn("chromedriver", &[format!("--port={port}")], &[])
            .expect("chromedriver starts (scripts/test.sh installs chromium-driver)");
        // Its first line comes before it listens: wait until it accepts connections.
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver does not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,1000"],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("chromedriver opens a chromium session");
        let screenshots = screenshot_dir();
        std::fs::create_dir_all(&screenshots).expect("target/ is writable");
        Browser {
            client,
            screenshots,
            test: test.to_string(),
            n_shots: 0,
            _driver: driver,
        }
    }

    /// Saves a screenshot of the page as `<test>-<n>-<step>.png` and returns its path.
    pub(crate) async fn screenshot(&mut self, step: &str) -> PathBuf {
        self.n_shots += 1;
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self
            .screenshots
            .join(format!("{}-{:02}-{step}.png", self.test, self.n_shots));
        std::fs::write(&path, png).expect("target/ is writable");
        path
    }

    /// The element `css` once it is on the page.
    pub(crate) async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    /// The visible text of `css`.
    pub(crate) async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .expect("an element's text")
    }

    /// Waits until `check` holds for the page's visible text (the whole body); returns it.
    pub(crate) async fn wait_for_text(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // A page being replaced (a form sent, a redirect) leaves a stale body: try again.
            let text = match self.client.find(Locator::Css("body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if check(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {what}; the page says:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the browser session.
    pub(crate) async fn close(self) {
        let _ = self.client.close().await;
    }
}
