//! Products: the validated newtypes `Sku` and `ProductName`, and the product shapes.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::money::Money;
use crate::validation::{self, BodyReader, Refusal, ValidationErrors};

/// The largest stock a product may hold; keeps every sum of quantities far from overflow.
pub const MAX_STOCK: i64 = 1_000_000_000_000;

/// A stock-keeping unit: 1–64 characters, no whitespace, no control characters.
///
/// ```
/// use inventory_core::Sku;
/// assert!(Sku::parse("PROD-001").is_ok());
/// assert!(Sku::parse("has space").is_err());
/// assert!(Sku::parse("").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    /// Checks and wraps a SKU.
    pub fn parse(s: &str) -> Result<Sku, String> {
        let n = s.chars().count();
        if n == 0 {
            return Err("String should have at least 1 character".into());
        }
        if n > 64 {
            return Err("String should have at most 64 characters".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain whitespace or control characters".into());
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
    /// Checks and wraps a name.
    pub fn parse(s: &str) -> Result<ProductName, String> {
        let n = s.chars().count();
        if n == 0 || s.trim().is_empty() {
            return Err("String should have at least 1 character".into());
        }
        if n > 200 {
            return Err("String should have at most 200 characters".into());
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
        } else if s.chars().count() > 64 {
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
        let kind = if s.chars().count() > 200 {
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
