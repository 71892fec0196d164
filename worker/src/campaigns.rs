//! Campaign specs, loaded once per campaign and prepared for rendering, and the rendering of a
//! row into seven's request.
//!
//! A campaign's content is seven's message body with `{{column}}` placeholders in its texts
//! (see `wacast_shared::render`). Rendering that JSON for every row and reading the result back
//! into the typed message was the worker's largest CPU cost per message, so the content is read
//! into the typed body once per campaign, with its placeholders, and each row only fills in the
//! texts that hold one. Content the typed body cannot hold before rendering (a placeholder where
//! seven wants a number, such as a location's latitude) is rendered as JSON for each row, which
//! gives the same request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use metrics::{Counter, Histogram};
use serde::Deserialize;
use tokio::sync::OnceCell;
use wacast_shared::campaign::{Campaign, CampaignId};
use wacast_shared::message::QueuedMessage;
use wacast_shared::provider::seven::message::{Delay, MessageBody, SendOptions, SevenMessage};
use wacast_shared::queue::{Queue, QueueError};
use wacast_shared::render;

use crate::metrics::name;

/// Campaign specs, loaded and prepared once per campaign. A spec never changes after creation;
/// the state (paused, cancelled) is checked by `mark_sending` in Redis, not here.
#[derive(Default)]
pub struct CampaignCache {
    prepared: Mutex<HashMap<CampaignId, Arc<OnceCell<Arc<Prepared>>>>>,
}

impl CampaignCache {
    /// The prepared campaign `id`, loaded from Redis on first use. The first claim of a
    /// campaign hands out a whole batch of its messages at once: they wait for one load
    /// instead of each loading it.
    pub async fn get(&self, queue: &Queue, id: &CampaignId) -> Result<Arc<Prepared>, QueueError> {
        let cell = {
            // Inserts and lookups only: a poisoned map is still consistent.
            let mut prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(prepared.entry(id.clone()).or_default())
        };
        // A failed load leaves the cell empty: the next message tries again.
        cell.get_or_try_init(|| async {
            let record = queue.load_campaign(id).await?;
            Ok(Arc::new(Prepared::new(record.campaign)))
        })
        .await
        .cloned()
    }
}

/// A campaign ready to render rows: its spec, its content as the typed body, and the metric
/// handles of its sender.
pub struct Prepared {
    pub spec: Campaign,
    /// The content as seven's body with the placeholders still in its texts, or `None` when it
    /// only reads as one after rendering.
    body: Option<MessageBody>,
    pub metrics: SenderMetrics,
}

impl Prepared {
    pub fn new(spec: Campaign) -> Prepared {
        let body = MessageBody::deserialize(&spec.content).ok();
        let metrics = SenderMetrics::new(spec.from.digits());
        Prepared {
            spec,
            body,
            metrics,
        }
    }

    /// seven's request for one row at time `now`, validated: the content with the row's values,
    /// plus sender, recipient and the delivery options. The error is the reason recorded with
    /// the failed message.
    pub fn request(
        &self,
        message: &QueuedMessage,
        now: DateTime<Utc>,
    ) -> Result<SevenMessage, String> {
        let spec = &self.spec;
        let request = SevenMessage {
            from: spec.from.digits().to_string(),
            to: message.to.digits().to_string(),
            body: self.body(message)?,
            options: SendOptions {
                // A campaign with a handoff is claimed ahead of its send time: seven holds the
                // message until then (`delay`), and `wacast cancel` can still delete it there.
                delay: {
                    let send_at = message.overrides.send_at.unwrap_or(spec.send_at);
                    (spec.handoff_ahead_minutes > 0 && send_at > now)
                        .then(|| Delay::Unix(send_at.timestamp()))
                },
                ttl: Some(message.overrides.ttl_minutes.unwrap_or(spec.ttl_minutes)),
                label: message
                    .overrides
                    .label
                    .clone()
                    .or_else(|| spec.label.clone()),
                performance_tracking: spec.performance_tracking.then_some(true),
                foreign_id: Some(message.foreign_id()),
            },
        };
        request.validate().map_err(|e| e.to_string())?;
        Ok(request)
    }

