//! Reading rows into the core's types. Every value is re-validated: a row edited by hand into
//! something the domain refuses is reported as corrupt, never passed on.

use std::fmt::Display;

use inventory_core::{
    ChangeSource, Money, MovementKind, Order, OrderEvent, OrderStatus, Product, ProductName,
    Quantity, Sku, Stock, StockDelta, StockMovement, UnknownStatus, Version,
};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::error::{OpResult, corrupt};

/// The product columns every product query returns, in this order (a macro, so that SQL texts
/// can be `concat!`-ed into constants).
macro_rules! product_columns {
    () => {
        "id, sku, name, price_cents, stock, version"
    };
}

/// The order columns every order query returns, in this order. `total_cents` is not read back:
/// the total is core's rule ([`Money::times`]), and the column's CHECK keeps it equal.
macro_rules! order_columns {
    () => {
        "id, product_id, quantity, status, unit_price_cents, created_at, updated_at, version"
    };
}

/// The ledger columns every ledger query returns.
macro_rules! movement_columns {
    () => {
        "id, product_id, delta, kind, reason, order_id, created_at"
    };
}

/// The history columns every history query returns.
macro_rules! event_columns {
    () => {
        "id, order_id, from_status, to_status, source, event_id, created_at"
    };
}

pub(crate) use {event_columns, movement_columns, order_columns, product_columns};

/// The order columns, for SQL built at run time.
pub(crate) const ORDER_COLUMNS: &str = order_columns!();

fn get<'a, T: FromSql<'a>>(row: &'a Row, column: &str) -> OpResult<T> {
    row.try_get(column)
        .map_err(|e| corrupt(format!("column {column}: {e}")))
}

/// A product from a row holding [`product_columns!`].
pub(crate) fn product(row: &Row) -> OpResult<Product> {
    let id: i64 = get(row, "id")?;
    let bad = |what: &str, why: &dyn Display| corrupt(format!("product {id}: {what}: {why}"));
    Ok(Product {
        id,
        sku: Sku::parse(get(row, "sku")?).map_err(|e| bad("sku", &e))?,
        name: ProductName::parse(get(row, "name")?).map_err(|e| bad("name", &e))?,
        price: Money::from_cents(get(row, "price_cents")?).map_err(|e| bad("price_cents", &e))?,
        stock: Stock::new(get(row, "stock")?).map_err(|e| bad("stock", &e))?,
        version: Version::new(get(row, "version")?).map_err(|e| bad("version", &e))?,
    })
}

/// An order from a row holding [`order_columns!`].
pub(crate) fn order(row: &Row) -> OpResult<Order> {
    let id: i64 = get(row, "id")?;
    let bad = |what: &str, why: &dyn Display| corrupt(format!("order {id}: {what}: {why}"));
    let quantity = Quantity::new(get(row, "quantity")?).map_err(|e| bad("quantity", &e))?;
    let unit_price = Money::from_cents(get(row, "unit_price_cents")?)
        .map_err(|e| bad("unit_price_cents", &e))?;
    Ok(Order {
        id,
        product_id: get(row, "product_id")?,
        quantity,
        status: status(get(row, "status")?).map_err(|e| bad("status", &e))?,
        unit_price,
        total: unit_price.times(quantity),
        // The driver reads TIMESTAMPTZ as UTC, so values compare equal to what was written.
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        version: Version::new(get(row, "version")?).map_err(|e| bad("version", &e))?,
    })
}

/// A ledger row from a row holding [`movement_columns!`].
pub(crate) fn movement(row: &Row) -> OpResult<StockMovement> {
    let id: i64 = get(row, "id")?;
    let bad = |what: &str, why: &dyn Display| corrupt(format!("movement {id}: {what}: {why}"));
    let kind: &str = get(row, "kind")?;
    Ok(StockMovement {
        id,
        product_id: get(row, "product_id")?,
        delta: StockDelta::new(get(row, "delta")?).map_err(|e| bad("delta", &e))?,
        kind: MovementKind::parse(kind).ok_or_else(|| bad("kind", &format_args!("{kind:?}")))?,
        reason: get(row, "reason")?,
        order_id: get(row, "order_id")?,
        created_at: get(row, "created_at")?,
    })
}

/// A history row from a row holding [`event_columns!`].
pub(crate) fn event(row: &Row) -> OpResult<OrderEvent> {
    let id: i64 = get(row, "id")?;
    let bad = |what: &str, why: &dyn Display| corrupt(format!("order event {id}: {what}: {why}"));
    let from: Option<&str> = get(row, "from_status")?;
    let source: &str = get(row, "source")?;
    Ok(OrderEvent {
        id,
        order_id: get(row, "order_id")?,
        from_status: from
            .map(status)
            .transpose()
            .map_err(|e| bad("from_status", &e))?,
        to_status: status(get(row, "to_status")?).map_err(|e| bad("to_status", &e))?,
        source: ChangeSource::from_parts(source, get(row, "event_id")?)
            .ok_or_else(|| bad("source", &format_args!("{source:?} without its event id")))?,
        created_at: get(row, "created_at")?,
    })
}

/// A status from its wire name (the column's CHECK allows only those).
pub(crate) fn status(text: &str) -> Result<OrderStatus, UnknownStatus> {
    text.parse()
}
