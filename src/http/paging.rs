//! The guard every pager runs its next-page token through (AWS `NextToken`, Kubernetes `continue`,
//! OCI `opc-next-page`, ARM `nextLink`). A service that hands back a token it already gave for the
//! same list would otherwise be paged forever, re-sending the same resources; the list is then
//! reported as incomplete instead.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Tokens seen so far in one list. Only hashes are kept, so a long list costs 8 bytes a page.
#[derive(Debug, Default)]
pub struct PageTokens {
    seen: HashSet<u64>,
}

/// The service returned a page token it had already returned for this list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the service returned the same page token twice (the list would never end)")]
pub struct RepeatedToken;

impl PageTokens {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the token of the page just received: `Ok(None)` when the list is done, `Ok(Some)` for
    /// the next request, `Err` when the token has been seen before. An empty token means done.
    pub fn next<T: AsRef<str>>(&mut self, token: Option<T>) -> Result<Option<T>, RepeatedToken> {
        let Some(token) = token.filter(|t| !t.as_ref().is_empty()) else {
            return Ok(None);
        };
        let mut h = DefaultHasher::new();
        token.as_ref().hash(&mut h);
        if self.seen.insert(h.finish()) {
            Ok(Some(token))
        } else {
            Err(RepeatedToken)
        }
    }

    /// Forgets every token, for a list restarted from its first page (an expired Kubernetes continue
    /// token without a fresh one).
    pub fn restart(&mut self) {
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_caught_even_after_other_tokens() {
        let mut t = PageTokens::new();
        assert_eq!(t.next(Some("a")), Ok(Some("a")));
        assert_eq!(t.next(Some("b")), Ok(Some("b")));
        assert_eq!(t.next(Some("a")), Err(RepeatedToken));
        assert_eq!(t.next(None::<&str>), Ok(None));
        assert_eq!(t.next(Some("")), Ok(None));
        t.restart();
        assert_eq!(t.next(Some("a")), Ok(Some("a")));
    }
}