    /// The row's message body: the prepared body with the row's values filled in, or the
    /// content rendered as JSON and read as a body.
    fn body(&self, message: &QueuedMessage) -> Result<MessageBody, String> {
        let Some(prepared) = &self.body else {
            return self.render_json(message);
        };
        let mut body = prepared.clone();
        body.try_for_each_text(|text| {
            if text.contains("{{") {
                *text = render::render_text(text, &self.spec.columns, &message.values)?;
            }
            Ok(())
        })
        .map_err(|e: render::RenderError| e.to_string())?;
        // As `render::render` does: the row's language replaces the template's.
        if let (Some(language), MessageBody::Template(template)) =
            (&message.overrides.language, &mut body)
        {
            template.language.clone_from(language);
        }
        Ok(body)
    }

    /// The reference way: the content rendered as JSON, then read as a body.
    fn render_json(&self, message: &QueuedMessage) -> Result<MessageBody, String> {
        let rendered = render::render(
            &self.spec.content,
            &self.spec.columns,
            &message.values,
            &message.overrides,
        )
        .map_err(|e| e.to_string())?;
        MessageBody::deserialize(rendered)
            .map_err(|e| format!("the rendered message is invalid: {e}"))
    }
}

/// A sender's metric handles, resolved once instead of looking the labelled series up for
/// every message. Failures are labelled by code as well and are rare: they are looked up.
pub struct SenderMetrics {
    sender: String,
    pub sent: Counter,
    pub expired: Counter,
    pub unknown: Counter,
    pub retried_rate_limited: Counter,
    pub retried_transient: Counter,
    pub rate_limit_wait: Histogram,
    pub request_duration: Histogram,
}

