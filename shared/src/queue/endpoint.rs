//! Where the queue's Redis is: one server (`redis://`, `rediss://`, `unix://`), or the primary
//! that Redis Sentinel names (`redis+sentinel://`), parsed from the URL the operator gives.
//!
//! The `redis` crate has Sentinel support but no URL for it, so the spelling is the one most
//! clients share:
//!
//! ```text
//! redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service_name[/db]
//! ```
//!
//! The hosts are the Sentinels (port 26379 unless given); `service_name` is the name they
//! monitor the primary under (`sentinel monitor <name> ...`). The user and password are the
//! primary's (`requirepass`); the Sentinels are asked without credentials.
//!
//! Sentinel over TLS (`rediss+sentinel://`) is refused: the Sentinels and every primary they
//! may name would each need a certificate this client trusts, and no test here covers that
//! setup. A `rediss://` URL names one server over TLS.

use redis::ConnectionAddr;

use crate::queue::tls::RedisTls;

/// The default port of a Sentinel.
const SENTINEL_PORT: u16 = 26379;

/// The scheme of a Sentinel URL.
const SENTINEL_SCHEME: &str = "redis+sentinel://";

/// The scheme of a URL over TLS.
const TLS_SCHEME: &str = "rediss://";

/// Where the queue's Redis is.
#[derive(Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// One server, by a URL the `redis` crate reads itself.
    Direct(String),
    /// Whichever server the Sentinels name primary of `service`.
    Sentinel(SentinelEndpoint),
}

/// A `redis+sentinel://` URL, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct SentinelEndpoint {
    /// The Sentinels, in the order given: each is asked in turn.
    pub sentinels: Vec<(String, u16)>,
    /// The name the Sentinels monitor the primary under.
    pub service: String,
    /// The primary's user, if any.
    pub username: Option<String>,
    /// The primary's password, if any.
    pub password: Option<String>,
    /// The database number.
    pub db: i64,
}

impl std::fmt::Debug for Endpoint {
    // A password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Direct(url) => f
                .debug_tuple("Direct")
                .field(&crate::redact::redact_url(url))
                .finish(),
            Endpoint::Sentinel(s) => f
                .debug_struct("Sentinel")
                .field("sentinels", &s.sentinels)
                .field("service", &s.service)
                .field("db", &s.db)
                .finish_non_exhaustive(),
        }
    }
}

impl std::fmt::Debug for SentinelEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Endpoint::Sentinel(self.clone()).fmt(f)
    }
}

impl Endpoint {
    /// Reads a Redis URL. Only a `redis+sentinel://` URL is checked here; any other is left
    /// to the `redis` crate, which says what is wrong with it when connecting.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        if url.starts_with("rediss+sentinel://") {
            return Err(
                "Sentinel over TLS is not supported: give the primary's rediss://HOST:PORT URL, or reach the Sentinels with redis+sentinel:// on a private network".into(),
            );
        }
        let Some(rest) = url.strip_prefix(SENTINEL_SCHEME) else {
            return Ok(Endpoint::Direct(url.to_string()));
        };
        let (credentials, rest) = match rest.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (username, password) = match credentials {
            None => (None, None),
            Some(c) => match c.split_once(':') {
                Some((user, password)) => (
                    (!user.is_empty()).then(|| decode(user)),
                    (!password.is_empty()).then(|| decode(password)),
                ),
                None => (None, (!c.is_empty()).then(|| decode(c))),
            },
        };
        let usage =
            "expected redis+sentinel://[:password@]host[:port][,host[:port]...]/service_name[/db]";
        let (hosts, path) = rest
            .split_once('/')
            .ok_or_else(|| format!("the Sentinel URL names no service: {usage}"))?;
        let mut sentinels = Vec::new();
        for host in hosts.split(',').filter(|h| !h.is_empty()) {
            sentinels.push(host_port(host).map_err(|e| format!("{e}: {usage}"))?);
        }
        if sentinels.is_empty() {
            return Err(format!("the Sentinel URL names no Sentinel: {usage}"));
        }
        let mut parts = path.trim_end_matches('/').splitn(2, '/');
        let service = parts.next().unwrap_or_default().to_string();
        if service.is_empty() {
            return Err(format!("the Sentinel URL names no service: {usage}"));
        }
        let db = match parts.next() {
            None | Some("") => 0,
            Some(db) => db
                .parse::<i64>()
                .map_err(|_| format!("the database {db:?} is not a number: {usage}"))?,
        };
        Ok(Endpoint::Sentinel(SentinelEndpoint {
            sentinels,
            service,
            username,
            password,
            db,
        }))
    }

    /// Checks that `tls` fits this endpoint: TLS files need a `rediss://` URL.
    pub fn check_tls(&self, tls: &RedisTls) -> Result<(), String> {
        if !tls.is_configured() {
            return Ok(());
        }
        match self {
            Endpoint::Direct(url) if url.starts_with(TLS_SCHEME) => Ok(()),
            Endpoint::Direct(_) => Err(
                "--redis-ca-file or --redis-client-cert is given but the URL is not rediss://: use rediss://HOST:PORT (Redis's tls-port), or drop the TLS flags".into(),
            ),
            Endpoint::Sentinel(_) => Err(
                "--redis-ca-file or --redis-client-cert is given with a redis+sentinel:// URL: Sentinel over TLS is not supported; give the primary's rediss://HOST:PORT URL".into(),
            ),
        }
    }

    /// Whether the connection is made over TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Endpoint::Direct(url) if url.starts_with(TLS_SCHEME))
    }
}

