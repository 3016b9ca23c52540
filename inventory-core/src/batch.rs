//! Batches: many products created or updated in one step (`POST /products/bulk`), and several
//! stock adjustments of one product applied together.
//!
//! Both are all or nothing: a store applies a batch in one transaction, and a refusal of any
//! item changes nothing. What each item does is decided here, once, from the row the store
//! read inside that transaction.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::allocation::LocationLevel;
use crate::error::Error;
use crate::ledger::Adjustment;
use crate::location::{LevelChange, available_at};
use crate::product::{NewProduct, Product};
use crate::units::{Stock, StockDelta};
use crate::validation::{FieldError, JsonType, PathSegment, Problem, ValidationErrors};

/// Why a list cannot be a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// Empty, or longer than allowed.
    #[error("{}", length_message(*min, *max, *len))]
    Length {
        /// The fewest items allowed.
        min: usize,
        /// The most items allowed.
        max: usize,
        /// How many there were.
        len: usize,
    },
    /// Two items name the same SKU: which would win is not the caller's to guess.
    #[error("Duplicate SKU: item {first} of the list has the same one")]
    DuplicateSku {
        /// The index of the first item with the SKU.
        first: usize,
        /// The index of the item repeating it.
        second: usize,
    },
}

/// Pydantic's wording for a list of the wrong length.
fn length_message(min: usize, max: usize, len: usize) -> String {
    let items = |n: usize| if n == 1 { "item" } else { "items" };
    if len < min {
        format!(
            "List should have at least {min} {} after validation, not {len}",
            items(min)
        )
    } else {
        format!(
            "List should have at most {max} {} after validation, not {len}",
            items(max)
        )
    }
}

fn check_length(len: usize, max: usize) -> Result<(), BatchError> {
    if (1..=max).contains(&len) {
        Ok(())
    } else {
        Err(BatchError::Length { min: 1, max, len })
    }
}

/// Up to [`ProductBatch::MAX_ITEMS`] products to create or update in one step, each SKU once.
///
/// An item whose SKU no product has is created (with an `initial` ledger row); an item whose
/// SKU exists overwrites that product's name, price and stock (a changed stock writes a `set`
/// ledger row); an item equal to its product changes nothing, not even the version. See
/// [`NewProduct::upsert_onto`].
///
/// ```
/// use inventory_core::{BatchError, ProductBatch};
/// let body = serde_json::json!({"products": [
///     {"sku": "A-1", "name": "A", "price": 1.5, "stock": 3},
///     {"sku": "B-1", "name": "B", "price": 2, "stock": 0},
/// ]});
/// assert_eq!(ProductBatch::from_json(&body)?.len(), 2);
///
/// let twice = serde_json::json!({"products": [
///     {"sku": "A-1", "name": "A", "price": 1.5, "stock": 3},
///     {"sku": "A-1", "name": "A again", "price": 1.5, "stock": 3},
/// ]});
/// let errors = ProductBatch::from_json(&twice).unwrap_err();
/// assert_eq!(errors.errors()[0].to_string(),
///            "products.1.sku: Duplicate SKU: item 0 of the list has the same one");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductBatch {
    items: Vec<NewProduct>,
}

impl ProductBatch {
    /// The most items a batch may hold.
    pub const MAX_ITEMS: usize = 1000;

    /// A batch of `items`: 1 to [`ProductBatch::MAX_ITEMS`], no SKU twice.
    pub fn new(items: Vec<NewProduct>) -> Result<ProductBatch, BatchError> {
        check_length(items.len(), Self::MAX_ITEMS)?;
        if let Some((first, second)) = first_repeat(&items) {
            return Err(BatchError::DuplicateSku { first, second });
        }
        Ok(ProductBatch { items })
    }

    /// The items, in the caller's order (the order of the outcome's items too).
    pub fn items(&self) -> &[NewProduct] {
        &self.items
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Never: a batch holds at least one item.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items' indexes in SKU order: the order a store that locks rows visits them in, so
    /// that two batches naming the same SKUs wait for one another instead of deadlocking.
    pub fn lock_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.sort_by(|a, b| self.items[*a].sku().cmp(self.items[*b].sku()));
        order
    }

    /// Reads a `POST /products/bulk` body, `{"products": [...]}`, reporting every problem of
    /// every item by its index (`products.3.price`).
    pub fn from_json(body: &Value) -> Result<ProductBatch, ValidationErrors> {
        let list = list_field(body, "products", Self::MAX_ITEMS)?;
        let products = parse_items(list, "products", NewProduct::from_json)?;
        ProductBatch::new(products).map_err(|e| {
            let path = match &e {
                BatchError::DuplicateSku { second, .. } => vec![
                    PathSegment::Field("products".to_owned()),
                    PathSegment::Index(*second),
                    PathSegment::Field("sku".to_owned()),
                ],
                _ => vec![PathSegment::Field("products".to_owned())],
            };
            FieldError::new(path, Problem::Batch(e)).into()
        })
    }
}

