//! Counts of units: [`Quantity`] (what one order takes), [`Stock`] (what a product holds) and
//! [`StockDelta`] (a signed change to it), each checked on construction.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest stock a product may hold; keeps every sum of quantities far from overflow.
pub const MAX_STOCK: i64 = 1_000_000_000_000;

/// Why a number is not a valid count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// Below the smallest value allowed.
    #[error("{}", below(*min))]
    TooSmall {
        /// The smallest value allowed.
        min: i64,
    },
    /// Above the largest value allowed.
    #[error("Input should be less than or equal to {max}")]
    TooLarge {
        /// The largest value allowed.
        max: i64,
    },
    /// Zero, where only a change is meaningful.
    #[error("Input should not be 0")]
    Zero,
}

/// Pydantic's wording: a bound of 0 reads "≥ 0", a bound of 1 reads "> 0".
fn below(min: i64) -> String {
    if min == 0 {
        "Input should be greater than or equal to 0".to_owned()
    } else {
        format!("Input should be greater than {}", min - 1)
    }
}

/// Checks `min ..= max`.
pub(crate) fn within(n: i64, min: i64, max: i64) -> Result<i64, RangeError> {
    if n < min {
        Err(RangeError::TooSmall { min })
    } else if n > max {
        Err(RangeError::TooLarge { max })
    } else {
        Ok(n)
    }
}

macro_rules! deserialize_via_new {
    ($t:ty) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$t>::new(i64::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        /// Compares with a plain count (convenient in tests and logs).
        impl PartialEq<i64> for $t {
            fn eq(&self, other: &i64) -> bool {
                self.0 == *other
            }
        }

        impl PartialOrd<i64> for $t {
            fn partial_cmp(&self, other: &i64) -> Option<std::cmp::Ordering> {
                self.0.partial_cmp(other)
            }
        }

        impl TryFrom<i64> for $t {
            type Error = RangeError;

            fn try_from(n: i64) -> Result<Self, RangeError> {
                <$t>::new(n)
            }
        }
    };
}

/// A number of units in one order: `1 ..= Quantity::MAX`.
///
/// ```
/// use inventory_core::Quantity;
/// assert_eq!(Quantity::new(3).map(Quantity::get), Ok(3));
/// assert!(Quantity::new(0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(i64);

impl Quantity {
    /// The most units one order may take; with [`crate::MAX_CENTS`] it keeps a total within
    /// `i64` cents.
    pub const MAX: i64 = 100_000_000;

    /// Checks and wraps a quantity.
    pub fn new(n: i64) -> Result<Quantity, RangeError> {
        within(n, 1, Self::MAX).map(Quantity)
    }

    /// The number of units.
    pub fn get(self) -> i64 {
        self.0
    }
}

deserialize_via_new!(Quantity);

/// Units a product holds: `0 ..= MAX_STOCK`.
///
/// ```
/// use inventory_core::{MAX_STOCK, Stock};
/// assert_eq!(Stock::new(50).map(Stock::get), Ok(50));
/// assert!(Stock::new(-5).is_err());
/// assert!(Stock::new(MAX_STOCK + 1).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Stock(i64);

impl Stock {
    /// No units.
    pub const ZERO: Stock = Stock(0);

    /// Checks and wraps a stock level.
    pub fn new(n: i64) -> Result<Stock, RangeError> {
        within(n, 0, MAX_STOCK).map(Stock)
    }

    /// The number of units.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The stock after `delta`: refused below zero ([`RangeError::TooSmall`]) or above
    /// [`MAX_STOCK`] ([`RangeError::TooLarge`]). The one place that bounds a stock change.
    pub fn apply(self, delta: StockDelta) -> Result<Stock, RangeError> {
        // Both are within ±MAX_STOCK, so the sum cannot overflow.
        Stock::new(self.0 + delta.0)
    }

    /// The change from `self` to `to`.
    pub fn delta_to(self, to: Stock) -> StockDelta {
        StockDelta(to.0 - self.0)
    }

    /// The units `quantity` takes, as a stock count (every quantity is a valid stock).
    pub fn of(quantity: Quantity) -> Stock {
        Stock(quantity.0)
    }
}

deserialize_via_new!(Stock);

/// A signed change to a stock level: `-MAX_STOCK ..= MAX_STOCK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct StockDelta(i64);

impl StockDelta {
    /// No change.
    pub const ZERO: StockDelta = StockDelta(0);

    /// Checks and wraps a change.
    pub fn new(n: i64) -> Result<StockDelta, RangeError> {
        within(n, -MAX_STOCK, MAX_STOCK).map(StockDelta)
    }

    /// The change taking `quantity` units out.
    pub fn taking(quantity: Quantity) -> StockDelta {
        StockDelta(-quantity.0)
    }

    /// The change putting `quantity` units back.
    pub fn returning(quantity: Quantity) -> StockDelta {
        StockDelta(quantity.0)
    }

    /// The change bringing a product from nothing to `stock`.
    pub fn initial(stock: Stock) -> StockDelta {
        StockDelta(stock.0)
    }

    /// The signed number of units.
    pub fn get(self) -> i64 {
        self.0
    }

    /// Units a negative change removes, as a stock count (0 for an addition).
    pub fn removed(self) -> Stock {
        Stock(self.0.min(0).saturating_neg())
    }
}

deserialize_via_new!(StockDelta);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_changes_are_bounded_both_ways() {
        let five = Stock::new(5).expect("valid");
        let minus_six = StockDelta::new(-6).expect("valid");
        assert_eq!(five.apply(minus_six), Err(RangeError::TooSmall { min: 0 }));
        let max = StockDelta::new(MAX_STOCK).expect("valid");
        assert_eq!(
            five.apply(max),
            Err(RangeError::TooLarge { max: MAX_STOCK })
        );
        assert_eq!(five.apply(StockDelta::taking(Quantity(5))), Ok(Stock(0)));
        assert_eq!(minus_six.removed(), Stock(6));
    }

    #[test]
    fn messages_are_pydantics() {
        assert_eq!(
            Quantity::new(0).unwrap_err().to_string(),
            "Input should be greater than 0"
        );
        assert_eq!(
            Stock::new(-1).unwrap_err().to_string(),
            "Input should be greater than or equal to 0"
        );
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<Stock>("-5").is_err());
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert_eq!(serde_json::from_str::<Stock>("7").ok(), Stock::new(7).ok());
    }
}
