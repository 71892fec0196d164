//! The worker processes: started, killed with SIGKILL (their requests in flight counted first),
//! stopped with SIGTERM (which must end them with exit code 0 in time), frozen around the cancel,
//! and watched for deaths nobody asked for.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;
use rand::rngs::StdRng;
use wacast_shared::queue::Queue;

use crate::ChildGuard;
use crate::chaos::checks::Journal;
use crate::chaos::config::Rate;
use crate::chaos::hooks::Backends;
use crate::chaos::redis_view;
use crate::gateway::bird::DEFAULT_ACCESS_KEY as BIRD_ACCESS_KEY;

/// How long a frozen (SIGSTOP) worker's calls already on their way take to reach Redis, before
/// the soak reads what the worker holds: the worker writes nothing more, but Redis may not have
/// run what it wrote just before.
pub(crate) const SETTLE: Duration = Duration::from_millis(200);

/// How long past its shutdown timeout a worker stopped with SIGTERM may take to exit: process
/// teardown, on a loaded machine.
const EXIT_MARGIN: Duration = Duration::from_secs(3);

/// libfaketime, for a worker whose wall clock is wrong (`apt-get install faketime`).
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// How every worker is started.
#[derive(Debug, Clone)]
pub(crate) struct WorkerSpec {
    pub(crate) program: PathBuf,
    pub(crate) redis_url: String,
    pub(crate) prefix: String,
    pub(crate) gateway_url: String,
    pub(crate) seven_key: String,
    pub(crate) rate: Rate,
    pub(crate) lease: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) max_attempts: u32,
    /// Each worker's hooks listener, when the workers have one.
    pub(crate) hooks: Option<HooksSpec>,
}

/// How the workers receive callbacks.
#[derive(Debug, Clone)]
pub(crate) struct HooksSpec {
    /// The public URL the mock calls (the balancer's), which signatures are made for.
    pub(crate) public_url: String,
    /// A file holding the signing key of both providers.
    pub(crate) key_file: PathBuf,
    /// Where the balancer finds the live workers.
    pub(crate) backends: Backends,
}

impl WorkerSpec {
    fn command(&self, name: &str, hooks_addr: Option<SocketAddr>) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(["--redis-url", &self.redis_url, "--prefix", &self.prefix])
            .args(["--seven-base-url", &self.gateway_url])
            .args(["--default-rate", &self.rate.to_string()])
            .args(["--lease", &secs(self.lease)])
            .args(["--request-timeout", &secs(self.request_timeout)])
            .args(["--shutdown-timeout", &secs(self.shutdown_timeout)])
            .args(["--max-attempts", &self.max_attempts.to_string()])
            .args(["--bird-base-url", &self.gateway_url])
            .args(["--name", name]);
        if let (Some(hooks), Some(addr)) = (&self.hooks, hooks_addr) {
            let key_file = hooks.key_file.to_string_lossy();
            command
                .args(["--hooks-addr", &addr.to_string()])
                .args(["--hooks-public-url", &hooks.public_url])
                .args(["--seven-signing-key-file", &key_file])
                .args(["--bird-signing-key-file", &key_file]);
        }
        // The flags are the whole configuration: nothing of the caller's environment leaks in.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if ["WACAST_", "SEVEN_", "BIRD_"]
                .iter()
                .any(|prefix| key.starts_with(prefix))
            {
                command.env_remove(key.as_ref());
            }
        }
        command
            .env("SEVEN_API_KEY", &self.seven_key)
            .env("BIRD_ACCESS_KEY", BIRD_ACCESS_KEY)
            .env("RUST_LOG", "info")
            // Plain logs in the files the soak writes.
            .env("NO_COLOR", "1");
        command
    }
}

fn secs(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}

/// A running worker.
#[derive(Debug)]
struct Worker {
    /// `--name`: the worker id in Redis starts with it and a dash.
    name: String,
    process: ChildGuard,
    /// Its hooks listener, if any.
    hooks: Option<SocketAddr>,
}

/// A worker sent SIGTERM, until it exits.
#[derive(Debug)]
struct Stopping {
    worker: Worker,
    deadline: Instant,
}

/// One SIGKILL and what it may have cost.
#[derive(Debug, Clone)]
pub(crate) struct Kill {
    pub(crate) worker: String,
    /// The worker's messages in `sending` when it was killed.
    pub(crate) sending: u64,
    /// Of those, the ones whose request had reached the gateway: requests whose answer will never
    /// be recorded, so at most this many may end `unknown`.
    pub(crate) in_flight: u64,
    /// The others (`{campaign}.{row}`): marked `sending` and killed before the request was
    /// written, they end `unknown` though never sent, the one window a crash can leave.
    pub(crate) unsent: Vec<String>,
}

