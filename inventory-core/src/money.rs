//! Exact money: integer cents, parsed from a decimal's text and never through floating point.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest price or total accepted: 99 999 999.99 in cents.
///
/// Bounded so that `price × quantity` always fits in an `i64` of cents (see [`crate::Quantity::MAX`]).
pub const MAX_CENTS: i64 = 9_999_999_999;

/// An amount of money held exactly as integer cents (a positive price, or an order total).
///
/// It is parsed from the *text* of a decimal number: `"49.99"` is 4999 cents, `"1.234"` is an error
/// rather than a rounding, and no `f64` is ever involved. It is written back as a JSON number.
///
/// ```
/// use inventory_core::Money;
/// let price: Money = "49.99".parse().unwrap();
/// assert_eq!(price.cents(), 4999);
/// assert_eq!(price.to_string(), "49.99");
/// assert!("1.234".parse::<Money>().is_err());
/// assert_eq!(serde_json::to_string(&price).unwrap(), "49.99");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// Why a text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// Not a plain decimal number (letters, exponent, several dots, empty, ...).
    #[error("must be a decimal number")]
    NotANumber,
    /// More than two digits after the decimal point.
    #[error("must have at most 2 decimal places")]
    TooManyDecimals,
    /// Zero or negative.
    #[error("must be greater than 0")]
    NotPositive,
    /// Larger than the type allows: [`Money::MAX_CENTS`], or for an [`Amount`],
    /// [`Amount::MAX_CENTS`].
    #[error("must be at most {}", CentsText(*max_cents))]
    TooLarge {
        /// The largest amount allowed, in cents.
        max_cents: i64,
    },
    /// Negative, where zero is allowed.
    #[error("Input should be greater than or equal to 0")]
    Negative,
}

/// Cents written as the contract writes money, for messages.
struct CentsText(i64);

impl fmt::Display for CentsText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_cents(self.0, f)
    }
}

impl Money {
    /// The largest price: [`MAX_CENTS`].
    pub const MAX_CENTS: i64 = MAX_CENTS;

    /// The amount from a number of cents; errors unless `1 ..= MAX_CENTS`.
    pub fn from_cents(cents: i64) -> Result<Self, MoneyError> {
        if cents <= 0 {
            Err(MoneyError::NotPositive)
        } else if cents > MAX_CENTS {
            Err(MoneyError::TooLarge {
                max_cents: MAX_CENTS,
            })
        } else {
            Ok(Money(cents))
        }
    }

    /// The price of `quantity` units at this price: the one rule for a line's total. Never
    /// overflows: both factors are bounded.
    pub fn times(self, quantity: crate::Quantity) -> Amount {
        Amount(self.0 * quantity.get())
    }

    /// The amount in cents.
    pub fn cents(self) -> i64 {
        self.0
    }
}

/// Writes cents as a decimal text: 4999 → `49.99`, 5000 → `50.0`, 4990 → `49.9` (Python's float
/// repr, which the seed's clients already read).
pub(crate) fn format_cents(cents: i64, f: &mut impl fmt::Write) -> fmt::Result {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let (units, frac) = (abs / 100, abs % 100);
    match frac {
        0 => write!(f, "{sign}{units}.0"),
        f10 if f10 % 10 == 0 => write!(f, "{sign}{units}.{}", f10 / 10),
        _ => write!(f, "{sign}{units}.{frac:02}"),
    }
}

/// Parses a decimal text into cents exactly. Accepts an optional leading `-`, digits, and at most
/// two decimals; also `1.50e0`-free forms only: exponents are refused as not a plain number.
pub(crate) fn parse_cents(text: &str) -> Result<i64, MoneyError> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MoneyError::NotANumber);
    }
    let frac = match frac_part {
        None => "",
        Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(MoneyError::NotANumber);
        }
        Some(f) => f,
    };
    // Trailing zeros carry no value: "49.990" is 49.99, but "49.991" has three decimals.
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return Err(MoneyError::TooManyDecimals);
    }
    let int_digits = int_part.trim_start_matches('0');
    // More than 17 integer digits cannot be a bounded amount; refuse before any arithmetic.
    if int_digits.len() > 17 {
        return Err(if negative {
            MoneyError::NotPositive
        } else {
            MoneyError::TooLarge {
                max_cents: i64::MAX,
            }
        });
    }
    let units: i64 = if int_digits.is_empty() {
        0
    } else {
        int_digits.parse().map_err(|_| MoneyError::NotANumber)?
    };
    let mut cents_frac: i64 = 0;
    for (i, b) in frac.bytes().enumerate() {
        cents_frac += i64::from(b - b'0') * if i == 0 { 10 } else { 1 };
    }
    let cents = units
        .checked_mul(100)
        .and_then(|c| c.checked_add(cents_frac))
        .ok_or(MoneyError::TooLarge {
            max_cents: i64::MAX,
        })?;
    Ok(if negative { -cents } else { cents })
}

