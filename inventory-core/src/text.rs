//! Checked texts: the rules every stored text keeps, and [`Reason`], the why of an adjustment.

use serde::Serialize;

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
    /// Contains an invisible format character (Unicode category Cf: zero-width space,
    /// bidirectional overrides, byte-order mark, ...) where two texts must not look alike.
    #[error("must not contain whitespace, control or invisible format characters")]
    Invisible,
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
    /// Whether invisible format characters are fine (in prose, a zero-width joiner builds an
    /// emoji; in an identifier it makes a look-alike).
    pub(crate) invisible: bool,
}

/// Unicode 16.0 general category Cf (format), as in `regex-syntax`'s tables.
const FORMAT_CHARACTERS: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

fn is_format(c: char) -> bool {
    FORMAT_CHARACTERS
        .iter()
        .any(|&(low, high)| (low..=high).contains(&c))
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
        if !self.invisible && s.chars().any(is_format) {
            return Err(TextError::Invisible);
        }
        Ok(())
    }

    /// Whether `c` may appear anywhere in such a text (the rule per character, which the
    /// OpenAPI patterns are built from; emptiness and length are checked on the whole).
    pub(crate) fn allows(self, c: char) -> bool {
        !(c.is_control()
            || (self.ascii && !c.is_ascii_graphic())
            || (!self.whitespace && c.is_whitespace())
            || (!self.invisible && is_format(c)))
    }

    /// Checks `s` and keeps a copy.
    pub(crate) fn owned(self, s: &str) -> Result<String, TextError> {
        self.check(s).map(|()| s.to_owned())
    }
}

/// For a text newtype `$t(String)` with a `RULE`: `parse` (the one way in), `as_str`,
/// `is_allowed_char` (the rule per character, which documents build their patterns from),
/// `Display`, and a `Deserialize` that goes through `parse`, so no path builds one that breaks
/// its rule.
macro_rules! text_newtype {
    ($t:ident) => {
        impl $t {
            /// Checks the text against the rule and wraps it.
            pub fn parse(s: &str) -> Result<$t, $crate::text::TextError> {
                Self::RULE.owned(s).map($t)
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether `c` may appear in the text (emptiness, blankness and length are checked
            /// on the whole by `parse`).
            pub fn is_allowed_char(c: char) -> bool {
                Self::RULE.allows(c)
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $t::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use text_newtype;

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
    /// The most characters a reason may have.
    pub const MAX_CHARS: usize = 200;

    /// The rule a reason keeps.
    pub(crate) const RULE: TextRule = TextRule {
        max: Self::MAX_CHARS,
        whitespace: true,
        ascii: false,
        invisible: true,
    };
}

text_newtype!(Reason);
