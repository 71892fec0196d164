//! The callbacks of the soak: the mock gateway sends signed callbacks throughout (see
//! [`mock_args`]) to one URL, the soak's own small TCP load balancer in front of the live
//! workers' hooks listeners (the normal setup: any worker may receive any callback). A
//! connection goes to the next live worker in turn; one that cannot be reached (killed a moment
//! ago) is skipped, and with none reachable the connection is closed, which the mock retries.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The key both providers' callbacks are signed with, in the mock and in the workers' key files.
pub(crate) const SIGNING_KEY: &str = "chaos-signing-key";

/// The mock's callback flags: a delivery for every message, reads, replies and opt-outs (the
/// recipients differ per campaign, so an opt-out stays within its campaign), and every callback
/// fault but late failures: a 131049 holds its row back for a day, and whether a late 131026
/// or 131050 leaves a message `sent` (with `delivery` failed) or makes it `failed` is the
/// recording's choice, which `chaos_gateway_mismatches` (accepted but `failed`) would have to
/// know message by message; the e2e tests cover late failures.
pub(crate) fn mock_args(url: &str) -> Vec<String> {
    [
        "--callback-url",
        url,
        "--seven-signing-key",
        SIGNING_KEY,
        "--bird-signing-key",
        SIGNING_KEY,
        "--callback-delay",
        "500ms",
        "--read-share",
        "0.5",
        "--reply-share",
        "0.05",
        "--stop-share",
        "0.3",
        "--callback-duplicate-share",
        "0.05",
        "--callback-reorder",
        "0.1",
        "--callback-drop-share",
        "0.02",
        "--bad-signature-share",
        "0.01",
        "--callback-retry-for",
        "3m",
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .collect()
}

/// The live workers' hooks addresses, kept by the fleet.
pub(crate) type Backends = Arc<Mutex<Vec<SocketAddr>>>;

/// The balancer, serving until dropped.
#[derive(Debug)]
pub(crate) struct Balancer {
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Balancer {
    pub(crate) async fn start(backends: Backends) -> anyhow::Result<Balancer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let next = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let backends = Arc::clone(&backends);
                let next = Arc::clone(&next);
                tokio::spawn(async move {
                    let candidates = backends
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    let start = next.fetch_add(1, Ordering::Relaxed);
                    for idx in 0..candidates.len() {
                        let backend = candidates[(start + idx) % candidates.len()];
                        if let Ok(mut server) = TcpStream::connect(backend).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            return;
                        }
                    }
                });
            }
        });
        Ok(Balancer { addr, task })
    }
}
