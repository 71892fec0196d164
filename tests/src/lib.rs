//! Test support for wacast's end-to-end tests (the `e2e` test binary) and the `mock-gateway`
//! server.
//!
//! # Layout
//!
//! - [`gateway`]: the mock of seven's WhatsApp API, as a library so that tests can also run it
//!   in-process; `src/bin/mock-gateway.rs` is its thin binary, `src/bin/loadgen.rs` a load
//!   generator for `scripts/bench-gateway.sh`.
//! - [`ChildGuard`]: runs one of the workspace's binaries as a child process, reads the first
//!   line it prints (servers print their address there) and kills it when dropped, so that a
//!   failing test never leaves processes behind.
//! - [`MockGatewayProcess`]: `mock-gateway` started through a `ChildGuard`, with its address.
//! - [`chaos`]: the chaos soak (`src/bin/chaos.rs`, run by `scripts/chaos.sh`): Redis restarts,
//!   killed workers, pauses, a cancel and a rate change under a faulty gateway, then a check of
//!   every message.

pub mod chaos;

/// `wacast enqueue`'s content flags for the seed's `order_confirmation` template (two body
/// parameters, one URL button), filled from the columns `name` and `order_id`: what the tests and
/// the chaos soak send.
pub const ORDER_CONFIRMATION: [&str; 8] = [
    "--template",
    "order_confirmation",
    "--language",
    "de",
    "--body",
    "name,order_id",
    "--button",
    "order_id",
];
pub mod gateway;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long a child gets to print its first line. Binaries are built before tests run, so this
/// only covers process start and binding, which take milliseconds; the margin is for a loaded CI.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// Most bytes of a child's output kept for [`ChildGuard::stdout`] and [`ChildGuard::stderr`];
/// older output is dropped so that a chatty long-running child cannot exhaust memory.
const OUTPUT_KEPT: usize = 4 << 20;

/// A child process that is killed when the guard is dropped.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
    first_line: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl ChildGuard {
    /// Spawns `program` with `args` and extra environment variables `envs`, and waits for its
    /// first stdout line.
    pub fn spawn<S: AsRef<OsStr>>(
        program: impl AsRef<OsStr>,
        args: &[S],
        envs: &[(&str, &str)],
    ) -> anyhow::Result<ChildGuard> {
        let mut command = Command::new(program);
        command.args(args);
        for (key, value) in envs {
            command.env(key, value);
        }
        ChildGuard::spawn_command(command, STARTUP_TIMEOUT)
    }

    /// Spawns a prepared `command` that prints nothing on stdout when it is ready (a daemon
    /// such as `wacast-worker`, which logs to stderr) and returns at once.
    pub fn spawn_daemon(command: Command) -> anyhow::Result<ChildGuard> {
        ChildGuard::start(command, None)
    }

    /// Spawns a prepared `command` (its stdout and stderr are replaced by pipes) and waits up to
    /// `timeout` for its first stdout line.
    pub fn spawn_command(command: Command, timeout: Duration) -> anyhow::Result<ChildGuard> {
        ChildGuard::start(command, Some(timeout))
    }

    fn start(mut command: Command, timeout: Option<Duration>) -> anyhow::Result<ChildGuard> {
        let name = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("failed to start {name}"))?;
        let stdout_pipe = child.stdout.take().context("child stdout is piped")?;
        let stderr_pipe = child.stderr.take().context("child stderr is piped")?;
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));

        let (first_line_tx, first_line_rx) = mpsc::channel();
        let stdout_buffer = Arc::clone(&stdout);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout_pipe);
            let mut first = String::new();
            let _ = first_line_tx.send(reader.read_line(&mut first).map(|_| first));
            // Keep draining, or a child that prints more would block on a full pipe.
            collect(reader, &stdout_buffer);
        });
        let stderr_buffer = Arc::clone(&stderr);
        std::thread::spawn(move || collect(stderr_pipe, &stderr_buffer));

        let mut guard = ChildGuard {
            name,
            child,
            first_line: String::new(),
            stdout,
            stderr,
        };
        let Some(timeout) = timeout else {
            return Ok(guard);
        };
        let first_line = match first_line_rx.recv_timeout(timeout) {
            Ok(Ok(line)) if !line.is_empty() => line,
            Ok(Ok(_)) | Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = guard.wait_timeout(Duration::from_secs(2)).ok().flatten();
                bail!(
                    "{} ended before printing a line (status {status:?}); stderr:\n{}",
                    guard.name,
                    guard.stderr()
                );
            }
            Err(mpsc::RecvTimeoutError::Timeout) => bail!(
                "{} printed no line within {timeout:?}; stderr:\n{}",
                guard.name,
                guard.stderr()
            ),
        };
        guard.first_line = first_line.trim_end().to_owned();
        Ok(guard)
    }

    /// The first line the child printed, without its line ending.
    pub fn first_line(&self) -> &str {
        &self.first_line
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What the child printed to stdout after its first line, so far.
    pub fn stdout(&self) -> String {
        self.stdout
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What the child printed to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sends SIGTERM, as systemd does on stop, so the child can shut down gracefully.
    pub fn terminate(&self) -> anyhow::Result<()> {
        self.signal("TERM")
    }

    /// Sends the signal named `signal` (`TERM`, `STOP`, `CONT`, …) with `kill`.
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.id().to_string()])
            .status()
            .context("failed to run kill")?;
        if !status.success() {
            bail!("kill -{signal} {} failed: {status}", self.id());
        }
        Ok(())
    }

    /// The child's exit status if it has exited, without waiting.
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits up to `timeout` for the child to exit; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the child (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            // Shown with the failing test's output; the child's log usually says why.
            eprintln!("--- stderr of {} ---\n{}", self.name, self.stderr());
        }
    }
}

fn collect(mut pipe: impl Read, buffer: &Mutex<String>) {
    let mut chunk = [0_u8; 8192];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut buffer = buffer.lock().unwrap_or_else(PoisonError::into_inner);
                buffer.push_str(&String::from_utf8_lossy(&chunk[..n]));
                if buffer.len() > OUTPUT_KEPT {
                    let mut cut = buffer.len() - OUTPUT_KEPT / 2;
                    while !buffer.is_char_boundary(cut) {
                        cut += 1;
                    }
                    buffer.drain(..cut);
                }
            }
        }
    }
}

/// `mock-gateway` running as a child process.
#[derive(Debug)]
pub struct MockGatewayProcess {
    /// The process; dropping it stops the gateway.
    pub process: ChildGuard,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl MockGatewayProcess {
    /// Starts the binary at `program` (in tests: `env!("CARGO_BIN_EXE_mock-gateway")`) with
    /// `args`, on a free port unless `args` say otherwise.
    pub fn spawn<S: AsRef<OsStr>>(program: &str, args: &[S]) -> anyhow::Result<MockGatewayProcess> {
        let mut command = Command::new(program);
        command.args(["--port", "0"]).args(args);
        // Flags are the test's whole configuration: no MOCK_* variable of the caller leaks in.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("MOCK_") {
                command.env_remove(key);
            }
        }
        let process = ChildGuard::spawn_command(command, STARTUP_TIMEOUT)?;
        let addr = process
            .first_line()
            .strip_prefix(gateway::LISTENING_PREFIX)
            .and_then(|addr| addr.parse().ok())
            .with_context(|| {
                format!(
                    "mock-gateway's first line {:?} is not \"{}ADDR\"",
                    process.first_line(),
                    gateway::LISTENING_PREFIX
                )
            })?;
        Ok(MockGatewayProcess { process, addr })
    }

    /// `http://ADDR`, the base URL to configure a seven client with.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