fn first_repeat(items: &[NewProduct]) -> Option<(usize, usize)> {
    let mut seen = HashMap::with_capacity(items.len());
    items
        .iter()
        .enumerate()
        .find_map(|(i, p)| seen.insert(p.sku(), i).map(|first| (first, i)))
}

/// The list under `name` of an object body, of 1 to `max` items.
pub(crate) fn list_field<'a>(
    body: &'a Value,
    name: &str,
    max: usize,
) -> Result<&'a [Value], FieldError> {
    let Some(map) = body.as_object() else {
        return Err(FieldError::new(Vec::new(), Problem::NotAnObject));
    };
    if let Some(extra) = map.keys().find(|k| *k != name) {
        return Err(FieldError::field(extra, Problem::Unknown));
    }
    let list = match map.get(name) {
        None => return Err(FieldError::field(name, Problem::Missing)),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(FieldError::field(name, Problem::WrongType(JsonType::Array)));
        }
    };
    check_length(list.len(), max).map_err(|e| FieldError::field(name, Problem::Batch(e)))?;
    Ok(list)
}

/// Each item of `list` read by `parse`, or every item's every problem, under `within.<index>`
/// (`within` empty: the body is the list).
pub(crate) fn parse_items<T>(
    list: &[Value],
    within: &str,
    parse: impl Fn(&Value) -> Result<T, ValidationErrors>,
) -> Result<Vec<T>, ValidationErrors> {
    let mut items = Vec::with_capacity(list.len());
    let mut errors = Vec::new();
    for (i, v) in list.iter().enumerate() {
        match parse(v) {
            Ok(item) => items.push(item),
            Err(e) => {
                let mut prefix = Vec::with_capacity(2);
                if !within.is_empty() {
                    prefix.push(PathSegment::Field(within.to_owned()));
                }
                prefix.push(PathSegment::Index(i));
                errors.extend(e.errors().iter().map(|f| f.within(&prefix)));
            }
        }
    }
    match ValidationErrors::from_vec(errors) {
        None => Ok(items),
        Some(e) => Err(e),
    }
}

/// What a batch did with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Upserted {
    /// No product had its SKU: created.
    Created,
    /// The product with its SKU was overwritten.
    Updated,
    /// The product with its SKU already was exactly this: nothing written.
    Unchanged,
}

impl fmt::Display for Upserted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Upserted::Created => "created",
            Upserted::Updated => "updated",
            Upserted::Unchanged => "unchanged",
        })
    }
}

/// One item of a batch's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    /// What was done.
    pub result: Upserted,
    /// The product as it is after the batch.
    pub product: Product,
}

/// What a batch did, item by item in the caller's order, with the counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// Items created.
    pub created: usize,
    /// Items that overwrote a product.
    pub updated: usize,
    /// Items equal to their product.
    pub unchanged: usize,
    /// Each item's result, in the order of the batch.
    pub items: Vec<BatchItem>,
}

impl BatchOutcome {
    /// The outcome of `items`, counted.
    pub fn new(items: Vec<BatchItem>) -> BatchOutcome {
        let count = |r: Upserted| items.iter().filter(|i| i.result == r).count();
        BatchOutcome {
            created: count(Upserted::Created),
            updated: count(Upserted::Updated),
            unchanged: count(Upserted::Unchanged),
            items,
        }
    }
}

/// What a store does with one item of a batch, as [`NewProduct::upsert_onto`] decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertPlan {
    /// Create the product (with its `initial` ledger row), as `create_product` does.
    Create,
    /// Write `product` over the row read; when `stock_delta` is set, with a `set` ledger row of
    /// that delta.
    Update {
        /// The row to write, at its next version.
        product: Product,
        /// The stock's change, if it changed.
        stock_delta: Option<StockDelta>,
    },
    /// Write nothing; the product stays as read.
    Unchanged(Product),
}

impl NewProduct {
    /// Decides this batch item against `existing`, the product holding its SKU now (read, and
    /// where the backend locks rows, locked, in the batch's transaction): create it, overwrite
    /// its name, price and stock, or leave it alone when it already is this.
    pub fn upsert_onto(&self, existing: Option<&Product>) -> UpsertPlan {
        let Some(old) = existing else {
            return UpsertPlan::Create;
        };
        if old.name == *self.name() && old.price == self.price() && old.stock == self.stock() {
            return UpsertPlan::Unchanged(old.clone());
        }
        let product = Product {
            id: old.id,
            sku: old.sku.clone(),
            name: self.name().clone(),
            price: self.price(),
            stock: self.stock(),
            version: old.version.next(),
        };
        let stock_delta = (old.stock != self.stock()).then(|| old.stock.delta_to(self.stock()));
        UpsertPlan::Update {
            product,
            stock_delta,
        }
    }
}

