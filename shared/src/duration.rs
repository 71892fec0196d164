//! The one duration grammar of every flag of both binaries: whole seconds (`90`) or humantime's
//! units (`30s`, `500ms`, `1min`, `10m`, `2h`, `30d`, `1h 30m`). An operator who writes either
//! spelling anywhere is understood.

use std::time::Duration;

/// Parses a flag's duration: whole seconds, or humantime's spelling.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text).map_err(|_| {
        format!("{text:?} is not a duration: write 90 (seconds), 30s, 500ms, 1min, 10m, 2h or 30d")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_are_durations() {
        let check = |text: &str, secs: u64| {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text:?}"
            );
        };
        check("90", 90);
        check(" 60 ", 60);
        check("60s", 60);
        check("1min", 60);
        check("10m", 600);
        check("1h30m", 5400);
        check("1h 30m", 5400);
        check("30d", 30 * 86_400);
        // humantime's grammar takes fractions too.
        check("1.5h", 5400);
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["", "soon", "-5", "5x", "1.5"] {
            let error = parse_duration(bad).unwrap_err();
            assert!(error.contains("is not a duration"), "{bad:?}: {error}");
        }
    }
}
