//! When a campaign's failures pause it instead of failing every row: WhatsApp's template-level
//! codes and its rate-limit codes, read from a provider's code or its explanation, and the
//! [`StreakRule`] the ack applies (the queue counts failures in a row per campaign, fleet-wide;
//! see `queue/scripts/common.lua`'s `streak_fail`). Pure.

/// WhatsApp's template-level errors: the template itself is wrong (missing, not approved in
/// this language, paused or disabled, its parameters not matching), so every message that uses
/// it fails alike until the operator fixes or re-approves it.
pub const TEMPLATE_CODES: [&str; 7] = [
    "132000", "132001", "132005", "132007", "132012", "132015", "132016",
];

/// WhatsApp's rate-limit errors: the account's throughput (130429) or the pair rate to one
/// recipient (131056). The message was not sent: try again later, slower.
pub const RATE_LIMIT_CODES: [&str; 2] = ["130429", "131056"];

/// Template-level failures in a row that pause a campaign. Not 1: a row may name its own
/// template language (a `language` column), so one 132001 can belong to one row; three in a
/// row with nothing sent between them means the campaign's template, and pausing then costs at
/// most the few requests in flight.
pub const TEMPLATE_PAUSE_AFTER: u32 = 3;

/// The default number of identical refusals in a row (any code) that pause a campaign
/// (`--pause-after-failures`): high enough that a run of bad numbers in a list does not stop
/// it, low enough that a campaign refused for a reason of its own stops within a second or so.
pub const DEFAULT_PAUSE_AFTER: u32 = 20;

/// How many failures in a row with the same code pause a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreakRule {
    /// Failures in a row with the same code that pause the campaign; 0 never pauses.
    pub pause_after: u32,
    /// Whether the code is template-level: the pause reason says to fix or re-approve the
    /// template.
    pub template: bool,
}

impl StreakRule {
    /// A rule that never pauses.
    pub const NEVER: StreakRule = StreakRule {
        pause_after: 0,
        template: false,
    };

    /// The rule for a refusal with `code` (already read by [`whatsapp_code`]): a template code
    /// pauses after [`TEMPLATE_PAUSE_AFTER`], any other after `pause_after` (0: never).
    pub fn for_code(code: &str, pause_after: u32) -> StreakRule {
        if TEMPLATE_CODES.contains(&code) {
            StreakRule {
                pause_after: TEMPLATE_PAUSE_AFTER,
                template: true,
            }
        } else {
            StreakRule {
                pause_after,
                template: false,
            }
        }
    }

    /// The rule as the queue's scripts read it: `''` (never), `N`, or `Nt` for a template code.
    pub fn script_arg(self) -> String {
        match (self.pause_after, self.template) {
            (0, _) => String::new(),
            (n, false) => n.to_string(),
            (n, true) => format!("{n}t"),
        }
    }
}

/// The code to record for a refusal: WhatsApp's own template-level or rate-limit code when the
/// provider passed one on, as its code or in its explanation (seven answers code 400 with
/// `(#132001) template … does not exist` in the message), else the provider's `code`.
pub fn whatsapp_code<'a>(code: &'a str, reason: &str) -> &'a str {
    let known = |c: &&str| TEMPLATE_CODES.contains(c) || RATE_LIMIT_CODES.contains(c);
    if known(&code) {
        return code;
    }
    TEMPLATE_CODES
        .iter()
        .chain(RATE_LIMIT_CODES.iter())
        .find(|c| mentions(reason, c))
        .copied()
        .unwrap_or(code)
}

/// Whether `text` holds `code` as a number of its own (not inside a longer one).
fn mentions(text: &str, code: &str) -> bool {
    text.match_indices(code).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// Whether a code (as [`whatsapp_code`] reads it) says the provider limited the rate.
pub fn is_rate_limit(code: &str) -> bool {
    RATE_LIMIT_CODES.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatsapp_codes_are_read_from_the_code_or_the_explanation() {
        let check = |code: &str, reason: &str, want: &str| {
            assert_eq!(whatsapp_code(code, reason), want, "{code} {reason}");
        };
        check("132001", "", "132001");
        check(
            "400",
            "seven refused the request (code 400) (seven: (#132001) template x does not exist)",
            "132001",
        );
        check("E1", "WhatsApp error 131056: pair rate limit hit", "131056");
        check("400", "bad number 4913200112", "400");
        check("400", "code 1132001 is not one", "400");
        assert_eq!(
            StreakRule::for_code("132015", 20),
            StreakRule {
                pause_after: 3,
                template: true
            }
        );
        assert_eq!(StreakRule::for_code("400", 20).script_arg(), "20");
        assert_eq!(StreakRule::for_code("132000", 20).script_arg(), "3t");
        assert_eq!(StreakRule::for_code("400", 0).script_arg(), "");
        assert!(is_rate_limit("130429") && !is_rate_limit("132001"));
    }
}
