//! The campaign id of an upload without `--id`: derived from the file's hash and the options
//! that make two uploads of the same file the same campaign, so that the same upload is
//! refused the second time and an interrupted one resumes its campaign.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wacast_shared::campaign::{BirdTarget, CampaignId};
use wacast_shared::phone::PhoneNumber;
use wacast_shared::render;

use crate::ingest::request::IngestRequest;
use crate::ingest::source::Scan;

/// The options that make two uploads of the same file the same campaign.
pub(crate) fn canonical_options(
    request: &IngestRequest,
    from: &PhoneNumber,
    bird: Option<&BirdTarget>,
    content: &Value,
    region: Option<&str>,
    encoding: Option<&'static encoding_rs::Encoding>,
    delimiter: u8,
) -> Value {
    let d = &request.delivery;
    let mut options = json!({
        "from": from.digits(),
        "content": content,
        "delay": d.delay,
        "tz": d.tz.name(),
        "ttl": d.ttl,
        "label": d.label,
        "performance_tracking": d.performance_tracking,
        "region": region,
        "phone_column": request.input.phone_column.as_deref().map(render::normalise_column),
        "encoding": encoding.map(|e| e.name()),
        "delimiter": delimiter,
    });
    // Added after ids were first derived: only a handoff changes the id, so that the same
    // upload without one keeps the id it always had.
    if d.handoff_ahead > 0 {
        options["handoff_ahead"] = d.handoff_ahead.into();
    }
    // Likewise Bird's: the same file through seven and through Bird are two campaigns.
    if let Some(bird) = bird {
        options["provider"] = "bird".into();
        options["bird"] = json!(bird);
    }
    if let Some(window) = &d.window {
        options["window"] = json!([window, d.window_tz.as_deref().unwrap_or(d.tz.name())]);
    }
    if d.only_open_window {
        options["only_open_window"] = true.into();
    }
    options
}

/// The first 12 hex digits of SHA-256(file hash, options).
pub(crate) fn derive_id(scan: &Scan, options: &Value) -> CampaignId {
    let mut hasher = Sha256::new();
    hasher.update(scan.sha256);
    hasher.update(options.to_string().as_bytes());
    let digest = hex::encode(hasher.finalize());
    CampaignId::parse(&digest[..12]).expect("12 hex digits are a valid campaign id")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::source;

    #[test]
    fn derived_ids_depend_on_file_and_options() {
        let scan = |byte| Scan {
            sha256: [byte; 32],
            size: 1,
            bom: source::Bom::None,
        };
        let a = derive_id(&scan(1), &json!({"ttl": 1}));
        assert_eq!(a.as_str().len(), 12);
        assert_eq!(a, derive_id(&scan(1), &json!({"ttl": 1})));
        assert_ne!(a, derive_id(&scan(2), &json!({"ttl": 1})));
        assert_ne!(a, derive_id(&scan(1), &json!({"ttl": 2})));
    }
}
