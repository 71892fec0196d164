//! One row of a campaign → the request its provider is sent: [`Renderer`] and [`Rendered`].
//!
//! A campaign's content is the provider's message with `{{column}}` placeholders in its texts
//! (see [`crate::render`]). Rendering that JSON for every row and reading the result back into
//! the typed message was the worker's largest CPU cost per message, so a [`Renderer`] reads the
//! content into the provider's typed message once per campaign, placeholders included, and each
//! row only fills in the texts that hold one. Content the typed message cannot hold before
//! rendering (a placeholder where the provider wants a number, such as a location's latitude)
//! is rendered as JSON for each row, which gives the same request.
//!
//! Both providers get the same envelope from the campaign and the row: the recipient, the
//! campaign's reference `{campaign}.{row}` (seven's `foreign_id`, Bird's `reference`), the
//! validity (seven's `ttl` in minutes, Bird's `validity` in seconds), the label (seven's
//! `label`, a Bird tag), the send time when the message is handed over ahead of it (seven's
//! `delay`, Bird's `scheduledFor`), and the row's `language` (seven's template `language`,
//! Bird's template `locale`). Every request is validated before it is returned, so that a
//! message its provider would refuse fails here, with the reason, and costs no request; the
//! request is [`Valid`], so the client that sends it checks nothing again.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use crate::campaign::{BirdTarget, Campaign, ProviderKind};
use crate::message::QueuedMessage;
use crate::provider::bird::message::{
    self as bird_message, BirdMessage, Content as BirdContent, Receiver, SendOptions as BirdOptions,
};
use crate::provider::bird::request::BirdRequest;
use crate::provider::seven::message::{Delay, MessageBody, SendOptions, SevenMessage};
use crate::provider::validate::{Valid, ValidationError};
use crate::render::{self, RenderError};
use crate::schedule::Schedule;

/// Why a row cannot become its provider's request. The message is recorded `failed` with the
/// reason: sending it as it stands cannot succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// A placeholder cannot be filled in.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The rendered content is not a message of the provider.
    #[error("the rendered message is invalid: {0}")]
    Content(String),
    /// The provider would refuse the message.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A Bird campaign stored without its workspace and channel.
    #[error(
        "the campaign has no Bird workspace and channel: enqueue it again with --workspace and --channel"
    )]
    NoBirdTarget,
}

/// A request ready to be sent: the provider's typed message, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    /// seven's `POST /api/waba/messages` body.
    Seven(Valid<SevenMessage>),
    /// Bird's send request: where to post it and its body.
    Bird(BirdRequest),
}

/// Serialises as the request body on the wire.
impl Serialize for Rendered {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Rendered::Seven(message) => message.serialize(serializer),
            Rendered::Bird(request) => request.message.serialize(serializer),
        }
    }
}

/// A campaign's content read into its provider's typed message once, ready to render rows.
#[derive(Debug, Clone)]
pub struct Renderer {
    prepared: Prepared,
}

#[derive(Debug, Clone)]
enum Prepared {
    /// seven's body with the placeholders in its texts, or `None` when the content only reads
    /// as one after rendering.
    Seven(Option<MessageBody>),
    Bird {
        /// As for seven.
        content: Option<BirdContent>,
        /// Shared by every request of the campaign.
        target: Option<Arc<BirdTarget>>,
    },
}

impl Renderer {
    /// Reads the campaign's content into its provider's typed message.
    pub fn new(campaign: &Campaign) -> Renderer {
        let prepared = match campaign.provider {
            ProviderKind::Seven => {
                Prepared::Seven(MessageBody::deserialize(&campaign.content).ok())
            }
            ProviderKind::Bird => Prepared::Bird {
                content: BirdContent::deserialize(&campaign.content).ok(),
                target: campaign.bird.clone().map(Arc::new),
            },
        };
        Renderer { prepared }
    }