/// The workers.
#[derive(Debug)]
pub(crate) struct Fleet {
    spec: WorkerSpec,
    logs: PathBuf,
    started: u32,
    live: Vec<Worker>,
    stopping: Vec<Stopping>,
    /// Every kill so far.
    pub(crate) kills: Vec<Kill>,
    /// Workers that exited when they should not have, or not as they should have.
    pub(crate) failures: Vec<String>,
    /// Workers stopped with SIGTERM that exited 0 in time.
    pub(crate) clean_stops: u32,
    /// A worker with a key the provider refuses, while the scenario runs one.
    bad_key: Option<(String, ChildGuard)>,
}

impl Fleet {
    /// Starts `n` workers; their logs go to `logs` when they end.
    pub(crate) fn start(spec: WorkerSpec, logs: &Path, n: usize) -> anyhow::Result<Fleet> {
        let mut fleet = Fleet {
            spec,
            logs: logs.to_path_buf(),
            started: 0,
            live: Vec::new(),
            stopping: Vec::new(),
            kills: Vec::new(),
            failures: Vec::new(),
            clean_stops: 0,
            bad_key: None,
        };
        for _ in 0..n {
            fleet.spawn()?;
        }
        Ok(fleet)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        self.spawn_with(&[]).map(drop)
    }

    /// Starts one more worker whose wall clock is `skew` off (libfaketime's `FAKETIME`, e.g.
    /// `+2s`); `None` where the library is missing. Returns its name.
    pub(crate) fn spawn_skewed(&mut self, skew: &str) -> anyhow::Result<Option<String>> {
        if !Path::new(LIBFAKETIME).exists() {
            return Ok(None);
        }
        let env = [("LD_PRELOAD", LIBFAKETIME), ("FAKETIME", skew)];
        self.spawn_with(&env).map(Some)
    }

    fn spawn_with(&mut self, env: &[(&str, &str)]) -> anyhow::Result<String> {
        self.started += 1;
        let name = format!("chaos{}", self.started);
        let hooks = match &self.spec.hooks {
            Some(_) => Some(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?),
            None => None,
        };
        let mut command = self.spec.command(&name, hooks);
        command.envs(env.iter().copied());
        let process = ChildGuard::spawn_daemon(command)
            .with_context(|| format!("cannot start worker {name}"))?;
        self.live.push(Worker {
            name: name.clone(),
            process,
            hooks,
        });
        self.sync_backends();
        Ok(name)
    }

    /// Tells the balancer which workers are live.
    fn sync_backends(&self) {
        if let Some(hooks) = &self.spec.hooks {
            let live = self.live.iter().filter_map(|worker| worker.hooks).collect();
            *hooks
                .backends
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = live;
        }
    }

    /// Starts a worker whose seven key the provider refuses (outside the fleet: never killed
    /// at random, no hooks listener). Returns its name.
    pub(crate) fn start_bad_key(&mut self) -> anyhow::Result<String> {
        let name = "chaos-badkey".to_string();
        let mut command = self.spec.command(&name, None);
        command.env("SEVEN_API_KEY", "chaos-wrong-key");
        let process = ChildGuard::spawn_daemon(command)
            .with_context(|| format!("cannot start worker {name}"))?;
        self.bad_key = Some((name.clone(), process));
        Ok(name)
    }

    /// Stops the worker with the refused key (SIGTERM), keeping its log.
    pub(crate) fn stop_bad_key(&mut self) -> String {
        let Some((name, mut process)) = self.bad_key.take() else {
            return "no bad-key worker to stop".to_string();
        };
        let _ = process.terminate();
        let exited = process.wait_timeout(Duration::from_secs(10));
        let _ = std::fs::write(self.logs.join(format!("{name}.log")), process.stderr());
        format!("SIGTERM to {name}: {exited:?}")
    }

    /// Names of the running workers.
    pub(crate) fn names(&self) -> Vec<String> {
        self.live.iter().map(|w| w.name.clone()).collect()
    }

