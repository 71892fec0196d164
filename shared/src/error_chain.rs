//! The one way an error becomes text for logs and messages: the error and its sources on one
//! line, `outer: inner: innermost`.

use std::error::Error;
use std::fmt::Write as _;

/// An error and its sources as one line, `outer: inner: innermost`, skipping a cause whose text
/// the line already ends with (reqwest and hyper repeat their inner error in the outer one).
pub fn error_chain(error: &dyn Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            let _ = write!(out, ": {text}");
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    #[test]
    fn causes_follow_on_one_line_without_repeats() {
        let inner = Layer("connection refused", None);
        let middle = Layer("connect error: connection refused", Some(Box::new(inner)));
        let outer = Layer("cannot reach Redis", Some(Box::new(middle)));
        assert_eq!(
            error_chain(&outer),
            "cannot reach Redis: connect error: connection refused"
        );
        assert_eq!(error_chain(&Layer("alone", None)), "alone");
    }
}