    /// The request for one row of `campaign` (the campaign this renderer was made for) at time
    /// `now`, validated: the content with the row's values, the recipient and the delivery
    /// options. A message handed over before its send time asks the provider to hold it until
    /// then.
    pub fn render(
        &self,
        campaign: &Campaign,
        message: &QueuedMessage,
        now: DateTime<Utc>,
    ) -> Result<Rendered, RequestError> {
        match &self.prepared {
            Prepared::Seven(body) => {
                seven(campaign, body.as_ref(), message, now).map(Rendered::Seven)
            }
            Prepared::Bird { content, target } => {
                let target = target.as_ref().ok_or(RequestError::NoBirdTarget)?;
                bird(campaign, content.as_ref(), message, now).map(|message| {
                    Rendered::Bird(BirdRequest {
                        target: Arc::clone(target),
                        message,
                    })
                })
            }
        }
    }
}

/// Fills the placeholders of one text.
fn fill(
    text: &mut String,
    campaign: &Campaign,
    message: &QueuedMessage,
) -> Result<(), RenderError> {
    if text.contains("{{") {
        *text = render::render_text(text, &campaign.columns, &message.values)?;
    }
    Ok(())
}

/// The content rendered as JSON: the reference way, for content that reads as the typed
/// message only after rendering.
fn render_json(
    campaign: &Campaign,
    message: &QueuedMessage,
) -> Result<serde_json::Value, RenderError> {
    render::render(
        &campaign.content,
        &campaign.columns,
        &message.values,
        &message.overrides,
    )
}

fn seven(
    campaign: &Campaign,
    prepared: Option<&MessageBody>,
    message: &QueuedMessage,
    now: DateTime<Utc>,
) -> Result<Valid<SevenMessage>, RequestError> {
    let body = match prepared {
        Some(prepared) => {
            let mut body = prepared.clone();
            body.try_for_each_text(|text| fill(text, campaign, message))?;
            // As `render::render` does: the row's language replaces the template's.
            if let (Some(language), MessageBody::Template(template)) =
                (&message.overrides.language, &mut body)
            {
                template.language.clone_from(language);
            }
            body
        }
        None => MessageBody::deserialize(render_json(campaign, message)?)
            .map_err(|e| RequestError::Content(e.to_string()))?,
    };
    let schedule = Schedule::of(campaign, &message.overrides);
    let request = SevenMessage {
        from: campaign.from.digits().to_string(),
        to: message.to.digits().to_string(),
        body,
        options: SendOptions {
            // seven holds the message until then (`delay`), and `wacast cancel` can still
            // delete it there.
            delay: schedule
                .hold_until(now)
                .map(|at| Delay::Unix(at.timestamp())),
            ttl: Some(schedule.ttl_minutes),
            label: message
                .overrides
                .label
                .clone()
                .or_else(|| campaign.label.clone()),
            performance_tracking: campaign.performance_tracking.then_some(true),
            foreign_id: Some(message.foreign_id()),
        },
    };
    Ok(Valid::new_at(request, now)?)
}

