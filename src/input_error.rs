//! Bad input: a flag, variable, config value or input file that is wrong. Printed as one line, exit
//! code 2, before any cloud or engine call. A leaf module, so every other module can use it without
//! importing the settings.

/// A bad flag, variable, config value or input file: printed as one line, exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(String);

impl InputError {
    pub fn new(msg: impl Into<String>) -> Self {
        InputError(msg.into())
    }
}
