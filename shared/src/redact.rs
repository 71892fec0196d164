//! Secrets kept out of text: the one URL redactor for every message and log line that names a
//! Redis server.

/// The URL without its user and password (`redis://***@host:6379/0`), for messages and logs.
/// The redis crate also takes them as query parameters (`unix:///run/redis.sock?pass=…`,
/// `redis+unix://…?user=…&pass=…`), whose values are replaced too. A URL without credentials
/// is returned as it is.
pub fn redact_url(url: &str) -> String {
    // The query first: a password may hold `@` or `?`, so the userinfo's end is the last `@`
    // before the query, and the query starts at the first `?` after that `@`.
    let scheme_end = url.find("://").map(|i| i + 3);
    let at = url
        .rfind('@')
        .filter(|&at| scheme_end.is_some_and(|s| at > s));
    let query_start = url[at.unwrap_or(0)..]
        .find('?')
        .map(|q| q + at.unwrap_or(0));
    let (head, query) = match query_start {
        Some(q) => (&url[..q], Some(&url[q + 1..])),
        None => (url, None),
    };
    let mut out = match (scheme_end, at) {
        (Some(scheme_end), Some(at)) => format!("{}***{}", &head[..scheme_end], &head[at..]),
        _ => head.to_string(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if matches!(key, "pass" | "password" | "user" | "username") => {
                    format!("{key}=***")
                }
                _ => param.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
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
            redact_url("redis://:p@ss?w/rd@db:6379/0"),
            "redis://***@db:6379/0"
        );
        assert_eq!(
            redact_url("unix:///run/redis.sock?db=1&pass=s3cret"),
            "unix:///run/redis.sock?db=1&pass=***"
        );
        assert_eq!(
            redact_url("redis+unix:///run/r.sock?user=app&password=s3cret"),
            "redis+unix:///run/r.sock?user=***&password=***"
        );
        assert_eq!(
            redact_url("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26379/wacast/0"),
            "redis+sentinel://***@10.0.0.1:26379,10.0.0.2:26379/wacast/0"
        );
    }
}
