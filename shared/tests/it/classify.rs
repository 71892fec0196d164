//! The classification table both clients are checked against: each case a server's behaviour
//! (an answer, a refused or stalled connect, a peer that reads the request and hangs up) and
//! the outcome it must come to. `provider.rs` and `bird.rs` give their own answers; the cases of
//! the transport, where no answer comes, are the same check for both and are written once here.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use wacast_shared::provider::outcome::Outcome;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// What a case of the classification table expects.
#[derive(Debug)]
pub(crate) enum Want<T> {
    /// `Done` with exactly this.
    Done(T),
    /// `Retry` with `after` within this many whole seconds (`None`: no `after`).
    Retry(Option<(u64, u64)>),
    Failed(&'static str),
    Halt,
    Unknown,
}

/// How a case's server behaves.
pub(crate) enum Setup {
    /// wiremock answers with this.
    Respond(ResponseTemplate),
    /// Nothing listens on the port.
    Refused,
    /// A listener whose accept queue is full: the SYN is dropped, connect never completes.
    FullBacklog,
    /// A server that reads the whole request and closes without answering.
    CloseAfterRequest,
}

pub(crate) struct Case<T> {
    name: &'static str,
    setup: Setup,
    want: Want<T>,
    reason_has: &'static [&'static str],
}

pub(crate) fn case<T>(
    name: &'static str,
    setup: Setup,
    want: Want<T>,
    reason_has: &'static [&'static str],
) -> Case<T> {
    Case {
        name,
        setup,
        want,
        reason_has,
    }
}

/// wiremock answers `status` with `json`.
pub(crate) fn answer(status: u16, json: Value) -> Setup {
    Setup::Respond(ResponseTemplate::new(status).set_body_json(json))
}

/// An HTTP-date `in_secs` from now, for `Retry-After`.
pub(crate) fn http_date(in_secs: u64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(in_secs as i64))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// The cases where no answer comes, the same for every provider: `accepted` is the provider's
/// acceptance, which comes too late.
pub(crate) fn transport_cases<T>(accepted: ResponseTemplate) -> Vec<Case<T>> {
    vec![
        case(
            "no answer in time after the request was written",
            Setup::Respond(accepted.set_delay(Duration::from_secs(3))),
            Want::Unknown,
            &["no answer in time"],
        ),
        case(
            "connection refused",
            Setup::Refused,
            Want::Retry(None),
            &["could not connect", "nothing was sent"],
        ),
        case(
            "connect timeout",
            Setup::FullBacklog,
            Want::Retry(None),
            &["could not connect"],
        ),
        case(
            "connection closed after the request was read",
            Setup::CloseAfterRequest,
            Want::Unknown,
            &["may have been accepted"],
        ),
    ]
}

/// Where and how a client posts, for the mock to expect it.
pub(crate) struct Endpoint<'a> {
    /// The path below the base URL that requests are posted to.
    pub(crate) path: &'a str,
    /// The header that carries the key, and its value.
    pub(crate) key_header: (&'a str, &'a str),
    /// The key, which no reason may contain.
    pub(crate) key: &'a str,
    /// How the body of the request sent ends, as the peer that hangs up reads it.
    pub(crate) body_ends: &'a str,
}

