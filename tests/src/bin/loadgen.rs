//! `loadgen`: a keep-alive HTTP/1.1 load generator. N connections, each sending one request at a
//! time (no pipelining) for D seconds; prints `<n> req/s (...)` on one stdout line. Only the
//! given address is ever targeted, and the run is bounded in time.
//!
//! Two modes: `messages` (the default) sends valid seven template messages to `mock-gateway`;
//! `hooks` sends signed Bird `delivered` callbacks to `wacast-worker --hooks-addr` for the rows
//! `1..=--rows` of `--campaign` (in turn, starting again after the last), signed with
//! `--bird-signing-key` for the URL `--hooks-public-url` + `/hooks/bird`, the way the mock
//! gateway signs them; a request counts when answered 200.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Parser, ValueEnum};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wacast_tests::gateway::bird::DEFAULT_CHANNEL;
use wacast_tests::gateway::callbacks::payload::{self, AcceptedMessage, Event};
use wacast_tests::gateway::callbacks::sign::bird_headers;
use wacast_tests::gateway::journal::Provider;

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// seven template messages to mock-gateway.
    Messages,
    /// Signed Bird `delivered` callbacks to wacast-worker's hooks listener.
    Hooks,
}

/// Sends valid template messages to a mock gateway as fast as it answers.
#[derive(Debug, Parser)]
#[command(name = "loadgen")]
struct Args {
    /// What to send.
    #[arg(long, env = "LOADGEN_MODE", value_enum, default_value_t = Mode::Messages)]
    mode: Mode,
    /// Base URL of the gateway (or of the hooks listener), e.g. http://127.0.0.1:8080.
    #[arg(long, env = "LOADGEN_URL")]
    url: String,
    /// Concurrent keep-alive connections.
    #[arg(long, env = "LOADGEN_CONNECTIONS", default_value_t = 32)]
    connections: usize,
    /// How long to send, in seconds (at most 600).
    #[arg(long, env = "LOADGEN_DURATION", default_value_t = 5.0)]
    duration: f64,
    /// Sent as X-Api-Key.
    #[arg(long, env = "LOADGEN_API_KEY", default_value = "test-key")]
    api_key: String,
    /// Sender number.
    #[arg(long, env = "LOADGEN_FROM", default_value = "4915112345678")]
    from: String,
    /// Template name (it must take no parameters).
    #[arg(long, env = "LOADGEN_TEMPLATE", default_value = "hello_world")]
    template: String,
    /// Template language.
    #[arg(long, env = "LOADGEN_LANGUAGE", default_value = "de")]
    language: String,
    /// Recipients are this number plus a running counter, so each request has its own.
    #[arg(
        long,
        env = "LOADGEN_RECIPIENT_BASE",
        default_value_t = 4_917_600_000_000
    )]
    recipient_base: u64,
    /// Hooks: the campaign whose rows the callbacks are about.
    #[arg(long, env = "LOADGEN_CAMPAIGN", default_value = "bench")]
    campaign: String,
    /// Hooks: the rows `FIRST_ROW..FIRST_ROW + ROWS` of the campaign, in turn.
    #[arg(long, env = "LOADGEN_ROWS", default_value_t = 1000)]
    rows: u64,
    /// Hooks: the first row the callbacks are about.
    #[arg(long, env = "LOADGEN_FIRST_ROW", default_value_t = 1)]
    first_row: u64,
    /// Hooks: the Bird signing key (as the worker's --bird-signing-key-file holds it).
    #[arg(
        long,
        env = "LOADGEN_BIRD_SIGNING_KEY",
        default_value = "bench-bird-signing-key"
    )]
    bird_signing_key: String,
    /// Hooks: the public base URL the worker verifies signatures against [default: --url].
    #[arg(long, env = "LOADGEN_HOOKS_PUBLIC_URL")]
    hooks_public_url: Option<String>,
    /// Hooks: the Bird channel the callbacks name.
    #[arg(long, env = "LOADGEN_CHANNEL", default_value = DEFAULT_CHANNEL)]
    channel: String,
    /// Hooks: a file of the rows' provider message ids, one per line in row order (as Redis
    /// holds them), so that each callback names its message's real id.
    #[arg(long, env = "LOADGEN_PROVIDER_IDS")]
    provider_ids: Option<std::path::PathBuf>,
    /// The ids read from `--provider-ids`.
    #[arg(skip)]
    ids: Vec<String>,
}

