//! One callback request's way through the endpoint: the flood check, the body limit, the
//! signature, the parse, the nonce, the recording; and the answer, metric and log line each
//! step can end in. 200 only once Redis recorded every callback of the body; 503 while it
//! cannot, so that the provider tries again later.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use wacast_shared::campaign::ProviderKind;
use wacast_shared::delivery::{Callback, DeliveryPolicy};
use wacast_shared::error_chain::error_chain;
use wacast_shared::provider::callback::CallbackError;
use wacast_shared::provider::signature::{MAX_SKEW, SignatureError};
use wacast_shared::queue::{Queue, QueueError};

use crate::hooks::limiter::FailureLimiter;
use crate::hooks::verify::{Endpoint, Unverified};
use crate::metrics::name;

/// The largest body accepted: a callback is a few hundred bytes, a batch a few dozen
/// kilobytes at most; anything larger is no callback.
pub(super) const MAX_BODY: usize = 64 * 1024;

/// How long a nonce is remembered: longer than a signature is accepted (5 minutes either
/// way), so that no replay can outlive its nonce.
const NONCE_TTL: Duration = Duration::from_secs(2 * MAX_SKEW.as_secs());

/// What every request of the endpoint shares.
pub(super) struct Hooks {
    pub(super) queue: Queue,
    pub(super) policy: DeliveryPolicy,
    pub(super) seven: Endpoint,
    pub(super) bird: Endpoint,
    pub(super) limiter: FailureLimiter,
    /// Whether the last recording failed, so that an outage is logged when it starts and ends
    /// rather than once per request.
    pub(super) unavailable: AtomicBool,
}

/// `POST /hooks/seven`.
pub(super) async fn seven(
    State(hooks): State<Arc<Hooks>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    receive(&hooks, &hooks.seven, peer.ip(), &headers, body).await
}

/// `POST /hooks/bird`.
pub(super) async fn bird(
    State(hooks): State<Arc<Hooks>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    receive(&hooks, &hooks.bird, peer.ip(), &headers, body).await
}

/// Why a request was not answered 200.
enum Refusal {
    /// The address sent too many failed requests lately.
    Flood,
    /// The body is over [`MAX_BODY`].
    TooLarge,
    /// No signing key for this provider here.
    NoKey,
    /// The signature is missing, stale, wrong, or its nonce was used before.
    Signature(SignatureError),
    /// The body does not parse.
    Unparsable(CallbackError),
    /// Redis did not record it.
    Unavailable {
        event: &'static str,
        error: QueueError,
    },
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Flood => StatusCode::TOO_MANY_REQUESTS,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::NoKey | Refusal::Signature(_) => StatusCode::UNAUTHORIZED,
            Refusal::Unparsable(_) => StatusCode::BAD_REQUEST,
            Refusal::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The metric's `result`.
    fn result(&self) -> &'static str {
        match self {
            Refusal::Flood | Refusal::TooLarge | Refusal::NoKey => "refused",
            Refusal::Signature(_) => "bad_signature",
            Refusal::Unparsable(_) => "unparsable",
            Refusal::Unavailable { .. } => "unavailable",
        }
    }

    /// The metric's `event`: known only once the body was parsed.
    fn event(&self) -> &'static str {
        match self {
            Refusal::Unavailable { event, .. } => event,
            _ => "other",
        }
    }

    /// Whether the request counts against its address's quota of failures. A 503 is our
    /// trouble, not the caller's; a 429 is the quota itself.
    fn is_failure(&self) -> bool {
        !matches!(self, Refusal::Flood | Refusal::Unavailable { .. })
    }

    /// The answer's body: short, and no help to a forger.
    fn text(&self) -> &'static str {
        match self {
            Refusal::Flood => "too many failed requests\n",
            Refusal::TooLarge => "body too large\n",
            Refusal::NoKey | Refusal::Signature(_) => "signature refused\n",
            Refusal::Unparsable(_) => "unparsable callback\n",
            Refusal::Unavailable { .. } => "cannot record now, try again\n",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Flood => f.write_str("too many failed requests from this address"),
            Refusal::TooLarge => write!(f, "the body is over {MAX_BODY} bytes"),
            Refusal::NoKey => f.write_str("no signing key is configured for this provider"),
            Refusal::Signature(error) => write!(f, "{error}"),
            Refusal::Unparsable(error) => write!(f, "{}", error_chain(error)),
            Refusal::Unavailable { error, .. } => write!(f, "{}", error_chain(error)),
        }
    }
}

