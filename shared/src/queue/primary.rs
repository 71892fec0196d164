//! [`RedisConn`]: the connection every queue call goes through, to the one server of a
//! `redis://` URL or to whichever server Redis Sentinel names primary.
//!
//! The `redis` crate's `ConnectionManager` reconnects by itself, but always to the address it
//! was built with, and its Sentinel client resolves the primary once; neither follows a
//! failover. So a Sentinel connection here holds a `ConnectionManager` to the primary of the
//! moment and asks the Sentinels again whenever a call fails the way a failover makes calls
//! fail: the connection is gone or refused, it timed out, or the server answers `READONLY`
//! (the old primary came back as a replica) or `MASTERDOWN`. When the Sentinels name another
//! server (one that says it is primary: the crate checks its `ROLE`), later calls go there.
//! The failed call still returns its error: the callers already retry Redis errors (and only
//! they know whether a call is safe to repeat), and a script whose connection dropped may have
//! run. A direct connection is the plain `ConnectionManager`, nothing added.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::FutureExt;
use redis::ServerErrorKind;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, PubSub};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Client, Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use crate::queue::endpoint::{Endpoint, SentinelEndpoint};
use crate::queue::tls::RedisTls;

/// The least time between two questions to the Sentinels: while a failover is under way every
/// call fails, and one answer every so often is enough.
const RESOLVE_EVERY: Duration = Duration::from_millis(200);

/// A connection to the queue's Redis that follows the primary. Cheap to clone; clones share
/// the connection. Implements `redis::aio::ConnectionLike`, so any command runs on it.
#[derive(Clone)]
pub struct RedisConn(Kind);

#[derive(Clone)]
enum Kind {
    Direct {
        conn: ConnectionManager,
        /// Boxed: a TLS client's connection info is large, and every clone of the connection
        /// carries it.
        client: Box<Client>,
    },
    Followed(Arc<Followed>),
}

/// A connection to the primary that Sentinel names.
struct Followed {
    /// Asked for the primary; behind an async lock because it takes `&mut` and one question
    /// at a time is enough.
    sentinel: tokio::sync::Mutex<Resolver>,
    endpoint: SentinelEndpoint,
    config: ConnectionManagerConfig,
    current: RwLock<Current>,
}

struct Resolver {
    client: SentinelClient,
    /// When the Sentinels were last asked.
    asked: Option<Instant>,
}

#[derive(Clone)]
struct Current {
    /// Bumped at each move, so that calls that failed on an old primary do not ask again.
    generation: u64,
    addr: String,
    client: Client,
    conn: ConnectionManager,
}

impl RedisConn {
    /// Connects to `endpoint` with `config`, over TLS with `tls`'s files for a `rediss://` URL
    /// (every connection made from it later too: the marks', the subscriber's). Fails if no
    /// Redis (or no Sentinel, or no primary it names) answers now.
    pub(crate) async fn connect(
        endpoint: &Endpoint,
        tls: &RedisTls,
        config: ConnectionManagerConfig,
    ) -> RedisResult<RedisConn> {
        match endpoint {
            Endpoint::Direct(url) => {
                // The client keeps the certificates in its connection info, so every
                // connection made from a clone of it is made over the same TLS.
                let client = match tls.certificates() {
                    Some(certificates) => {
                        Client::build_with_tls(url.as_str(), certificates.clone())?
                    }
                    None => Client::open(url.as_str())?,
                };
                let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
                Ok(RedisConn(Kind::Direct {
                    conn,
                    client: Box::new(client),
                }))
            }
            Endpoint::Sentinel(sentinel) => {
                // A call on a dead primary must fail soon, so that the Sentinels are asked:
                // the manager would otherwise keep its callers waiting through its reconnection
                // attempts to the old address.
                let config = config.set_number_of_retries(1);
                let mut resolver = Resolver {
                    client: sentinel_client(sentinel)?,
                    asked: None,
                };
                let client = resolver.client.async_get_client().await?;
                resolver.asked = Some(Instant::now());
                let addr = client.get_connection_info().addr().to_string();
                let conn =
                    ConnectionManager::new_with_config(client.clone(), config.clone()).await?;
                tracing::debug!(primary = %addr, service = %sentinel.service, "Connected to the primary Sentinel names.");
                Ok(RedisConn(Kind::Followed(Arc::new(Followed {
                    sentinel: tokio::sync::Mutex::new(resolver),
                    endpoint: sentinel.clone(),
                    config,
                    current: RwLock::new(Current {
                        generation: 0,
                        addr,
                        client,
                        conn,
                    }),
                }))))
            }
        }
    }

