//! Products: the validated newtypes `Sku` and `ProductName`, and the product shapes.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::money::Money;
use crate::validation::{self, BodyReader, Refusal, ValidationErrors};

/// The largest stock a product may hold; keeps every sum of quantities far from overflow.
pub const MAX_STOCK: i64 = 1_000_000_000_000;

/// A stock-keeping unit: 1–64 characters, no whitespace, no control characters, no format
/// characters.
///
/// Format characters (Unicode general category Cf: zero-width space U+200B, the bidirectional
/// overrides U+202A–U+202E, the byte-order mark U+FEFF, ...) are invisible or reorder what is
/// shown, so two SKUs that look the same could otherwise both exist.
///
/// ```
/// use inventory_core::Sku;
/// assert!(Sku::parse("PROD-001").is_ok());
/// assert!(Sku::parse("has space").is_err());
/// assert!(Sku::parse("").is_err());
/// assert!(Sku::parse("PROD\u{200B}-001").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Sku(String);

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

impl Sku {
    /// The most characters a SKU may have.
    pub const MAX_CHARS: usize = 64;

    /// Whether `c` may appear in a SKU: not whitespace, not a control character (Cc), not a
    /// format character (Cf).
    pub fn is_allowed_char(c: char) -> bool {
        !(c.is_whitespace()
            || c.is_control()
            || FORMAT_CHARACTERS
                .iter()
                .any(|&(low, high)| (low..=high).contains(&c)))
    }

    /// Checks and wraps a SKU.
    pub fn parse(s: &str) -> Result<Sku, String> {
        let n = s.chars().count();
        if n == 0 {
            return Err("String should have at least 1 character".into());
        }
        if n > Self::MAX_CHARS {
            return Err(format!(
                "String should have at most {} characters",
                Self::MAX_CHARS
            ));
        }
        if !s.chars().all(Self::is_allowed_char) {
            return Err(
                "must not contain whitespace, control or invisible format characters".into(),
            );
        }
        Ok(Sku(s.to_owned()))
    }

    /// The SKU's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sku {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Sku::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A product's display name: 1–200 characters, not only whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ProductName(String);

impl ProductName {
    /// The most characters a name may have.
    pub const MAX_CHARS: usize = 200;

    /// Checks and wraps a name.
    pub fn parse(s: &str) -> Result<ProductName, String> {
        let n = s.chars().count();
        if n == 0 || s.trim().is_empty() {
            return Err("String should have at least 1 character".into());
        }
        if n > Self::MAX_CHARS {
            return Err(format!(
                "String should have at most {} characters",
                Self::MAX_CHARS
            ));
        }
        if s.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(ProductName(s.to_owned()))
    }

    /// The name's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ProductName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ProductName::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A stored product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Identifier assigned by the store.
    pub id: i64,
    /// Unique SKU.
    pub sku: Sku,
    /// Display name.
    pub name: ProductName,
    /// Current unit price.
    pub price: Money,
    /// Units on hand, never negative.
    pub stock: i64,
}

/// A product to create. Built only by parsing, so every value in it is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewProduct {
    /// Unique SKU.
    pub sku: Sku,
    /// Display name.
    pub name: ProductName,
    /// Unit price.
    pub price: Money,
    /// Initial stock, `0 ..= MAX_STOCK`.
    pub stock: i64,
}

/// A partial update: the fields present are changed, the others kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPatch {
    /// New SKU (must stay unique).
    pub sku: Option<Sku>,
    /// New name.
    pub name: Option<ProductName>,
    /// New price; orders already placed keep theirs.
    pub price: Option<Money>,
    /// New stock level, `0 ..= MAX_STOCK`.
    pub stock: Option<i64>,
}

impl ProductPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.sku.is_none() && self.name.is_none() && self.price.is_none() && self.stock.is_none()
    }
}

pub(crate) fn sku_field(v: &Value) -> Result<Sku, Refusal> {
    let s = validation::string(v)?;
    Sku::parse(s).map_err(|m| {
        let kind = if s.is_empty() {
            "string_too_short"
        } else if s.chars().count() > Sku::MAX_CHARS {
            "string_too_long"
        } else {
            "string_pattern_mismatch"
        };
        (m, kind)
    })
}

