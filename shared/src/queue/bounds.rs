//! The bounds that keep every Redis call short and every stored value small: how many rows a
//! walk takes per call, and how long the texts stored in hashes may be.

/// Rows per call when pause and cancel walk a campaign, and entries per call when resume moves
/// its paused set back: small enough that Redis never blocks for more than a few milliseconds.
pub const WALK_CHUNK: u64 = 1000;

/// The longest text stored in a message hash's fields (`error`, `error_code`, and the
/// `provider_delete_error`). Longer values would make Redis convert the hash from its compact
/// listpack encoding (values ≤ 64 bytes) to a real hash table.
pub const MAX_ERROR_LEN: usize = 64;

/// The longest failure reason kept whole: a provider's explanation (the template, the cause,
/// the fix) is a sentence or a few. A reason longer than [`MAX_ERROR_LEN`] is stored once per
/// campaign in its reasons table (`keep_reason` in `scripts/common.lua`), and the message
/// keeps a reference to it, so the message hash stays compact.
pub const MAX_REASON_LEN: usize = 1000;

/// The longest late failure a callback reports, kept in a message's `delivery_error`: whole in
/// practice (WhatsApp's explanations are a sentence or two), and only failed messages have it.
pub const MAX_DELIVERY_ERROR_LEN: usize = 500;

/// The longest `pause_reason` stored on a campaign. A campaign hash is one per campaign (and
/// holds the content JSON anyway), so the reason a provider gave can be kept whole enough to act
/// on.
pub const MAX_PAUSE_REASON_LEN: usize = 300;

/// The rows of each reason an upload's rejects keep (`rejects.rs`); the rejects file has
/// them all.
pub const MAX_REJECT_ROWS: usize = 20;

/// The longest reject message kept: a message quotes the cell it is about, which may be long.
pub const MAX_REJECT_LEN: usize = 300;

/// Cuts text to at most `max` bytes on a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("abc", 64), "abc");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("aéb", 3), "aé");
    }
}
