//! The providers' callbacks recorded: a message's delivery status and its campaign's funnel
//! counters in one script (`record_status.lua`), inbound messages as replies and opt-outs
//! (`record_inbound.lua`), the callbacks no message matches kept in a bounded list, and the
//! nonces a signed callback may use once. The scripts say what each report does; the indexes
//! they find messages by are written by the ack (`index_sent` in `common.lua`).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use crate::delivery::{Callback, DeliveryPolicy, DeliveryStatus, Inbound, Recorded, StatusReport};
use crate::queue::bounds::{MAX_DELIVERY_ERROR_LEN, truncate};
use crate::queue::clock::millis;
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;
use crate::queue::scripts::SCRIPTS;
use crate::streak::{StreakRule, TEMPLATE_CODES, whatsapp_code};

/// What recording one callback came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackRecord {
    /// Recorded, duplicate or unmatched.
    pub recorded: Recorded,
    /// How long after its send the message was delivered, when this callback was the first to
    /// tell (a `delivered`, or a `read` before any `delivered`): the delivery latency.
    pub delivered_after: Option<Duration>,
}

impl Queue {
    /// Records one callback: a status report updates its message and its campaign's counters
    /// together (idempotent, ordered by meaning), an inbound message counts as a reply to the
    /// campaign that messaged its writer last and may opt the number out. Returns what it came
    /// to; a Redis error means nothing was recorded (the endpoint answers 503 and the provider
    /// tries again).
    pub async fn record_callback(
        &self,
        callback: &Callback,
        policy: &DeliveryPolicy,
    ) -> Result<CallbackRecord, QueueError> {
        let (answer, sent_at): (String, String) = match callback {
            Callback::Status(report) => self.record_status(report, policy).await?,
            Callback::Inbound(inbound) => {
                (self.record_inbound(inbound, policy).await?, String::new())
            }
        };
        let recorded = match answer.as_str() {
            "recorded" => Recorded::Recorded,
            "duplicate" => Recorded::Duplicate,
            "unmatched" => Recorded::Unmatched,
            other => {
                return Err(QueueError::Corrupt {
                    key: self.keys.hooks_unmatched(),
                    field: "record callback reply".into(),
                    detail: format!("unexpected answer {other:?}"),
                });
            }
        };
        // How long after its send the message was delivered, when this callback told it first.
        let delivered_after = match (callback, DateTime::parse_from_rfc3339(&sent_at)) {
            (Callback::Status(report), Ok(sent_at)) => {
                (report.at - sent_at.with_timezone(&Utc)).to_std().ok()
            }
            _ => None,
        };
        Ok(CallbackRecord {
            recorded,
            delivered_after,
        })
    }

    async fn record_status(
        &self,
        report: &StatusReport,
        policy: &DeliveryPolicy,
    ) -> Result<(String, String), QueueError> {
        let at = rfc3339(report.at);
        let reference = report.message.reference.as_ref();
        // Late template-level failures pause the campaign as the ack's do: the template is
        // refused for every message. Other late failures belong to their recipients.
        let code = whatsapp_code(
            report.error_code.as_deref().unwrap_or(""),
            report.error.as_deref().unwrap_or(""),
        );
        let streak = match report.status {
            DeliveryStatus::Failed if TEMPLATE_CODES.contains(&code) => {
                StreakRule::for_code(code, 0)
            }
            _ => StreakRule::NEVER,
        };
        let provider_id = report.message.provider_id.as_deref().unwrap_or("");
        let unmatched = json!({
            "at": at,
            "provider": report.provider.as_str(),
            "kind": "status",
            "reference": reference.map(|(id, row)| format!("{id}.{row}")),
            "provider_id": report.message.provider_id,
            "status": report.status.as_str(),
            "from": null,
        });
        let mut invocation = SCRIPTS.record_status.prepare_invoke();
        invocation
            .key(self.keys.due())
            .key(self.keys.hooks_unmatched())
            .arg(self.keys.campaign_prefix())
            .arg(self.keys.limit_prefix())
            .arg(report.provider.as_str())
            .arg(reference.map_or("", |(id, _)| id.as_str()))
            .arg(reference.map_or(String::new(), |(_, row)| row.to_string()))
            .arg(provider_id)
            .arg(report.status.as_str())
            .arg(&at)
            .arg(report.error_code.as_deref().unwrap_or(""))
            .arg(truncate(
                report.error.as_deref().unwrap_or(""),
                MAX_DELIVERY_ERROR_LEN,
            ))
            .arg(
                report
                    .price
                    .filter(|p| p.is_finite() && *p >= 0.0)
                    .map_or(String::new(), |p| p.to_string()),
            )
            .arg(millis(policy.marketing_limit_delay))
            .arg(unmatched.to_string())
            .arg(streak.script_arg())
            .arg(code);
        invocation
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("record status callback"))
    }

    async fn record_inbound(
        &self,
        inbound: &Inbound,
        policy: &DeliveryPolicy,
    ) -> Result<String, QueueError> {
        let at = rfc3339(inbound.at);
        let optout = inbound
            .text
            .as_deref()
            .is_some_and(|text| policy.is_optout(text));
        let unmatched = json!({
            "at": at,
            "provider": inbound.provider.as_str(),
            "kind": "inbound",
            "reference": null,
            "provider_id": null,
            "status": null,
            "from": inbound.from,
        });
        SCRIPTS
            .record_inbound
            .key(self.keys.hooks_unmatched())
            .arg(self.keys.campaign_prefix())
            .arg(self.keys.limit_prefix())
            .arg(inbound.provider.as_str())
            .arg(&inbound.sender)
            .arg(&inbound.from)
            .arg(&at)
            .arg(if optout { "1" } else { "0" })
            .arg(millis(policy.reply_window))
            .arg(unmatched.to_string())
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("record inbound callback"))
    }

    /// Takes a signed callback's nonce for `ttl` (longer than the signature's accepted age):
    /// `true` the first time, `false` for a nonce seen before (a replay).
    pub async fn claim_nonce(
        &self,
        provider: &str,
        nonce: &str,
        ttl: Duration,
    ) -> Result<bool, QueueError> {
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.keys.hooks_nonce(provider, nonce))
            .arg("1")
            .arg("NX")
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("claim nonce"))?;
        Ok(taken.is_some())
    }
}

/// A callback's time as the hashes store times: RFC 3339, UTC, milliseconds.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
