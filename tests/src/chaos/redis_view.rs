//! What the soak reads from Redis, through wacast's own key schema: the messages in flight (from
//! the lease set, which holds every claimed and sending message and is bounded by the workers'
//! concurrency) and, at the end, every message's status and validity.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use chrono::DateTime;
use wacast_shared::campaign::CampaignId;
use wacast_shared::message::Row;
use wacast_shared::queue::{CampaignRecord, MessageStatus, Queue, QueueError};

/// How long a read keeps trying while Redis restarts.
const RETRY_FOR: Duration = Duration::from_secs(15);

/// Runs a Redis read until it works or [`RETRY_FOR`] has passed: the soak restarts Redis, and
/// the connection comes back by itself.
pub(crate) async fn retrying<T, F, Fut>(what: &str, mut read: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + RETRY_FOR;
    loop {
        match read().await {
            Ok(value) => return Ok(value),
            Err(error) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(what, error = %format!("{error:#}"), "Redis read failed; retrying.");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => return Err(error.context(format!("cannot read {what} from Redis"))),
        }
    }
}

/// A leased (claimed or sending) message.
struct Leased {
    campaign: CampaignId,
    row: Row,
    status: String,
    worker: String,
    /// Provider attempts made before the current one.
    attempts: u32,
}

async fn leased(queue: &Queue) -> anyhow::Result<Vec<Leased>> {
    let mut conn = queue.connection();
    let refs: Vec<String> = redis::cmd("ZRANGE")
        .arg(queue.keys().leases())
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await?;
    if refs.is_empty() {
        // Redis refuses an empty pipeline.
        return Ok(Vec::new());
    }
    let mut parsed = Vec::with_capacity(refs.len());
    let mut pipe = redis::pipe();
    for reference in &refs {
        let (id, row) = reference
            .rsplit_once(':')
            .with_context(|| format!("lease {reference:?} is not CAMPAIGN:ROW"))?;
        let id = CampaignId::parse(id).with_context(|| format!("lease {reference:?}"))?;
        let row: Row = row
            .parse()
            .with_context(|| format!("lease {reference:?}"))?;
        pipe.cmd("HMGET")
            .arg(queue.keys().message(&id, row))
            .arg(&["status", "worker", "attempts"][..]);
        parsed.push((id, row));
    }
    let fields: Vec<(Option<String>, Option<String>, Option<u32>)> =
        pipe.query_async(&mut conn).await?;
    Ok(parsed
        .into_iter()
        .zip(fields)
        .map(|((campaign, row), (status, worker, attempts))| Leased {
            campaign,
            row,
            status: status.unwrap_or_default(),
            worker: worker.unwrap_or_default(),
            attempts: attempts.unwrap_or(0),
        })
        .collect())
}

/// The messages the worker started with `--name name` has in `sending`, as their gateway ids
/// (`campaign.row`) with the provider attempts each made before the current one.
pub(crate) async fn sending_by_worker(
    queue: &Queue,
    name: &str,
) -> anyhow::Result<Vec<(String, u32)>> {
    let prefix = format!("{name}-");
    let leased = retrying("the lease set", || leased(queue)).await?;
    Ok(leased
        .into_iter()
        .filter(|m| m.status == MessageStatus::Sending.as_str() && m.worker.starts_with(&prefix))
        .map(|m| (format!("{}.{}", m.campaign, m.row), m.attempts))
        .collect())
}

/// The rows of campaign `id` in `sending`, with the provider attempts each made before the
/// current one.
pub(crate) async fn sending_of_campaign(
    queue: &Queue,
    id: &CampaignId,
) -> anyhow::Result<HashMap<Row, u32>> {
    let leased = retrying("the lease set", || leased(queue)).await?;
    Ok(leased
        .into_iter()
        .filter(|m| &m.campaign == id && m.status == MessageStatus::Sending.as_str())
        .map(|m| (m.row, m.attempts))
        .collect())
}

/// A campaign's record.
pub(crate) async fn campaign(queue: &Queue, id: &CampaignId) -> anyhow::Result<CampaignRecord> {
    retrying("a campaign", || async {
        queue.load_campaign(id).await.map_err(anyhow::Error::from)
    })
    .await
}

/// One message as the checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageView {
    /// `None`: the row has no message hash.
    pub(crate) status: Option<String>,
    /// Its send time, in unix milliseconds: no request for it may arrive earlier.
    pub(crate) send_at_ms: i64,
    /// Its send time plus its ttl, in unix milliseconds: no request for it may arrive later.
    pub(crate) valid_until_ms: i64,
}

/// Every row `1..=rows` of campaign `record`, by row.
pub(crate) async fn messages(
    queue: &Queue,
    record: &CampaignRecord,
    rows: Row,
) -> anyhow::Result<HashMap<Row, MessageView>> {
    let campaign = &record.campaign;
    let all_rows: Vec<Row> = (1..=rows).collect();
    let fields = retrying("the messages", || async {
        queue
            .message_fields(&campaign.id, &all_rows, &["status", "send_at", "ttl"])
            .await
            .map_err(|e: QueueError| anyhow::Error::from(e))
    })
    .await?;
    let mut out = HashMap::with_capacity(all_rows.len());
    for (row, values) in all_rows.into_iter().zip(fields) {
        let [status, send_at, ttl] = <[Option<String>; 3]>::try_from(values)
            .map_err(|_| anyhow::anyhow!("HMGET of 3 fields did not answer 3 values"))?;
        let send_at = match send_at {
            Some(text) => DateTime::parse_from_rfc3339(&text)
                .with_context(|| format!("row {row}: send_at {text:?}"))?
                .timestamp_millis(),
            None => campaign.send_at.timestamp_millis(),
        };
        let ttl_minutes = match ttl {
            Some(text) => text
                .parse::<i64>()
                .with_context(|| format!("row {row}: ttl {text:?}"))?,
            None => i64::from(campaign.ttl_minutes),
        };
        out.insert(
            row,
            MessageView {
                status,
                send_at_ms: send_at,
                valid_until_ms: send_at + ttl_minutes * 60_000,
            },
        );
    }
    Ok(out)
}

/// A campaign's `delivered` counter (messages delivered or read), read raw from its hash;
/// `None` while nothing has written it (no callback recorded yet).
pub(crate) async fn delivered(
    redis_url: &str,
    prefix: &str,
    id: &CampaignId,
) -> anyhow::Result<Option<u64>> {
    let key = format!("{prefix}:campaign:{id}");
    retrying("a campaign's delivered counter", || async {
        let client = redis::Client::open(redis_url)?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        let value: Option<u64> = redis::cmd("HGET")
            .arg(&key)
            .arg("delivered")
            .query_async(&mut connection)
            .await?;
        anyhow::Ok(value)
    })
    .await
}