    /// A new connection of its own to the same server (the primary of the moment), following
    /// the primary in the same way: for calls that must not share a connection, such as the
    /// marks that `WAIT` blocks (`WAIT` counts what the connection it is sent on wrote).
    pub(crate) async fn separate(&self) -> RedisResult<RedisConn> {
        match &self.0 {
            Kind::Direct { client, .. } => {
                let conn = ConnectionManager::new_with_config((**client).clone(), default_config())
                    .await?;
                Ok(RedisConn(Kind::Direct {
                    conn,
                    client: client.clone(),
                }))
            }
            Kind::Followed(followed) => {
                let current = followed.current();
                let conn = ConnectionManager::new_with_config(
                    current.client.clone(),
                    followed.config.clone(),
                )
                .await?;
                Ok(RedisConn(Kind::Followed(Arc::new(Followed {
                    sentinel: tokio::sync::Mutex::new(Resolver {
                        client: sentinel_client(&followed.endpoint)?,
                        asked: None,
                    }),
                    endpoint: followed.endpoint.clone(),
                    config: followed.config.clone(),
                    current: RwLock::new(Current { conn, ..current }),
                }))))
            }
        }
    }

    /// A pub/sub connection to the primary of the moment (the wake subscriber's).
    pub(crate) async fn pubsub(&self) -> RedisResult<PubSub> {
        match &self.0 {
            Kind::Direct { client, .. } => client.get_async_pubsub().await,
            Kind::Followed(followed) => {
                // A subscriber that lost its connection asks again before subscribing: the
                // primary may have moved while nothing else failed.
                let seen = followed.current().generation;
                followed.follow(seen, true).await;
                let client = followed.current().client;
                client.get_async_pubsub().await
            }
        }
    }
}

impl Followed {
    fn current(&self) -> Current {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Asks the Sentinels for the primary (unless a call that failed on the same primary did
    /// so a moment ago) and moves to it if it is another server.
    async fn follow(&self, seen: u64, force: bool) {
        let mut resolver = self.sentinel.lock().await;
        if self.current().generation != seen {
            return;
        }
        if !force
            && resolver
                .asked
                .is_some_and(|at| at.elapsed() < RESOLVE_EVERY)
        {
            return;
        }
        resolver.asked = Some(Instant::now());
        let client = match resolver.client.async_get_client().await {
            Ok(client) => client,
            Err(error) => {
                tracing::debug!(%error, "Sentinel names no reachable primary yet.");
                return;
            }
        };
        let addr = client.get_connection_info().addr().to_string();
        let current = self.current();
        if addr == current.addr {
            return;
        }
        match ConnectionManager::new_with_config(client.clone(), self.config.clone()).await {
            Ok(conn) => {
                tracing::warn!(from = %current.addr, to = %addr, "Redis failed over: following the new primary that Sentinel names.");
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Current {
                    generation: current.generation + 1,
                    addr,
                    client,
                    conn,
                };
            }
            Err(error) => {
                tracing::debug!(%error, primary = %addr, "Cannot connect to the new primary yet.");
            }
        }
    }

    async fn after<T>(&self, seen: u64, result: RedisResult<T>) -> RedisResult<T> {
        if let Err(error) = &result
            && failed_over(error)
        {
            self.follow(seen, false).await;
        }
        result
    }
}

/// Whether a call failed the way calls fail while the primary moves.
fn failed_over(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || matches!(
            error.kind(),
            ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
        )
}

fn sentinel_client(endpoint: &SentinelEndpoint) -> RedisResult<SentinelClient> {
    let mut builder = SentinelClientBuilder::new(
        endpoint.addrs(),
        &endpoint.service,
        SentinelServerType::Master,
    )?
    .set_client_to_redis_db(endpoint.db);
    if let Some(user) = &endpoint.username {
        builder = builder.set_client_to_redis_username(user);
    }
    if let Some(password) = &endpoint.password {
        builder = builder.set_client_to_redis_password(password);
    }
    builder.build()
}

/// The config of a connection made by [`RedisConn::separate`] of a direct connection.
fn default_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_max_delay(Duration::from_secs(5))
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.0 {
            Kind::Direct { conn, .. } => conn.req_packed_command(cmd),
            Kind::Followed(followed) => {
                let followed = Arc::clone(followed);
                async move {
                    let Current {
                        generation,
                        mut conn,
                        ..
                    } = followed.current();
                    let result = conn.req_packed_command(cmd).await;
                    followed.after(generation, result).await
                }
                .boxed()
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.0 {
            Kind::Direct { conn, .. } => conn.req_packed_commands(pipeline, offset, count),
            Kind::Followed(followed) => {
                let followed = Arc::clone(followed);
                async move {
                    let Current {
                        generation,
                        mut conn,
                        ..
                    } = followed.current();
                    let result = conn.req_packed_commands(pipeline, offset, count).await;
                    followed.after(generation, result).await
                }
                .boxed()
            }
        }
    }

    fn get_db(&self) -> i64 {
        match &self.0 {
            Kind::Direct { conn, .. } => conn.get_db(),
            Kind::Followed(followed) => followed.current().conn.get_db(),
        }
    }
}