fn bird(
    campaign: &Campaign,
    prepared: Option<&BirdContent>,
    message: &QueuedMessage,
    now: DateTime<Utc>,
) -> Result<Valid<BirdMessage>, RequestError> {
    let mut content = match prepared {
        Some(prepared) => {
            let mut content = prepared.clone();
            content.try_for_each_text(|text| fill(text, campaign, message))?;
            content
        }
        None => BirdContent::deserialize(render_json(campaign, message)?)
            .map_err(|e| RequestError::Content(e.to_string()))?,
    };
    if let (Some(language), BirdContent::Template(template)) =
        (&message.overrides.language, &mut content)
    {
        template.locale.clone_from(language);
    }
    let schedule = Schedule::of(campaign, &message.overrides);
    let scheduled_for = schedule.hold_until(now);
    // Bird counts validity from when it sends (the scheduled time, else now), wacast's ttl
    // from the send time: what is left of it, so that a message sent late in its validity
    // does not outlive it at Bird.
    let starts = scheduled_for.unwrap_or(now).max(schedule.send_at);
    let full = i64::from(bird_message::validity_seconds(schedule.ttl_minutes).max(1));
    let left = (schedule.expires_at() - starts)
        .num_seconds()
        .clamp(1, full);
    let validity = u32::try_from(left).unwrap_or(u32::MAX);
    let mut tags = campaign
        .bird
        .as_ref()
        .map(|target| target.tags.clone())
        .unwrap_or_default();
    if let Some(label) = message.overrides.label.as_ref().or(campaign.label.as_ref()) {
        let tag = bird_message::tag(label);
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let request = BirdMessage {
        receiver: Receiver::phone(&message.to),
        content,
        options: BirdOptions {
            reference: Some(message.foreign_id()),
            scheduled_for,
            validity: Some(validity),
            tags,
            ..BirdOptions::default()
        },
    };
    Ok(Valid::new_at(request, now)?)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::campaign::CampaignId;
    use crate::message::RowOverrides;
    use crate::phone::PhoneNumber;

    const WORKSPACE: &str = "3f7a1c2e-8b4d-4e6f-9a0b-1c2d3e4f5a6b";
    const CHANNEL: &str = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b";
    const PROJECT: &str = "0b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    /// One row of `spec` rendered with a renderer made for it.
    fn render(
        spec: &Campaign,
        message: &QueuedMessage,
        now: DateTime<Utc>,
    ) -> Result<Rendered, RequestError> {
        Renderer::new(spec).render(spec, message, now)
    }

    fn campaign(content: Value, columns: &[&str]) -> Campaign {
        Campaign {
            id: CampaignId::parse("c1").unwrap(),
            provider: ProviderKind::Seven,
            from: PhoneNumber::parse("4915112345678", None).unwrap(),
            content,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            send_at: at(1_700_000_000),
            ttl_minutes: 2880,
            label: Some("spring".into()),
            performance_tracking: false,
            created_at: at(1_700_000_000),
            handoff_ahead_minutes: 0,
            bird: None,
            window: None,
            only_open_window: false,
            tz: chrono_tz::UTC,
        }
    }

    fn bird_campaign(content: Value, columns: &[&str]) -> Campaign {
        Campaign {
            provider: ProviderKind::Bird,
            bird: Some(BirdTarget {
                workspace_id: WORKSPACE.into(),
                channel_id: CHANNEL.into(),
                tags: vec!["vip".into()],
            }),
            ..campaign(content, columns)
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

    fn language(language: &str) -> RowOverrides {
        RowOverrides {
            language: Some(language.into()),
            ..RowOverrides::default()
        }
    }

    /// Renders `content` for a row both ways (the prepared typed message filled in, and the
    /// JSON rendered then read) and checks that they agree.
    fn check_both_ways(spec: &Campaign, values: &[&str], overrides: RowOverrides) {
        let renderer = Renderer::new(spec);
        let prepared = match &renderer.prepared {
            Prepared::Seven(body) => body.is_some(),
            Prepared::Bird { content, .. } => content.is_some(),
        };
        assert!(prepared, "{} is read before rendering", spec.content);
        let json_only = Renderer {
            prepared: match renderer.prepared.clone() {
                Prepared::Seven(_) => Prepared::Seven(None),
                Prepared::Bird { target, .. } => Prepared::Bird {
                    content: None,
                    target,
                },
            },
        };
        let message = row(values, overrides);
        let now = spec.send_at;
        let filled = renderer
            .render(spec, &message, now)
            .expect("the row renders");
        assert_eq!(
            Ok(&filled),
            json_only.render(spec, &message, now).as_ref(),
            "{}",
            spec.content
        );
        let wire = serde_json::to_string(&filled).unwrap();
        assert!(!wire.contains("{{"), "a placeholder was left in {wire}");
    }

    const VALUES: [&str; 4] = ["Ann", "ORD-7", "https://example.com/a.jpg", "+49 30 1234"];
    const COLUMNS: [&str; 4] = ["name", "order_id", "link", "phone"];

    #[test]
    fn filling_seven_s_typed_body_equals_rendering_the_json() {
        let contents = [
            json!({"type": "template", "template": "order_confirmation", "language": "de",
                "components": {"header": ["{{name}}"], "body": ["{{name}}", "Order {{order_id}}"],
                "buttons": [{"type": "button", "sub_type": "url",
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
            json!({"type": "contacts", "contacts": [{"name": {"first_name": "{{name}}",
                   "last_name": "{{order_id}}"}, "phones": [{"phone": "{{phone}}", "type": "cell"}]}]}),
            json!({"type": "interactive", "interactive_type": "button", "body": "{{name}}?",
                   "header": "{{order_id}}", "footer": "{{name}}", "buttons": [
                   {"id": "yes-{{order_id}}", "title": "Yes {{name}}"}, {"id": "{{name}}", "title": "No"}]}),
            json!({"type": "interactive", "interactive_type": "list", "body": "{{name}}",
                   "header": "h {{name}}", "footer": "{{name}}", "button_text": "{{name}}",
                   "sections": [{"title": "{{order_id}}", "rows": [
                   {"id": "{{order_id}}", "title": "{{name}}", "description": "{{link}}"}]}]}),
        ];
        for content in contents {
            let spec = campaign(content, &COLUMNS);
            check_both_ways(&spec, &VALUES, RowOverrides::default());
            check_both_ways(&spec, &VALUES, language("en_US"));
        }
    }

    #[test]
    fn filling_bird_s_typed_content_equals_rendering_the_json() {
        let contents = [
            json!({"template": {"projectId": PROJECT, "version": "latest", "locale": "en",
                "parameters": [{"type": "string", "key": "name", "value": "{{name}}"},
                               {"type": "string", "key": "order", "value": "#{{order_id}}"}]}}),
            json!({"body": {"type": "text", "text": {"text": "Hi {{name}}", "actions": [
                {"type": "postback", "postback": {"text": "Yes {{name}}", "payload": "{{order_id}}"}},
                {"type": "reply", "reply": {"text": "No"}}]}}}),
            json!({"body": {"type": "image", "image": {"images": [{"mediaUrl": "{{link}}",
                "altText": "{{name}}"}], "text": "For {{name}}"}}}),
            json!({"body": {"type": "file", "file": {"files": [{"mediaUrl": "{{link}}",
                "contentType": "application/pdf", "filename": "{{order_id}}.pdf"}]}}}),
            json!({"body": {"type": "location", "location": {"coordinates":
                {"latitude": 52.5, "longitude": 13.4}, "location": {"label": "{{name}}",
                "address": "{{order_id}}"}}}}),
            json!({"body": {"type": "list", "list": {"title": "{{name}}", "text": "Pick",
                "altText": "{{name}}", "metadata": {"button": {"label": "{{name}}"}},
                "items": [{"title": "{{order_id}}", "actions": [{"type": "postback",
                "postback": {"text": "{{name}}", "payload": "{{order_id}}"}}]}]}}}),
        ];
        for content in contents {
            let spec = bird_campaign(content, &COLUMNS);
            check_both_ways(&spec, &VALUES, RowOverrides::default());
            check_both_ways(&spec, &VALUES, language("de-DE"));
        }
    }

    #[test]
    fn content_that_needs_rendering_first_is_rendered_as_json() {
        let content = json!({"type": "location", "latitude": "{{lat}}", "longitude": 13.4,
                             "name": "{{name}}"});
        let spec = campaign(content, &["lat", "name"]);
        let now = spec.send_at;
        let request = render(&spec, &row(&["52.5", "Shop"], RowOverrides::default()), now).unwrap();
        let wire = serde_json::to_value(&request).unwrap();
        assert_eq!(wire["latitude"], json!(52.5));
        assert_eq!(wire["name"], json!("Shop"));
        let refused = render(
            &spec,
            &row(&["north", "Shop"], RowOverrides::default()),
            now,
        );
        assert!(refused.unwrap_err().to_string().contains("latitude"));

        let content = json!({"body": {"type": "location", "location": {"coordinates":
            {"latitude": "{{lat}}", "longitude": 13.4}}}});
        let spec = bird_campaign(content, &["lat"]);
        let request = render(&spec, &row(&["52.5"], RowOverrides::default()), now).unwrap();
        let wire = serde_json::to_value(&request).unwrap();
        assert_eq!(
            wire["body"]["location"]["coordinates"]["latitude"],
            json!(52.5)
        );
        let refused = render(&spec, &row(&["95"], RowOverrides::default()), now);
        assert!(
            refused.unwrap_err().to_string().contains("latitude"),
            "Bird's range check"
        );
    }

    #[test]
    fn seven_s_request_carries_the_envelope_and_the_row_overrides() {
        let content = json!({"type": "template", "template": "order", "language": "de",
                             "components": {"body": ["{{name}}"]}});
        let mut spec = campaign(content, &["name"]);
        spec.handoff_ahead_minutes = 10;
        spec.performance_tracking = true;
        let send_at = at(1_700_000_600);
        let overrides = RowOverrides {
            send_at: Some(send_at),
            ttl_minutes: Some(60),
            label: None,
            language: Some("en".into()),
        };
        let request = render(&spec, &row(&["Ann"], overrides.clone()), at(1_700_000_100)).unwrap();
        assert!(matches!(request, Rendered::Seven(_)));
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"from": "4915112345678", "to": "4917612345678", "type": "template",
                   "template": "order", "language": "en", "components": {"body": ["Ann"]},
                   "delay": "1700000600", "ttl": 60, "label": "spring",
                   "performance_tracking": true, "foreign_id": "c1.7"})
        );
        // At or after the send time there is nothing for seven to hold.
        let Rendered::Seven(request) = render(&spec, &row(&["Ann"], overrides), send_at).unwrap()
        else {
            panic!("a seven campaign renders seven's request");
        };
        assert_eq!(request.options.delay, None);
    }

    #[test]
    fn bird_s_request_carries_the_envelope_and_the_row_s_locale() {
        let content = json!({"template": {"projectId": PROJECT, "version": "latest",
            "locale": "en", "parameters": [{"type": "string", "key": "name",
            "value": "{{name}}"}]}});
        let spec = bird_campaign(content, &["name"]);
        let overrides = RowOverrides {
            label: Some("Spring-VIP".into()),
            ttl_minutes: Some(60),
            ..language("de-DE")
        };
        // Sent 20 minutes after its send time: 40 of its 60 minutes are left.
        let now = spec.send_at + chrono::Duration::minutes(20);
        let request = render(&spec, &row(&["Ann"], overrides), now).unwrap();
        let Rendered::Bird(bird) = &request else {
            panic!("a Bird campaign renders Bird's request");
        };
        assert_eq!(bird.target.channel_id, CHANNEL);
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"receiver": {"contacts": [{"identifierKey": "phonenumber",
                   "identifierValue": "+4917612345678"}]},
                   "template": {"projectId": PROJECT, "version": "latest", "locale": "de-DE",
                   "parameters": [{"type": "string", "key": "name", "value": "Ann"}]},
                   "reference": "c1.7", "validity": 2400, "tags": ["vip", "spring-vip"]})
        );
    }

    #[test]
    fn what_the_provider_would_refuse_fails_the_row() {
        let content = json!({"type": "template", "template": "order", "language": "de",
                             "components": {"body": ["{{name}}"]}});
        let spec = campaign(content, &["name"]);
        let refused = render(
            &spec,
            &row(&["Ann\nBerlin"], RowOverrides::default()),
            spec.send_at,
        );
        assert!(refused.unwrap_err().to_string().contains("newline"));

        let content = json!({"body": {"type": "text", "text": {"text": "{{name}}"}}});
        let mut spec = bird_campaign(content, &["name"]);
        let long = "x".repeat(5000);
        let refused = render(&spec, &row(&[&long], RowOverrides::default()), spec.send_at);
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("more than the 4096"),
            "Bird's text limit"
        );
        if let Some(target) = &mut spec.bird {
            target.tags = (0..10).map(|i| format!("t{i}")).collect();
        }
        let refused = render(&spec, &row(&["Ann"], RowOverrides::default()), spec.send_at);
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("tags has 11 entries"),
            "ten tags and the label"
        );
        spec.bird = None;
        assert_eq!(
            render(&spec, &row(&["Ann"], RowOverrides::default()), spec.send_at),
            Err(RequestError::NoBirdTarget)
        );
    }
}
