//! One line from an error and its causes, for messages a user reads: `tonic`'s and `hyper`'s errors
//! say only "transport error" at the top and keep the useful part ("Connection refused") in their
//! sources; a `{:?}` dump is never shown.

use std::error::Error;

/// `err` and each source, joined with `: `, skipping a source whose text the line already holds (many
/// errors repeat their source in their own message), with line breaks flattened.
pub fn chain(err: &(dyn Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    flatten(&line)
}

/// Collapses a multi-line text into one line.
pub fn flatten(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("transport error")]
    struct Top(#[source] std::io::Error);

    #[test]
    fn causes_are_joined_once_on_one_line() {
        let e = Top(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused\n(os error 111)",
        ));
        assert_eq!(
            chain(&e),
            "transport error: Connection refused (os error 111)"
        );
    }
}
