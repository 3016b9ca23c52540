//! Row versions for optimistic concurrency: every change of a product or an order row makes its
//! version one larger, so "the row a client read" is a number it can send back (`If-Match`),
//! and a change made since is detected in the same transaction that would overwrite it.

use std::fmt;

use crate::error::Error;
use crate::units::RangeError;

/// A row's version: 1 when created, one more with every change.
///
/// ```
/// use inventory_core::Version;
/// let v = Version::FIRST;
/// assert_eq!(v.next().get(), 2);
/// assert!(Version::new(0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(i64);

impl Version {
    /// The version of a row just created.
    pub const FIRST: Version = Version(1);

    /// A version read back from storage: 1 or more.
    pub fn new(n: i64) -> Result<Version, RangeError> {
        crate::units::within(n, 1, i64::MAX)?;
        Ok(Version(n))
    }

    /// The number.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The version after one more change.
    pub fn next(self) -> Version {
        Version(self.0.saturating_add(1))
    }
}

impl Default for Version {
    fn default() -> Self {
        Version::FIRST
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a write requires of the row it changes (HTTP's `If-Match`): any version (`*`: the row
/// must exist), or one of the versions listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// The row exists, whatever its version.
    Exists,
    /// The row is at one of these versions.
    OneOf(Vec<Version>),
}

impl Precondition {
    /// The precondition that the row is still at `version`.
    pub fn at(version: Version) -> Precondition {
        Precondition::OneOf(vec![version])
    }

    /// Whether a row at `current` satisfies it.
    pub fn admits(&self, current: Version) -> bool {
        match self {
            Precondition::Exists => true,
            Precondition::OneOf(versions) => versions.contains(&current),
        }
    }

    /// Checks row `id` at `current`: [`Error::PreconditionFailed`] when the row has changed
    /// since. The one rule every store and the engine apply, inside the step that writes.
    pub fn check(&self, id: i64, current: Version) -> Result<(), Error> {
        if self.admits(current) {
            Ok(())
        } else {
            Err(Error::PreconditionFailed { id, current })
        }
    }
}

/// Checks an optional precondition: none always holds.
pub(crate) fn check(pre: Option<&Precondition>, id: i64, current: Version) -> Result<(), Error> {
    pre.map_or(Ok(()), |p| p.check(id, current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preconditions_admit_only_their_versions() {
        let v2 = Version::new(2).expect("valid");
        assert!(Precondition::Exists.admits(v2));
        assert!(Precondition::at(v2).admits(v2));
        assert!(!Precondition::at(Version::FIRST).admits(v2));
        let either = Precondition::OneOf(vec![Version::FIRST, v2]);
        assert!(either.admits(v2));
        assert!(matches!(
            Precondition::at(Version::FIRST).check(7, v2),
            Err(Error::PreconditionFailed { id: 7, current }) if current == v2
        ));
        assert!(check(None, 7, v2).is_ok());
    }
}