impl SenderMetrics {
    fn new(sender: &str) -> SenderMetrics {
        let sender = sender.to_string();
        let label = || [("sender", sender.clone())];
        let retried = |reason: &'static str| {
            let labels = [("sender", sender.clone()), ("reason", reason.to_string())];
            metrics::counter!(name::RETRIED, &labels)
        };
        SenderMetrics {
            sent: metrics::counter!(name::SENT, &label()),
            expired: metrics::counter!(name::EXPIRED, &label()),
            unknown: metrics::counter!(name::UNKNOWN, &label()),
            retried_rate_limited: retried("rate_limited"),
            retried_transient: retried("transient"),
            rate_limit_wait: metrics::histogram!(name::RATE_LIMIT_WAIT, &label()),
            request_duration: metrics::histogram!(name::REQUEST_DURATION, &label()),
            sender,
        }
    }

    /// Counts a failed message, by its code.
    pub fn failed(&self, code: &str) {
        let labels = [("sender", self.sender.clone()), ("code", code.to_string())];
        metrics::counter!(name::FAILED, &labels).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use wacast_shared::message::RowOverrides;
    use wacast_shared::phone::PhoneNumber;

    use super::*;

    fn campaign(content: Value, columns: &[&str]) -> Campaign {
        Campaign {
            id: CampaignId::parse("c1").unwrap(),
            provider: wacast_shared::campaign::ProviderKind::Seven,
            from: PhoneNumber::parse("4915112345678", None).unwrap(),
            content,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            send_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            ttl_minutes: 2880,
            label: Some("spring".into()),
            performance_tracking: false,
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            handoff_ahead_minutes: 0,
            window: None,
        }
    }

    fn row(values: &[&str], overrides: RowOverrides) -> QueuedMessage {
        QueuedMessage {
            campaign: CampaignId::parse("c1").unwrap(),
            row: 7,
            to: PhoneNumber::parse("4917612345678", None).unwrap(),
            values: values.iter().map(|v| v.to_string()).collect(),
            overrides,
            attempts: 0,
        }
    }

    /// Renders `content` for a row both ways and checks that they agree.
    fn check(content: Value, columns: &[&str], values: &[&str], overrides: RowOverrides) {
        let prepared = Prepared::new(campaign(content.clone(), columns));
        assert!(
            prepared.body.is_some(),
            "{content} is read before rendering"
        );
        let message = row(values, overrides);
        let filled = prepared.body(&message).expect("the row renders");
        assert_eq!(
            Ok(&filled),
            prepared.render_json(&message).as_ref(),
            "{content}"
        );
        let wire = serde_json::to_string(&filled).unwrap();
        assert!(!wire.contains("{{"), "a placeholder was left in {wire}");
    }

    #[test]
    fn filling_the_typed_body_equals_rendering_the_json() {
        let values = ["Ann", "ORD-7", "https://example.com/a.jpg", "+49 30 1234"];
        let columns = ["name", "order_id", "link", "phone"];
        let contents = [
            json!({"type": "template", "template": "order_{{name}}", "language": "{{name}}",
                "components": {"header": ["{{name}}"], "body": ["{{name}}", "Order {{order_id}}"],
                "buttons": [{"type": "button", "sub_type": "{{name}}",
                             "parameters": [{"type": "text", "text": "{{order_id}}"}]}]}}),
            json!({"text": "Hello {{name}}, your order {{ order id }} shipped."}),
            json!({"type": "text", "text": "Hi {{name}}"}),
            json!({"type": "image", "url": "{{link}}", "caption": "For {{name}}"}),
            json!({"type": "video", "url": "{{link}}"}),
            json!({"type": "audio", "url": "{{link}}"}),
            json!({"type": "sticker", "url": "{{link}}"}),
            json!({"type": "document", "url": "{{link}}", "filename": "{{order_id}}.pdf",
                   "caption": "{{name}}"}),
            json!({"type": "location", "latitude": 52.5, "longitude": 13.4,
                   "name": "{{name}}", "address": "{{order_id}}"}),
            json!({"type": "contacts", "contacts": [{
                   "name": {"first_name": "{{name}}", "last_name": "{{order_id}}"},
                   "phones": [{"phone": "{{phone}}", "type": "cell"}]}]}),
            json!({"type": "interactive", "interactive_type": "button", "body": "{{name}}?",
                   "header": "{{order_id}}", "footer": "{{name}}", "buttons": [
                   {"id": "yes-{{order_id}}", "title": "Yes {{name}}"},
                   {"id": "{{name}}", "title": "{{name}}"}]}),
            json!({"type": "interactive", "interactive_type": "list", "body": "{{name}}",
                   "header": "h {{name}}", "footer": "{{name}}", "button_text": "{{name}}",
                   "sections": [{"title": "{{order_id}}", "rows": [
                   {"id": "{{order_id}}", "title": "{{name}}", "description": "{{link}}"}]}]}),
        ];
        for content in contents {
            check(content.clone(), &columns, &values, RowOverrides::default());
            let language = RowOverrides {
                language: Some("en_US".into()),
                ..RowOverrides::default()
            };
            check(content, &columns, &values, language);
        }
    }

    #[test]
    fn content_that_needs_rendering_first_is_rendered_as_json() {
        let content = json!({"type": "location", "latitude": "{{lat}}", "longitude": 13.4,
                             "name": "{{name}}"});
        let prepared = Prepared::new(campaign(content, &["lat", "name"]));
        assert!(prepared.body.is_none());
        let request = prepared
            .request(&row(&["52.5", "Shop"], RowOverrides::default()), Utc::now())
            .unwrap();
        let wire = serde_json::to_value(&request).unwrap();
        assert_eq!(wire["latitude"], json!(52.5));
        assert_eq!(wire["longitude"], json!(13.4));
        assert_eq!(wire["name"], json!("Shop"));
        let refused = prepared.request(
            &row(&["north", "Shop"], RowOverrides::default()),
            Utc::now(),
        );
        assert!(refused.unwrap_err().contains("latitude"));
    }

    #[test]
    fn the_request_carries_the_envelope_and_the_row_overrides() {
        let content = json!({"type": "template", "template": "order", "language": "de",
                             "components": {"body": ["{{name}}"]}});
        let mut spec = campaign(content, &["name"]);
        spec.handoff_ahead_minutes = 10;
        spec.performance_tracking = true;
        let prepared = Prepared::new(spec);
        let send_at = DateTime::from_timestamp(1_700_000_600, 0).unwrap();
        let overrides = RowOverrides {
            send_at: Some(send_at),
            ttl_minutes: Some(60),
            label: None,
            language: Some("en".into()),
        };
        let before = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let request = prepared
            .request(&row(&["Ann"], overrides.clone()), before)
            .unwrap();
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"from": "4915112345678", "to": "4917612345678", "type": "template",
                   "template": "order", "language": "en", "components": {"body": ["Ann"]},
                   "delay": 1_700_000_600, "ttl": 60, "label": "spring",
                   "performance_tracking": true, "foreign_id": "c1.7"})
        );
        // At or after the send time there is nothing for seven to hold.
        let request = prepared
            .request(&row(&["Ann"], overrides), send_at)
            .unwrap();
        assert_eq!(request.options.delay, None);
    }

    #[test]
    fn a_value_whatsapp_refuses_fails_the_row() {
        let content = json!({"type": "template", "template": "order", "language": "de",
                             "components": {"body": ["{{name}}"]}});
        let prepared = Prepared::new(campaign(content, &["name"]));
        let refused = prepared.request(&row(&["Ann\nBerlin"], RowOverrides::default()), Utc::now());
        assert!(refused.unwrap_err().contains("newline"), "refused");
    }
}