impl UpsertPlan {
    /// The outcome item once the plan is carried out; `created` is the row a
    /// [`UpsertPlan::Create`] made.
    pub fn outcome(self, created: Option<Product>) -> Result<BatchItem, Error> {
        let (result, product) = match (self, created) {
            (UpsertPlan::Create, Some(p)) => (Upserted::Created, p),
            (UpsertPlan::Update { product, .. }, _) => (Upserted::Updated, product),
            (UpsertPlan::Unchanged(p), _) => (Upserted::Unchanged, p),
            (UpsertPlan::Create, None) => {
                return Err(Error::backend("a created batch item has no row"));
            }
        };
        Ok(BatchItem { result, product })
    }
}

/// One to [`Adjustments::MAX_ITEMS`] adjustments of one product, applied in order in one step:
/// all of them or, if any would take the stock out of range, none.
///
/// ```
/// use inventory_core::{Adjustments, Stock};
/// let list = serde_json::json!([
///     {"delta": 10, "reason": "delivery"},
///     {"delta": -2, "reason": "damaged"},
/// ]);
/// let adjustments = Adjustments::from_json(&list)?;
/// assert_eq!(adjustments.apply_to(1, Stock::new(0)?)?.get(), 8);
/// // The same list the other way round would go below zero on its first step.
/// let reversed = Adjustments::from_json(&serde_json::json!([
///     {"delta": -2, "reason": "damaged"},
///     {"delta": 10, "reason": "delivery"},
/// ]))?;
/// assert!(reversed.apply_to(1, Stock::new(0)?).is_err());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustments(Vec<Adjustment>);

impl Adjustments {
    /// The most adjustments one request may carry.
    pub const MAX_ITEMS: usize = 100;

    /// A list of 1 to [`Adjustments::MAX_ITEMS`] adjustments.
    pub fn new(list: Vec<Adjustment>) -> Result<Adjustments, BatchError> {
        check_length(list.len(), Self::MAX_ITEMS)?;
        Ok(Adjustments(list))
    }

    /// The adjustments, in the order they apply.
    pub fn as_slice(&self) -> &[Adjustment] {
        &self.0
    }

    /// Decides the whole list from the stock `current` of product `product_id`: the stock after
    /// the last one, or the refusal of the first that would take it below zero or above
    /// [`crate::MAX_STOCK`] ([`Adjustment::apply_to`]'s errors). Each ledger row then shows a
    /// stock that really was, never a negative one.
    pub fn apply_to(&self, product_id: i64, current: Stock) -> Result<Stock, Error> {
        self.0
            .iter()
            .try_fold(current, |stock, a| a.apply_to(product_id, stock))
    }

    /// Decides the whole list on the product's stock `current` and its `levels` (read under its
    /// lock): the stock after the last one, and one [`LevelChange`] per adjustment (its units
    /// on or off the shelf of its location), or the refusal of the first that would take the
    /// product out of range ([`Adjustments::apply_to`]) or its location's available units below
    /// zero ([`Error::InsufficientStock`] with what was available there). Units promised to
    /// orders cannot be adjusted away.
    pub fn plan(
        &self,
        product_id: i64,
        current: Stock,
        levels: &[LocationLevel],
    ) -> Result<(Stock, Vec<LevelChange>), Error> {
        let mut stock = current;
        // Per location touched: (available, on hand), as the list goes.
        let mut at: HashMap<i64, (i64, i64)> = HashMap::new();
        let mut changes = Vec::with_capacity(self.0.len());
        for a in &self.0 {
            stock = a.apply_to(product_id, stock)?;
            let loc = a.location();
            let (available, on_hand) = at.entry(loc).or_insert_with(|| {
                let level = levels.iter().find(|l| l.location_id() == loc);
                (
                    available_at(levels, loc),
                    level.map_or(0, |l| l.on_hand().get()),
                )
            });
            if *available + a.delta().get() < 0 {
                return Err(Error::InsufficientStock {
                    product_id,
                    requested: a.delta().removed(),
                    available: Stock::new(*available).unwrap_or(Stock::ZERO),
                    shortages: Vec::new(),
                });
            }
            // Units promised to orders are on the shelf too: the shelf has the same maximum.
            if *on_hand + a.delta().get() > crate::MAX_STOCK {
                return Err(Error::StockAboveMaximum { product_id });
            }
            *available += a.delta().get();
            *on_hand += a.delta().get();
            changes.push(LevelChange {
                product_id,
                location_id: loc,
                on_hand: a.delta(),
                committed: StockDelta::ZERO,
            });
        }
        Ok((stock, changes))
    }

    /// Reads a `POST /products/{id}/adjustments` body: one adjustment `{"delta": …,
    /// "reason": …}`, or a list of them, whose problems are reported by index (`2.delta`).
    pub fn from_json(body: &Value) -> Result<Adjustments, ValidationErrors> {
        let Value::Array(list) = body else {
            return Adjustment::from_json(body).map(Adjustments::from);
        };
        check_length(list.len(), Self::MAX_ITEMS)
            .map_err(|e| FieldError::new(Vec::new(), Problem::Batch(e)))?;
        Ok(Adjustments(parse_items(list, "", Adjustment::from_json)?))
    }
}

impl From<Adjustment> for Adjustments {
    fn from(one: Adjustment) -> Self {
        Adjustments(vec![one])
    }
}