impl SentinelEndpoint {
    /// The Sentinels' addresses as the `redis` crate takes them.
    pub(crate) fn addrs(&self) -> Vec<ConnectionAddr> {
        self.sentinels
            .iter()
            .map(|(host, port)| ConnectionAddr::Tcp(host.clone(), *port))
            .collect()
    }
}

/// `host[:port]` or `[v6]:port`.
fn host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{text:?} is not a host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{text:?} is not a host"));
    }
    let port = match port {
        None => SENTINEL_PORT,
        Some(port) => port
            .parse()
            .map_err(|_| format!("{text:?} has no valid port"))?,
    };
    Ok((host.to_string(), port))
}

/// Percent-decoding of the user and password, as in any URL (`%40` for `@`).
fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentinel(url: &str) -> SentinelEndpoint {
        match Endpoint::parse(url).unwrap() {
            Endpoint::Sentinel(s) => s,
            other => panic!("not a Sentinel URL: {other:?}"),
        }
    }

    #[test]
    fn sentinel_urls_name_sentinels_service_password_and_db() {
        let s = sentinel("redis+sentinel://:p%40ss@10.0.0.1:26380,10.0.0.2,[::1]:5000/queue/2");
        assert_eq!(
            s.sentinels,
            vec![
                ("10.0.0.1".to_string(), 26380),
                ("10.0.0.2".to_string(), SENTINEL_PORT),
                ("::1".to_string(), 5000)
            ]
        );
        assert_eq!(s.service, "queue");
        assert_eq!(s.password.as_deref(), Some("p@ss"));
        assert_eq!(s.username, None);
        assert_eq!(s.db, 2);
        let s = sentinel("redis+sentinel://127.0.0.1:26379/mymaster");
        assert_eq!(
            (s.service.as_str(), s.db, s.password),
            ("mymaster", 0, None)
        );
    }

    #[test]
    fn broken_sentinel_urls_say_what_is_missing() {
        for (url, says) in [
            ("redis+sentinel://h1:26379", "no service"),
            ("redis+sentinel://h1:26379/", "no service"),
            ("redis+sentinel:///svc", "no Sentinel"),
            ("redis+sentinel://h1:port/svc", "no valid port"),
            ("redis+sentinel://h1/svc/x", "not a number"),
            (
                "rediss+sentinel://h1/svc",
                "Sentinel over TLS is not supported",
            ),
        ] {
            let error = Endpoint::parse(url).unwrap_err();
            assert!(error.contains(says), "{url}: {error}");
        }
    }

    #[test]
    fn other_urls_are_left_to_the_redis_crate() {
        assert_eq!(
            Endpoint::parse("redis://:pw@host:6379/1").unwrap(),
            Endpoint::Direct("redis://:pw@host:6379/1".into())
        );
    }
}
