//! Test-only access to the reference type maps in `../shared/data/type-maps/` (present in the
//! developers' and CI's checkouts, absent from a user's clone). Tests that use them skip cleanly when
//! the file is missing.

/// The text of `../shared/data/type-maps/<file>`, or `None` (and a note on stderr) when absent.
pub(crate) fn type_map(file: &str) -> Option<String> {
    let path = format!(
        "{}/../shared/data/type-maps/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(_) => {
            eprintln!("skipped: {path} not present");
            None
        }
    }
}
