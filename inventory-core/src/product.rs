//! Products: the validated newtypes `Sku` and `ProductName`, and the product shapes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::money::Money;
use crate::text::{TextRule, text_newtype};
use crate::units::Stock;
use crate::validation::{self, BodyReader, Problem, ValidationErrors};
use crate::version::{Precondition, Version};

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

impl Sku {
    /// The most characters a SKU may have.
    pub const MAX_CHARS: usize = 64;

    const RULE: TextRule = TextRule {
        max: Self::MAX_CHARS,
        whitespace: false,
        ascii: false,
        invisible: false,
    };
}

text_newtype!(Sku);

/// A product's display name: 1–200 characters, not only whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ProductName(String);

impl ProductName {
    /// The most characters a name may have.
    pub const MAX_CHARS: usize = 200;

    const RULE: TextRule = TextRule {
        max: Self::MAX_CHARS,
        whitespace: true,
        ascii: false,
        invisible: true,
    };
}

text_newtype!(ProductName);

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
    /// Units on hand.
    pub stock: Stock,
    /// Its version: one more with every change of the row (stock included). Not part of the
    /// JSON body; the server sends it as the `ETag`.
    #[serde(skip)]
    pub version: Version,
}

/// A product to create. Every part is a checked value, so a `NewProduct` is valid by
/// construction.
///
/// ```
/// use inventory_core::{Money, NewProduct, ProductName, Sku, Stock};
/// let widget = NewProduct::new(
///     Sku::parse("PROD-001")?,
///     ProductName::parse("Widget")?,
///     "49.99".parse::<Money>()?,
///     Stock::new(50)?,
/// );
/// assert_eq!(widget.stock().get(), 50);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
///
/// Its fields are private: an invalid product cannot be written as a literal.
///
/// ```compile_fail,E0451
/// use inventory_core::{Money, NewProduct, ProductName, Sku, Stock};
/// let bad = NewProduct {
///     sku: Sku::parse("PROD-001").unwrap(),
///     name: ProductName::parse("Widget").unwrap(),
///     price: "49.99".parse::<Money>().unwrap(),
///     stock: Stock::ZERO, // and a bare `-5` would not be a `Stock` either
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    sku: Sku,
    name: ProductName,
    price: Money,
    stock: Stock,
}

impl NewProduct {
    /// A product to create from checked parts.
    pub fn new(sku: Sku, name: ProductName, price: Money, stock: Stock) -> Self {
        NewProduct {
            sku,
            name,
            price,
            stock,
        }
    }

    /// Its SKU (must be unique).
    pub fn sku(&self) -> &Sku {
        &self.sku
    }

    /// Its display name.
    pub fn name(&self) -> &ProductName {
        &self.name
    }

    /// Its unit price.
    pub fn price(&self) -> Money {
        self.price
    }

    /// Its initial stock.
    pub fn stock(&self) -> Stock {
        self.stock
    }

    /// The product a store creates from it under `id`.
    pub fn into_product(self, id: i64) -> Product {
        Product {
            id,
            sku: self.sku,
            name: self.name,
            price: self.price,
            stock: self.stock,
            version: Version::FIRST,
        }
    }
}

/// A partial update: the fields set are changed, the others kept.
///
/// ```
/// use inventory_core::{ProductPatch, Stock};
/// let patch = ProductPatch::new().with_stock(Stock::new(40)?);
/// assert_eq!(patch.stock(), Some(Stock::new(40)?));
/// assert!(patch.sku().is_none());
/// # Ok::<_, inventory_core::RangeError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    sku: Option<Sku>,
    name: Option<ProductName>,
    price: Option<Money>,
    stock: Option<Stock>,
    stock_if_current: Option<Stock>,
    precondition: Option<Precondition>,
}

impl ProductPatch {
    /// A patch that changes nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a new SKU (must stay unique).
    pub fn with_sku(mut self, sku: Sku) -> Self {
        self.sku = Some(sku);
        self
    }

    /// Sets a new name.
    pub fn with_name(mut self, name: ProductName) -> Self {
        self.name = Some(name);
        self
    }

    /// Sets a new price; orders already placed keep theirs.
    pub fn with_price(mut self, price: Money) -> Self {
        self.price = Some(price);
        self
    }

    /// Sets a new stock level (written to the ledger as a `set` movement).
    pub fn with_stock(mut self, stock: Stock) -> Self {
        self.stock = Some(stock);
        self
    }