/// For a cents newtype `$t(i64)` with a checking `from_cents`: parsing from the exact decimal
/// text, `Display` in the contract's form, and serde as an exact JSON number (read from the
/// number's own text with serde_json's `arbitrary_precision`, so nothing is rounded).
macro_rules! cents_newtype {
    ($t:ident) => {
        impl FromStr for $t {
            type Err = MoneyError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                // A number too long to be cents at all is too large for this type, too.
                let cents = parse_cents(s).map_err(|e| match e {
                    MoneyError::TooLarge { .. } => MoneyError::TooLarge {
                        max_cents: $t::MAX_CENTS,
                    },
                    e => e,
                })?;
                $t::from_cents(cents)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                format_cents(self.0, f)
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_cents(self.0, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let number = serde_json::Number::deserialize(deserializer)?;
                number.to_string().parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

cents_newtype!(Money);

/// Serializes cents as a JSON number with the exact decimal text (no float rounding).
pub(crate) fn serialize_cents<S: Serializer>(cents: i64, serializer: S) -> Result<S::Ok, S::Error> {
    let mut text = String::with_capacity(16);
    format_cents(cents, &mut text).map_err(serde::ser::Error::custom)?;
    let number = serde_json::Number::from_str(&text).map_err(serde::ser::Error::custom)?;
    number.serialize(serializer)
}

/// An exact, non-negative amount of money in cents, as large as an order total can be
/// ([`MAX_CENTS`] × [`crate::Quantity::MAX`]): an order's total, or an amount a payment reports.
///
/// ```
/// use inventory_core::{Amount, Money, Quantity};
/// let total = "12.50".parse::<Money>()?.times(Quantity::new(3)?);
/// assert_eq!(total, "37.50".parse::<Amount>()?);
/// assert_eq!(total.to_string(), "37.5");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    /// The largest amount: the largest price times the largest quantity.
    pub const MAX_CENTS: i64 = MAX_CENTS * crate::Quantity::MAX;

    /// The amount from a number of cents; errors unless `0 ..= Amount::MAX_CENTS`.
    pub fn from_cents(cents: i64) -> Result<Self, MoneyError> {
        if cents < 0 {
            Err(MoneyError::Negative)
        } else if cents > Self::MAX_CENTS {
            Err(MoneyError::TooLarge {
                max_cents: Self::MAX_CENTS,
            })
        } else {
            Ok(Amount(cents))
        }
    }

    /// The amount in cents.
    pub fn cents(self) -> i64 {
        self.0
    }
}

cents_newtype!(Amount);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!("49.99".parse::<Money>().map(Money::cents), Ok(4999));
        assert_eq!("0.01".parse::<Money>().map(Money::cents), Ok(1));
        assert_eq!("10".parse::<Money>().map(Money::cents), Ok(1000));
        assert_eq!("10.5".parse::<Money>().map(Money::cents), Ok(1050));
        assert_eq!("10.500".parse::<Money>().map(Money::cents), Ok(1050));
        assert_eq!("007.10".parse::<Money>().map(Money::cents), Ok(710));
    }

    #[test]
    fn refuses_what_is_not_exact_or_positive() {
        assert_eq!("1.234".parse::<Money>(), Err(MoneyError::TooManyDecimals));
        assert_eq!("0".parse::<Money>(), Err(MoneyError::NotPositive));
        assert_eq!("-1".parse::<Money>(), Err(MoneyError::NotPositive));
        assert_eq!("0.00".parse::<Money>(), Err(MoneyError::NotPositive));
        assert_eq!("1e2".parse::<Money>(), Err(MoneyError::NotANumber));
        assert_eq!("".parse::<Money>(), Err(MoneyError::NotANumber));
        assert_eq!(".5".parse::<Money>(), Err(MoneyError::NotANumber));
        assert_eq!("5.".parse::<Money>(), Err(MoneyError::NotANumber));
        let too_large = Err(MoneyError::TooLarge {
            max_cents: MAX_CENTS,
        });
        assert_eq!("100000000".parse::<Money>(), too_large);
        assert_eq!("99999999999999999999999".parse::<Money>(), too_large);
        let e = "100000000".parse::<Money>().expect_err("too large");
        assert_eq!(e.to_string(), "must be at most 99999999.99");
        assert_eq!(
            Amount::from_cents(Amount::MAX_CENTS + 1),
            Err(MoneyError::TooLarge {
                max_cents: Amount::MAX_CENTS
            })
        );
        let e = format!("{}0", Amount::MAX_CENTS)
            .parse::<Amount>()
            .expect_err("too large");
        assert_eq!(
            e,
            MoneyError::TooLarge {
                max_cents: Amount::MAX_CENTS
            }
        );
    }

    #[test]
    fn json_round_trip_keeps_the_text() {
        let m: Money = serde_json::from_str("19.99").expect("valid");
        assert_eq!(m.cents(), 1999);
        assert_eq!(serde_json::to_string(&m).expect("serializes"), "19.99");
        let m: Money = serde_json::from_str("50").expect("valid");
        assert_eq!(serde_json::to_string(&m).expect("serializes"), "50.0");
        assert!(serde_json::from_str::<Money>("0.105").is_err());
        assert!(serde_json::from_str::<Money>("\"1.00\"").is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn print_then_parse_is_identity(cents in 1i64..=MAX_CENTS) {
            let m = Money::from_cents(cents).expect("in range");
            prop_assert_eq!(m.to_string().parse::<Money>(), Ok(m));
            let json = serde_json::to_string(&m).expect("serializes");
            prop_assert_eq!(serde_json::from_str::<Money>(&json).expect("parses"), m);
        }

        #[test]
        fn more_than_two_decimals_is_refused(units in 0u64..1_000_000, frac in "[0-9]{2}[1-9][0-9]{0,5}") {
            let text = format!("{units}.{frac}");
            prop_assert_eq!(text.parse::<Money>(), Err(MoneyError::TooManyDecimals));
        }

        #[test]
        fn any_text_parses_or_errors_without_panic(s in "\\PC{0,30}") {
            let _ = s.parse::<Money>();
        }
    }
}