#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    errors: AtomicU64,
    next_recipient: AtomicU64,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if let Some(path) = &args.provider_ids {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        args.ids = text.lines().map(str::to_owned).collect();
        if (args.ids.len() as u64) < args.first_row + args.rows - 1 {
            bail!(
                "{} holds {} ids, fewer than rows {}..={}",
                path.display(),
                args.ids.len(),
                args.first_row,
                args.first_row + args.rows - 1
            );
        }
    }
    if !(args.duration > 0.0 && args.duration <= 600.0) {
        bail!("--duration must be between 0 and 600 seconds");
    }
    if !(1..=1024).contains(&args.connections) {
        bail!("--connections must be between 1 and 1024");
    }
    if args.rows == 0 {
        bail!("--rows must be at least 1");
    }
    let host = args
        .url
        .strip_prefix("http://")
        .context("--url must start with http://")?
        .trim_end_matches('/')
        .to_owned();
    // One thread: the benchmark pins loadgen to one core and the gateway to the other.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args, host))
}

async fn run(args: Args, host: String) -> anyhow::Result<()> {
    let args = Arc::new(args);
    let counters = Arc::new(Counters::default());
    let duration = Duration::from_secs_f64(args.duration);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let args = Arc::clone(&args);
        let counters = Arc::clone(&counters);
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if let Err(err) = connection(&args, &host, &counters, deadline).await {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("loadgen: connection error: {err:#}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = counters.ok.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    println!(
        "{:.0} req/s ({ok} ok, {errors} errors, {} connections, {elapsed:.2} s)",
        ok as f64 / elapsed,
        args.connections
    );
    Ok(())
}

/// One keep-alive connection: request, wait for the whole response, repeat until `deadline`.
async fn connection(
    args: &Args,
    host: &str,
    counters: &Counters,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(host)
        .await
        .with_context(|| format!("failed to connect to {host}"))?;
    stream.set_nodelay(true)?;
    let mut request = Vec::with_capacity(512);
    let mut buffer = Vec::with_capacity(4096);
    while Instant::now() < deadline {
        let n = counters.next_recipient.fetch_add(1, Ordering::Relaxed);
        request.clear();
        match args.mode {
            Mode::Messages => message_request(args, host, n, &mut request),
            Mode::Hooks => hook_request(args, host, n, &mut request),
        }
        stream.write_all(&request).await?;

        let (status, body_range) = read_response(&mut stream, &mut buffer).await?;
        let accepted = status == 200
            && (args.mode == Mode::Hooks
                || contains(&buffer[body_range.clone()], br#""success":"100""#));
        if accepted {
            counters.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        buffer.drain(..body_range.end);
    }
    Ok(())
}

/// A seven template message to the `n`th recipient.
fn message_request(args: &Args, host: &str, n: u64, request: &mut Vec<u8>) {
    let to = args.recipient_base + n;
    let body = format!(
        r#"{{"from":"{}","to":"{to}","type":"template","template":"{}","language":"{}"}}"#,
        args.from, args.template, args.language
    );
    request.extend_from_slice(
        format!(
            "POST /api/waba/messages HTTP/1.1\r\nHost: {host}\r\nX-Api-Key: {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            args.api_key,
            body.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(body.as_bytes());
}

/// A signed Bird `delivered` callback about row `first_row + n % rows` of the campaign.
fn hook_request(args: &Args, host: &str, n: u64, request: &mut Vec<u8>) {
    let row = args.first_row + n % args.rows;
    let message = AcceptedMessage {
        provider: Provider::Bird,
        id: args
            .ids
            .get(row as usize - 1)
            .cloned()
            .unwrap_or_else(|| format!("00000000-0000-4000-8000-{row:012x}")),
        sender: args.channel.clone(),
        to: (args.recipient_base + row).to_string(),
        reference: Some(format!("{}.{row}", args.campaign)),
    };
    let now = Utc::now();
    let body = payload::body(&message, &Event::Delivered, now, n, None);
    let public = args.hooks_public_url.as_deref().unwrap_or(&args.url);
    let url = format!("{}/hooks/bird", public.trim_end_matches('/'));
    let mut head = format!("POST /hooks/bird HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in bird_headers(&args.bird_signing_key, &url, &body, now.timestamp()) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    request.extend_from_slice(head.as_bytes());
    request.extend_from_slice(&body);
}

/// Reads one response into `buffer`; returns its status and where its body is.
async fn read_response(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> anyhow::Result<(u16, std::ops::Range<usize>)> {
    loop {
        if let Some(head_end) = find(buffer, b"\r\n\r\n") {
            let head =
                std::str::from_utf8(&buffer[..head_end]).context("response head is not UTF-8")?;
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse::<u16>().ok())
                .context("response has no status code")?;
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .context("response has no Content-Length")?;
            let body_start = head_end + 4;
            let body_end = body_start + length;
            while buffer.len() < body_end {
                if stream.read_buf(buffer).await? == 0 {
                    bail!("connection closed mid-response");
                }
            }
            return Ok((status, body_start..body_end));
        }
        if stream.read_buf(buffer).await? == 0 {
            bail!("connection closed before a response");
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}