/// Runs every case against a client made by `client(base_url, timeout, connect_timeout)`,
/// sending with `send`, and checks the outcome, its reason and that the key never leaks.
pub(crate) async fn check_every_answer<C, T: PartialEq + Debug>(
    endpoint: &Endpoint<'_>,
    cases: Vec<Case<T>>,
    client: impl Fn(&str, Duration, Duration) -> C,
    send: impl AsyncFn(&C) -> Outcome<T>,
) {
    let server = MockServer::start().await;
    let request_timeout = Duration::from_millis(800);
    let connect_timeout = Duration::from_millis(300);
    for (i, case) in cases.into_iter().enumerate() {
        let name = case.name;
        // Each wiremock case gets its own path prefix, which also checks that a base URL's
        // path is kept.
        let (base_url, guard) = match case.setup {
            Setup::Respond(template) => {
                let (key_name, key_value) = endpoint.key_header;
                Mock::given(method("POST"))
                    .and(path(format!("/case{i}{}", endpoint.path)))
                    .and(header(key_name, key_value))
                    .respond_with(template)
                    .expect(1)
                    .named(name)
                    .mount(&server)
                    .await;
                (format!("{}/case{i}", server.uri()), None)
            }
            Setup::Refused => {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                drop(listener);
                (format!("http://{addr}"), None)
            }
            Setup::FullBacklog => {
                let (url, guard) = full_backlog().await;
                (url, Some(guard))
            }
            Setup::CloseAfterRequest => {
                let (url, guard) = close_after_request().await;
                (url, Some(guard))
            }
        };
        let client = client(&base_url, request_timeout, connect_timeout);
        let started = Instant::now();
        let outcome = send(&client).await;
        let elapsed = started.elapsed();

        let reason = match (&case.want, &outcome) {
            (Want::Done(want), Outcome::Done(got)) => {
                assert_eq!(got, want, "{name}");
                String::new()
            }
            (Want::Retry(expect), Outcome::Retry { after, reason })
            | (Want::Retry(expect), Outcome::RateLimited { after, reason }) => {
                match (expect, after) {
                    (None, None) => {}
                    (Some((lo, hi)), Some(after)) => assert!(
                        (*lo..=*hi).contains(&after.as_secs()),
                        "{name}: after {after:?}, want {lo}..={hi} s"
                    ),
                    _ => panic!("{name}: after {after:?}, want {expect:?}"),
                }
                reason.clone()
            }
            (Want::Failed(want), Outcome::Failed { code, reason }) => {
                assert_eq!(code, want, "{name}");
                reason.clone()
            }
            (Want::Halt, Outcome::Halt { reason, .. })
            | (Want::Unknown, Outcome::Unknown { reason }) => reason.clone(),
            (want, got) => panic!("{name}: want {want:?}, got {got:?}"),
        };
        for part in case.reason_has {
            assert!(reason.contains(part), "{name}: {reason:?} lacks {part:?}");
        }
        assert!(
            !reason.contains(endpoint.key),
            "{name}: the key leaked into {reason:?}"
        );
        match guard {
            Some(Guard::Task(task)) => {
                // The peer really did get the whole request: this is the ambiguous case.
                let request = String::from_utf8(task.await.unwrap()).unwrap();
                assert!(request.ends_with(endpoint.body_ends), "{name}: {request:?}");
            }
            Some(Guard::Backlog(_)) => {
                assert!(
                    elapsed < request_timeout,
                    "{name}: took {elapsed:?}, so the total timeout fired, not the connect timeout"
                );
            }
            None => {}
        }
    }
    server.verify().await;
}

/// Things a case keeps alive until its request is done.
enum Guard {
    /// The full listener and the connection that fills its queue, held only to stay open.
    Backlog(#[allow(dead_code)] (TcpListener, Vec<TcpStream>)),
    /// The server task, which returns the request it read.
    Task(tokio::task::JoinHandle<Vec<u8>>),
}

/// A listener with backlog 0 and one connection waiting in its accept queue: Linux drops
/// further SYNs, so connecting hangs until the client's connect timeout, exactly like an
/// unreachable host, without leaving this machine.
async fn full_backlog() -> (String, Guard) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut streams = Vec::new();
    // Fill the queue until a connect stalls: that is the state the case needs.
    loop {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(stream) => streams.push(stream.unwrap()),
            Err(_) => break,
        }
        assert!(streams.len() < 8, "the accept queue never filled up");
    }
    // The listener must stay open, or connects would be refused instead.
    (
        format!("http://{addr}"),
        Guard::Backlog((listener, streams)),
    )
}

/// A server that reads one request (headers and `Content-Length` body) and closes the
/// connection without a word; the task returns what it read.
async fn close_after_request() -> (String, Guard) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if request.len() >= end + 4 + length {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        stream.shutdown().await.unwrap();
        request
    });
    (format!("http://{addr}"), Guard::Task(task))
}
