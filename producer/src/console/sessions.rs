//! What a login is checked against and what it leaves behind: the configured tokens (compared
//! in constant time), the in-memory session store (a session's role, its CSRF token, its
//! expiry), and the keyed `governor` limiter of login attempts per client address.
//!
//! Sessions live in this process only: a restart logs everyone out, which for one console
//! beside the workers is cheaper than a session table in Redis.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Every page and every action.
    Operator,
    /// Every page, no action.
    Viewer,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

/// The tokens a login may present. Without an operator token the console is open (it then
/// listens on loopback only, which `server` enforces).
pub(crate) struct Tokens {
    pub(crate) operator: Option<SecretString>,
    pub(crate) viewer: Option<SecretString>,
}

impl Tokens {
    /// The role a presented token logs in as, if any.
    pub(crate) fn role_of(&self, presented: &str) -> Option<Role> {
        let Some(operator) = &self.operator else {
            return Some(Role::Operator);
        };
        // Both sides hashed first, so that the comparison takes the same time whatever the
        // lengths, and constant-time so that it tells nothing about how much matched.
        let presented = Sha256::digest(presented.as_bytes());
        let matches = |token: &SecretString| {
            bool::from(Sha256::digest(token.expose_secret().as_bytes()).ct_eq(&presented))
        };
        if matches(operator) {
            Some(Role::Operator)
        } else if self.viewer.as_ref().is_some_and(matches) {
            Some(Role::Viewer)
        } else {
            None
        }
    }

    pub(crate) fn open(&self) -> bool {
        self.operator.is_none()
    }
}

/// One login.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) role: Role,
    /// Every state-changing request of this session carries it.
    pub(crate) csrf: String,
    expires: Instant,
}

/// Sessions live here at most this many; the oldest go first. Logins are throttled per
/// address, so only a crowd of addresses could fill it, and then old sessions are lost, not
/// memory.
const MAX_SESSIONS: usize = 10_000;

/// The sessions by their cookie's value, each expiring after `ttl` without use.
pub(crate) struct SessionStore {
    ttl: Duration,
    sessions: Mutex<HashMap<String, Session>>,
}

impl SessionStore {
    pub(crate) fn new(ttl: Duration) -> SessionStore {
        SessionStore {
            ttl,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// A new session for `role`: the cookie value that names it.
    pub(crate) fn create(&self, role: Role) -> String {
        let id = random_token();
        let now = Instant::now();
        let session = Session {
            role,
            csrf: random_token(),
            expires: now + self.ttl,
        };
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), session);
        id
    }

    /// The live session named `id`, its expiry pushed back: a session expires after `ttl`
    /// without use.
    pub(crate) fn touch(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match sessions.get_mut(id) {
            Some(session) if session.expires > now => {
                session.expires = now + self.ttl;
                Some(session.clone())
            }
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    pub(crate) fn remove(&self, id: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.remove(id);
    }
}

/// 32 random bytes as hex: a session id or a CSRF token. `rand`'s thread generator is a
/// CSPRNG seeded from the OS.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Login attempts an address may make at once.
pub(crate) const LOGIN_BURST: u32 = 5;
/// Then one more every this long: guessing a 128-bit token stays hopeless, a person who
/// mistyped waits a few seconds.
const LOGIN_REFILL: Duration = Duration::from_secs(6);

/// Login attempts per client address, keyed `governor` limiter.
pub(crate) struct LoginLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimiter {
    pub(crate) fn new() -> LoginLimiter {
        let burst = NonZeroU32::new(LOGIN_BURST).expect("the burst is not zero");
        let quota = Quota::with_period(LOGIN_REFILL)
            .expect("the period is not zero")
            .allow_burst(burst);
        LoginLimiter {
            limiter: RateLimiter::keyed(quota),
        }
    }

    /// Whether `ip` may try a token now; counts the attempt.
    pub(crate) fn admits(&self, ip: IpAddr) -> bool {
        // Forgetting quiet addresses keeps the limiter's memory bounded.
        if self.limiter.len() > MAX_SESSIONS {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&ip).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_give_their_role_and_nothing_else() {
        let tokens = Tokens {
            operator: Some(SecretString::from("op-secret")),
            viewer: Some(SecretString::from("view-secret")),
        };
        assert_eq!(tokens.role_of("op-secret"), Some(Role::Operator));
        assert_eq!(tokens.role_of("view-secret"), Some(Role::Viewer));
        assert_eq!(tokens.role_of("op-secre"), None);
        assert_eq!(tokens.role_of(""), None);
    }

    #[test]
    fn sessions_expire_and_are_removed() {
        let store = SessionStore::new(Duration::from_millis(20));
        let id = store.create(Role::Viewer);
        assert_eq!(store.touch(&id).map(|s| s.role), Some(Role::Viewer));
        std::thread::sleep(Duration::from_millis(30));
        assert!(store.touch(&id).is_none());
        let id = store.create(Role::Operator);
        store.remove(&id);
        assert!(store.touch(&id).is_none());
    }

    #[test]
    fn an_address_is_throttled_after_its_burst() {
        let limiter = LoginLimiter::new();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..LOGIN_BURST {
            assert!(limiter.admits(ip));
        }
        assert!(!limiter.admits(ip));
        assert!(limiter.admits("192.0.2.2".parse().unwrap()));
    }
}
