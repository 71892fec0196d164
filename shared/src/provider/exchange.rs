//! The provider-agnostic pieces of an exchange and its classification: the body of a request,
//! the exchange itself, transport errors, `Retry-After`, and a bounded body read. Each client
//! adds only its endpoint, its authentication and its reading of the answer.

use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::Serialize;

use crate::error_chain::error_chain;
use crate::provider::outcome::{HaltScope, Outcome, WorkerFault};
use crate::provider::validate::Valid;

/// Every request and answer of both providers is JSON.
pub(crate) const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The JSON body of a validated request. One that cannot be written is
/// [`Outcome::invalid`] without any exchange: for the caller it is the same thing as the
/// provider's refusal, a request that will not go out as it stands.
pub(crate) fn json_body<R: Serialize, T>(request: &Valid<R>) -> Result<Vec<u8>, Outcome<T>> {
    serde_json::to_vec(request).map_err(|error| {
        Outcome::invalid(format!("the request cannot be written as JSON: {error}"))
    })
}

/// What came back from one exchange that produced a response.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<Duration>,
    /// The body, or why it could not be read.
    pub(crate) body: Result<Vec<u8>, String>,
}

/// Sends one request (its endpoint, authentication and body set by the client) and reads the
/// answer, at most `max_body` bytes of it. `Err` only when no response came, classified by
/// [`transport_trouble`].
pub(crate) async fn exchange<T>(
    request: RequestBuilder,
    max_body: usize,
) -> Result<Answer, Outcome<T>> {
    let response = request
        .header(ACCEPT, APPLICATION_JSON)
        .send()
        .await
        .map_err(|e| transport_trouble(&e))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let body = read_body(response, max_body)
        .await
        .map_err(|e| error_chain(&e));
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// Classifies a request that produced no response.
///
/// Only an error of the connect phase (DNS, TCP connect, TLS handshake, or `connect_timeout`,
/// which reqwest reports as a connect error) proves that no byte of the request left this
/// process: nothing was sent, so it is a `Retry`. Anything later is `Unknown`:
///
/// - A timeout after connecting means the request was written, or partly written, and no
///   answer came in time; the provider may be processing it right now.
/// - An error while writing the body does not prove the provider did not read it: a request
///   this small usually leaves in one segment, and the peer may reset after reading it.
/// - A connection closed before any response (a pooled connection the server dropped) is
///   ambiguous unless hyper itself knows the request was never written, in which case it
///   retries on a fresh connection before we ever see an error.
///
/// reqwest reports none of these phases directly; `is_connect` is the only reliable signal, and
/// the total `timeout` must exceed `connect_timeout` so that a stalled connect is always
/// reported as a connect error (see [`crate::provider::http_client`]).
pub(crate) fn transport_trouble<T>(error: &reqwest::Error) -> Outcome<T> {
    if error.is_connect() {
        Outcome::Retry {
            after: None,
            reason: format!(
                "could not connect, nothing was sent: {}",
                error_chain(error)
            ),
        }
    } else if error.is_builder() {
        // The request could not even be built: every request would fail alike.
        Outcome::Halt {
            scope: HaltScope::Worker(WorkerFault::Unreachable),
            reason: format!("could not build the request: {}", error_chain(error)),
        }
    } else if error.is_timeout() {
        Outcome::Unknown {
            reason: format!(
                "no answer in time after the request was sent, it may have been accepted: {}",
                error_chain(error)
            ),
        }
    } else {
        Outcome::Unknown {
            reason: format!(
                "the exchange broke after the request was sent, it may have been accepted: {}",
                error_chain(error)
            ),
        }
    }
}

/// Reads `Retry-After`: delay-seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2015 07:28:00
/// GMT`), relative to `now`. A date in the past is zero. `None` when absent or unreadable;
/// clamping is the caller's retry policy.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate, the form HTTP/1.1 senders must use, parses as RFC 2822 with `GMT`.
    let at: SystemTime = chrono::DateTime::parse_from_rfc2822(value).ok()?.into();
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The body of a response, read up to `limit` bytes. Providers answer with a few hundred
/// bytes; a larger body (a proxy's error page) is cut rather than held in memory.
async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let capacity = response
        .content_length()
        .map_or(1024, |n| usize::try_from(n).unwrap_or(limit).min(limit));
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == limit {
            break;
        }
    }
    Ok(body)
}

/// A short, printable excerpt of a body, for reasons.
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(MAX).collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    if out.is_empty() {
        out.push_str("(empty)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_450);
        let check = |value: &str, expect: Option<u64>| {
            assert_eq!(
                parse_retry_after(value, now),
                expect.map(Duration::from_secs),
                "{value:?}"
            );
        };
        check("120", Some(120));
        check(" 0 ", Some(0));
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        check("Wed, 21 Oct 2015 07:28:00 GMT", Some(30));
        check("Wed, 21 Oct 2015 07:27:00 GMT", Some(0));
        check("soon", None);
        check("-5", None);
        check("", None);
    }

    #[test]
    fn excerpts_are_short_and_never_empty() {
        assert_eq!(excerpt(b"  <html>oops</html>\n"), "<html>oops</html>");
        assert_eq!(excerpt(b""), "(empty)");
        let long = "x".repeat(500);
        assert_eq!(excerpt(long.as_bytes()).chars().count(), 121);
    }
}
