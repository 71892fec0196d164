//! Secrets kept out of text: the one URL redactor for every message and log line that names a
//! Redis server.

/// The URL without its user and password (`redis://***@host:6379/0`), for messages and logs.
/// A URL without credentials is returned as it is.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact_url("redis://user:secret@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(
            redact_url("redis://:s3cret@db:6379/0"),
            "redis://***@db:6379/0"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            redact_url("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26379/wacast/0"),
            "redis+sentinel://***@10.0.0.1:26379,10.0.0.2:26379/wacast/0"
        );
    }
}