    /// Sets the stock only if it is still `current` (Shopify's compare-and-set form,
    /// `"stock": {"set": 40, "if_current": 45}`); otherwise [`Error::StockChanged`].
    pub fn with_stock_if_current(mut self, stock: Stock, current: Stock) -> Self {
        self.stock = Some(stock);
        self.stock_if_current = Some(current);
        self
    }

    /// Applies only if the product satisfies `precondition` (HTTP's `If-Match`); otherwise
    /// [`Error::PreconditionFailed`].
    pub fn with_precondition(mut self, precondition: Precondition) -> Self {
        self.precondition = Some(precondition);
        self
    }

    /// The new SKU, if any.
    pub fn sku(&self) -> Option<&Sku> {
        self.sku.as_ref()
    }

    /// The new name, if any.
    pub fn name(&self) -> Option<&ProductName> {
        self.name.as_ref()
    }

    /// The new price, if any.
    pub fn price(&self) -> Option<Money> {
        self.price
    }

    /// The new stock level, if any.
    pub fn stock(&self) -> Option<Stock> {
        self.stock
    }

    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.sku.is_none() && self.name.is_none() && self.price.is_none() && self.stock.is_none()
    }

    /// `product` with the patch applied, at its next version (what every store writes, inside
    /// the transaction that read `product`), or why not: the precondition
    /// ([`Error::PreconditionFailed`]) or the stock compare-and-set ([`Error::StockChanged`])
    /// no longer holds.
    pub fn apply_to(&self, product: &Product) -> Result<Product, Error> {
        crate::version::check(self.precondition.as_ref(), product.id, product.version)?;
        if let Some(expected) = self.stock_if_current
            && expected != product.stock
        {
            return Err(Error::StockChanged {
                product_id: product.id,
                expected,
                current: product.stock,
            });
        }
        Ok(Product {
            id: product.id,
            sku: self.sku.clone().unwrap_or_else(|| product.sku.clone()),
            name: self.name.clone().unwrap_or_else(|| product.name.clone()),
            price: self.price.unwrap_or(product.price),
            stock: self.stock.unwrap_or(product.stock),
            version: product.version.next(),
        })
    }
}

pub(crate) fn sku_field(v: &Value) -> Result<Sku, Problem> {
    Ok(Sku::parse(validation::string(v)?)?)
}

fn name_field(v: &Value) -> Result<ProductName, Problem> {
    Ok(ProductName::parse(validation::string(v)?)?)
}

pub(crate) fn price_field(v: &Value) -> Result<Money, Problem> {
    Ok(validation::number_text(v)?.parse::<Money>()?)
}

fn stock_field(v: &Value) -> Result<Stock, Problem> {
    validation::count(v, Stock::new)
}

/// A `PUT`'s stock: a number, or the compare-and-set form `{"set": 40, "if_current": 45}`.
fn stock_update_field(v: &Value) -> Result<(Stock, Option<Stock>), Problem> {
    let Some(form) = v.as_object() else {
        return Ok((stock_field(v)?, None));
    };
    if form.len() != 2 || !form.contains_key("set") || !form.contains_key("if_current") {
        return Err(Problem::StockForm);
    }
    Ok((
        stock_field(&form["set"])?,
        Some(stock_field(&form["if_current"])?),
    ))
}

const PRODUCT_FIELDS: &[&str] = &["sku", "name", "price", "stock"];

impl NewProduct {
    /// Reads a `POST /products` body, reporting every invalid, missing or unknown field.
    ///
    /// ```
    /// use inventory_core::NewProduct;
    /// let body = serde_json::json!({"sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50});
    /// let p = NewProduct::from_json(&body).unwrap();
    /// assert_eq!(p.price().cents(), 4999);
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
            (Some(sku), Some(name), Some(price), Some(stock)) => {
                Ok(NewProduct::new(sku, name, price, stock))
            }
            // `finish` has reported why a field is missing.
            _ => Err(validation::internal_inconsistency()),
        }
    }
}

impl ProductPatch {
    /// Reads a `PUT /products/{id}` body: any subset of the product's fields, nothing else.
    pub fn from_json(body: &Value) -> Result<ProductPatch, ValidationErrors> {
        let mut r = BodyReader::new(body);
        let sku = r.optional("sku", sku_field);
        let name = r.optional("name", name_field);
        let price = r.optional("price", price_field);
        let stock = r.optional("stock", stock_update_field);
        r.finish(PRODUCT_FIELDS, false)?;
        Ok(ProductPatch {
            sku,
            name,
            price,
            stock: stock.map(|(set, _)| set),
            stock_if_current: stock.and_then(|(_, if_current)| if_current),
            precondition: None,
        })
    }
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
