//! Checked texts: the rules every stored text keeps, and [`Reason`], the why of an adjustment.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a text is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// Empty, or only whitespace.
    #[error("String should have at least 1 character")]
    Empty,
    /// Longer than allowed (in characters).
    #[error("String should have at most {max} characters")]
    TooLong {
        /// The most characters allowed.
        max: usize,
    },
    /// Contains whitespace where none is allowed.
    #[error("must not contain whitespace")]
    Whitespace,
    /// Contains a control character (NUL, newline, escape, …), which no backend stores alike.
    #[error("must not contain control characters")]
    Control,
    /// Contains a character outside visible ASCII, where only that is allowed.
    #[error("must be visible ASCII characters")]
    NotVisibleAscii,
}

/// What a kind of text allows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextRule {
    /// The most characters.
    pub(crate) max: usize,
    /// Whether spaces inside are fine.
    pub(crate) whitespace: bool,
    /// Whether only visible ASCII is allowed (identifiers sent in headers).
    pub(crate) ascii: bool,
}

impl TextRule {
    /// Checks `s` against the rule.
    pub(crate) fn check(self, s: &str) -> Result<(), TextError> {
        if s.trim().is_empty() {
            return Err(TextError::Empty);
        }
        if s.chars().count() > self.max {
            return Err(TextError::TooLong { max: self.max });
        }
        if s.chars().any(char::is_control) {
            return Err(TextError::Control);
        }
        if self.ascii && !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TextError::NotVisibleAscii);
        }
        if !self.whitespace && s.chars().any(char::is_whitespace) {
            return Err(TextError::Whitespace);
        }
        Ok(())
    }

    /// Checks `s` and keeps a copy.
    pub(crate) fn owned(self, s: &str) -> Result<String, TextError> {
        self.check(s).map(|()| s.to_owned())
    }
}

/// Why a manual stock adjustment was made: 1–200 characters, no control characters.
///
/// ```
/// use inventory_core::Reason;
/// assert!(Reason::parse("damaged in transit").is_ok());
/// assert!(Reason::parse("   ").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Reason(String);

impl Reason {
    /// The rule a reason keeps.
    pub(crate) const RULE: TextRule = TextRule {
        max: 200,
        whitespace: true,
        ascii: false,
    };

    /// Checks and wraps a reason.
    pub fn parse(s: &str) -> Result<Reason, TextError> {
        Self::RULE.owned(s).map(Reason)
    }

    /// The reason's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Reason::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