async fn receive(
    hooks: &Hooks,
    endpoint: &Endpoint,
    peer: IpAddr,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let provider = endpoint.provider.as_str();
    match accept(hooks, endpoint, peer, headers, body).await {
        Ok(()) => {
            if hooks.unavailable.swap(false, Ordering::Relaxed) {
                tracing::info!(provider, "Recording callbacks again.");
            }
            (StatusCode::OK, "ok\n").into_response()
        }
        Err(refusal) => {
            if refusal.is_failure() {
                hooks.limiter.failed(peer);
            }
            count(endpoint.provider, refusal.event(), refusal.result());
            if let Refusal::Unavailable { .. } = refusal {
                if !hooks.unavailable.swap(true, Ordering::Relaxed) {
                    tracing::warn!(provider, error = %refusal, "Cannot record callbacks; answering 503 until Redis is back (the providers retry).");
                }
            } else {
                tracing::debug!(provider, %peer, reason = %refusal, "Callback refused.");
            }
            (refusal.status(), refusal.text()).into_response()
        }
    }
}

async fn accept(
    hooks: &Hooks,
    endpoint: &Endpoint,
    peer: IpAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), Refusal> {
    if !hooks.limiter.admits(peer) {
        return Err(Refusal::Flood);
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(Refusal::TooLarge);
    }
    // Fails for a body over the limit (a chunked one has no length to check first), or for a
    // client gone mid-body, which reads no answer anyway.
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| Refusal::TooLarge)?;
    // Redis's clock, as every time the queue records (the host's may be wrong).
    let received_at = hooks.queue.now();
    let nonce =
        endpoint
            .verify(headers, &body, received_at)
            .map_err(|unverified| match unverified {
                Unverified::NoKey => Refusal::NoKey,
                Unverified::Signature(error) => Refusal::Signature(error),
            })?;
    let callbacks = endpoint
        .parse(&body, received_at)
        .map_err(Refusal::Unparsable)?;
    let first_event = callbacks.first().map_or("other", event);
    if let Some(nonce) = nonce {
        // Taken only once the request is known to be good, so that a request refused for its
        // body does not use up the nonce of a corrected one.
        match hooks
            .queue
            .claim_nonce(endpoint.provider.as_str(), &nonce, NONCE_TTL)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(Refusal::Signature(SignatureError::Replayed)),
            Err(error) => {
                return Err(Refusal::Unavailable {
                    event: first_event,
                    error,
                });
            }
        }
    }
    if callbacks.is_empty() {
        // No delivery news (`sent`, `accepted`, another event): nothing to record.
        count(endpoint.provider, "other", "ignored");
        return Ok(());
    }
    // In order, each recorded before the next: a retry after a 503 records the ones before
    // again, which the recording counts as duplicates.
    for callback in &callbacks {
        let event = event(callback);
        match hooks.queue.record_callback(callback, &hooks.policy).await {
            Ok(record) => {
                count(endpoint.provider, event, record.recorded.as_str());
                if let Some(latency) = record.delivered_after {
                    ::metrics::histogram!(name::DELIVERY_LATENCY, "provider" => endpoint.provider.as_str())
                        .record(latency.as_secs_f64());
                }
            }
            Err(error) => return Err(Refusal::Unavailable { event, error }),
        }
    }
    Ok(())
}

/// The metric's `event` of a callback.
fn event(callback: &Callback) -> &'static str {
    match callback {
        Callback::Status(_) => "status",
        Callback::Inbound(_) => "inbound",
    }
}

fn count(provider: ProviderKind, event: &'static str, result: &'static str) {
    ::metrics::counter!(name::CALLBACKS, "provider" => provider.as_str(), "event" => event, "result" => result)
        .increment(1);
}