    /// Notices exits: a running worker that exited on its own is a failure (and is replaced); a
    /// stopping one must exit 0 before its deadline. Returns what happened, for the log.
    pub(crate) fn poll(&mut self) -> anyhow::Result<Vec<String>> {
        let mut events = Vec::new();
        let mut died = Vec::new();
        for (idx, worker) in self.live.iter_mut().enumerate() {
            if let Some(status) = worker.process.try_wait()? {
                died.push((idx, status));
            }
        }
        for (idx, status) in died.into_iter().rev() {
            let worker = self.live.remove(idx);
            self.sync_backends();
            let failure = format!("worker {} exited on its own: {status}", worker.name);
            events.push(format!("{failure}; starting another"));
            self.failures.push(failure);
            self.save_log(&worker);
            self.spawn()?;
        }
        let now = Instant::now();
        let mut idx = 0;
        while idx < self.stopping.len() {
            let stopping = &mut self.stopping[idx];
            let status = stopping.worker.process.try_wait()?;
            let overdue = now > stopping.deadline;
            if status.is_none() && !overdue {
                idx += 1;
                continue;
            }
            let mut stopping = self.stopping.remove(idx);
            let name = stopping.worker.name.clone();
            match status {
                Some(status) if status.success() => {
                    self.clean_stops += 1;
                    events.push(format!("worker {name} exited 0 after SIGTERM"));
                }
                Some(status) => {
                    let failure = format!("worker {name} exited with {status} after SIGTERM");
                    events.push(failure.clone());
                    self.failures.push(failure);
                }
                None => {
                    let failure = format!(
                        "worker {name} was still running {:?} after SIGTERM (shutdown timeout \
                         {:?}); killed",
                        self.spec.shutdown_timeout + EXIT_MARGIN,
                        self.spec.shutdown_timeout
                    );
                    events.push(failure.clone());
                    self.failures.push(failure);
                    stopping.worker.process.kill();
                }
            }
            self.save_log(&stopping.worker);
        }
        Ok(events)
    }

    /// SIGKILLs a random worker and starts another. The victim is frozen (SIGSTOP) first, so
    /// that what it leaves behind can be counted exactly: its messages in `sending` (from
    /// Redis) and, of those, the ones whose request reached the gateway (from the journal).
    pub(crate) async fn kill_random(
        &mut self,
        queue: &Queue,
        journal: &Path,
        rng: &mut StdRng,
    ) -> anyhow::Result<Kill> {
        let idx = rng.random_range(0..self.live.len());
        let mut worker = self.live.remove(idx);
        self.sync_backends();
        worker.process.signal("STOP")?;
        tokio::time::sleep(SETTLE).await;
        let counted = async {
            let sending = redis_view::sending_by_worker(queue, &worker.name).await?;
            let journal = Journal::read(journal)?;
            let arrivals = journal.arrivals();
            // The current request is attempt `attempts + 1`; it is in flight if it arrived.
            let unsent: Vec<String> = sending
                .iter()
                .filter(|(id, attempts)| {
                    arrivals.get(id.as_str()).copied().unwrap_or(0) <= *attempts
                })
                .map(|(id, _)| id.clone())
                .collect();
            let in_flight = sending.len() - unsent.len();
            anyhow::Ok((sending.len() as u64, in_flight as u64, unsent))
        }
        .await;
        worker.process.kill();
        self.save_log(&worker);
        // Without the counts the bound on `unknown` would be a guess.
        let (sending, in_flight, unsent) = counted
            .with_context(|| format!("cannot count the requests in flight of {}", worker.name))?;
        let kill = Kill {
            worker: worker.name.clone(),
            sending,
            in_flight,
            unsent,
        };
        self.kills.push(kill.clone());
        self.spawn()?;
        Ok(kill)
    }

    /// Sends SIGTERM to a random worker, which must exit 0 within its shutdown timeout, and
    /// starts another in its place. Returns the name of the one stopped.
    pub(crate) fn terminate_random(&mut self, rng: &mut StdRng) -> anyhow::Result<String> {
        let idx = rng.random_range(0..self.live.len());
        let worker = self.live.remove(idx);
        self.sync_backends();
        let name = worker.name.clone();
        worker.process.terminate()?;
        self.stopping.push(Stopping {
            worker,
            deadline: Instant::now() + self.spec.shutdown_timeout + EXIT_MARGIN,
        });
        self.spawn()?;
        Ok(name)
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) every running worker.
    pub(crate) fn signal_all(&self, signal: &str) -> anyhow::Result<()> {
        for worker in &self.live {
            worker.process.signal(signal)?;
        }
        Ok(())
    }

    /// Stops every worker with SIGTERM and waits for them (each must exit 0 in time).
    pub(crate) async fn stop_all(&mut self) -> anyhow::Result<Vec<String>> {
        for worker in std::mem::take(&mut self.live) {
            worker.process.terminate()?;
            self.stopping.push(Stopping {
                worker,
                deadline: Instant::now() + self.spec.shutdown_timeout + EXIT_MARGIN,
            });
        }
        let mut events = Vec::new();
        while !self.stopping.is_empty() {
            events.extend(self.poll()?);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(events)
    }

    /// Writes a worker's stderr to `NAME.log`.
    fn save_log(&self, worker: &Worker) {
        let path = self.logs.join(format!("{}.log", worker.name));
        // Losing a log loses no check; the run goes on.
        let _ = std::fs::write(path, worker.process.stderr());
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // Logs of whatever still runs (an aborted soak); the guards kill the processes.
        for worker in &self.live {
            self.save_log(worker);
        }
        for stopping in &self.stopping {
            self.save_log(&stopping.worker);
        }
    }
}