fn name_field(v: &Value) -> Result<ProductName, Refusal> {
    let s = validation::string(v)?;
    ProductName::parse(s).map_err(|m| {
        let kind = if s.chars().count() > ProductName::MAX_CHARS {
            "string_too_long"
        } else {
            "string_too_short"
        };
        (m, kind)
    })
}

pub(crate) fn price_field(v: &Value) -> Result<Money, Refusal> {
    use crate::money::MoneyError;
    let text = validation::number_text(v)?;
    text.parse::<Money>().map_err(|e| {
        let kind = match e {
            MoneyError::NotPositive => "greater_than",
            MoneyError::TooManyDecimals => "decimal_max_places",
            MoneyError::TooLarge => "less_than_equal",
            _ => "decimal_parsing",
        };
        (e.to_string(), kind)
    })
}

fn stock_field(v: &Value) -> Result<i64, Refusal> {
    validation::integer(v, 0, MAX_STOCK)
}

const PRODUCT_FIELDS: &[&str] = &["sku", "name", "price", "stock"];

impl NewProduct {
    /// Reads a `POST /products` body, reporting every invalid, missing or unknown field.
    ///
    /// ```
    /// use inventory_core::NewProduct;
    /// let body = serde_json::json!({"sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50});
    /// let p = NewProduct::from_json(&body).unwrap();
    /// assert_eq!(p.price.cents(), 4999);
    /// let bad = serde_json::json!({"sku": "", "price": 0, "stok": 5});
    /// assert_eq!(NewProduct::from_json(&bad).unwrap_err().errors().len(), 5);
    /// ```
    pub fn from_json(body: &Value) -> Result<NewProduct, ValidationErrors> {
        let mut r = BodyReader::new(body);
        let sku = r.required("sku", sku_field);
        let name = r.required("name", name_field);
        let price = r.required("price", price_field);
        let stock = r.required("stock", stock_field);
        r.finish(PRODUCT_FIELDS, false)?;
        match (sku, name, price, stock) {
            (Some(sku), Some(name), Some(price), Some(stock)) => Ok(NewProduct {
                sku,
                name,
                price,
                stock,
            }),
            // `finish` has reported why a field is missing.
            _ => Err(internal_inconsistency()),
        }
    }
}

impl ProductPatch {
    /// Reads a `PUT /products/{id}` body: any subset of the product's fields, nothing else.
    pub fn from_json(body: &Value) -> Result<ProductPatch, ValidationErrors> {
        let mut r = BodyReader::new(body);
        let patch = ProductPatch {
            sku: r.optional("sku", sku_field),
            name: r.optional("name", name_field),
            price: r.optional("price", price_field),
            stock: r.optional("stock", stock_field),
        };
        r.finish(PRODUCT_FIELDS, false)?;
        Ok(patch)
    }
}

/// A reader that returned no errors yet lacks a value would be a bug in this module; answer it
/// as a validation error rather than panic on client input.
pub(crate) fn internal_inconsistency() -> ValidationErrors {
    ValidationErrors::single(crate::FieldError::new(
        ["body"],
        "Invalid body",
        "value_error",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_refuse_look_alike_characters() {
        for (text, what) in [
            ("PROD\u{200B}001", "zero-width space"),
            ("\u{202E}100-DORP", "right-to-left override"),
            ("\u{FEFF}PROD-001", "byte-order mark"),
            ("PROD\u{00AD}001", "soft hyphen"),
            ("PROD\u{E0041}", "tag character"),
            ("PROD\u{0000}", "NUL"),
            ("PROD\u{00A0}001", "no-break space"),
        ] {
            assert!(Sku::parse(text).is_err(), "{what} accepted in a SKU");
        }
        for text in ["PROD-001", "ÄÖÜ-ß", "商品-1", "a.b_c/d#1"] {
            assert!(Sku::parse(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn every_whitespace_and_control_character_is_refused() {
        let refused = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace() || c.is_control())
            .filter(|c| Sku::is_allowed_char(*c))
            .count();
        assert_eq!(refused, 0);
    }
}
