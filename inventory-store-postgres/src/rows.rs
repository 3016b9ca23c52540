//! Reading rows into the core's types. Every value is re-validated: a row edited by hand into
//! something the domain refuses is reported as corrupt, never passed on.

use std::fmt::Display;

use inventory_core::{
    Allocation, Amount, ChangeSource, Location, LocationCode, LocationLevel, LocationName, Money,
    MovementKind, Order, OrderEvent, OrderLine, OrderStatus, Product, ProductName, Quantity, Sku,
    Stock, StockDelta, StockMovement, UnknownStatus, Version,
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

/// The order columns every order query returns, in this order.
macro_rules! order_columns {
    () => {
        "id, status, total_cents, created_at, updated_at, version"
    };
}

/// The lines of the order aliased `$order`, as three arrays in line order (`line_products`,
/// `line_quantities`, `line_prices`), and their allocations as three more (`alloc_lines`,
/// `alloc_locations`, `alloc_quantities`): `FROM orders o` then `order_lines_of!("o")`, so
/// that a row holds its order whole and a listing is one round trip.
///
/// A line's allocations are listed by location id, as core lists them in a placement.
macro_rules! order_lines_of {
    ($order:literal) => {
        concat!(
            " CROSS JOIN LATERAL (SELECT * FROM \
                 (SELECT array_agg(product_id ORDER BY line) AS line_products, \
                     array_agg(quantity ORDER BY line) AS line_quantities, \
                     array_agg(unit_price_cents ORDER BY line) AS line_prices \
                  FROM order_lines WHERE order_id = ",
            $order,
            ".id) ol, \
                 (SELECT array_agg(line ORDER BY line, location_id) AS alloc_lines, \
                     array_agg(location_id ORDER BY line, location_id) AS alloc_locations, \
                     array_agg(quantity ORDER BY line, location_id) AS alloc_quantities \
                  FROM order_allocations WHERE order_id = ",
            $order,
            ".id) oa) lines "
        )
    };
}

/// The ledger columns every ledger query returns.
macro_rules! movement_columns {
    () => {
        "id, product_id, location_id, delta, kind, reason, order_id, created_at"
    };
}

/// The history columns every history query returns.
macro_rules! event_columns {
    () => {
        "id, order_id, from_status, to_status, source, event_id, created_at"
    };
}

pub(crate) use {event_columns, movement_columns, order_columns, order_lines_of, product_columns};

/// The order columns, for SQL built at run time.
pub(crate) const ORDER_COLUMNS: &str = order_columns!();

/// The lines of the orders aliased `o`, for SQL built at run time.
pub(crate) const ORDER_LINES: &str = order_lines_of!("o");

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

/// An order from a row holding [`order_columns!`] and [`order_lines_of!`].
pub(crate) fn order(row: &Row) -> OpResult<Order> {
    let id: i64 = get(row, "id")?;
    let bad = |what: &str, why: &dyn Display| corrupt(format!("order {id}: {what}: {why}"));
    let products: Option<Vec<i64>> = get(row, "line_products")?;
    let quantities: Option<Vec<i64>> = get(row, "line_quantities")?;
    let prices: Option<Vec<i64>> = get(row, "line_prices")?;
    let (products, quantities, prices) = (
        products.unwrap_or_default(),
        quantities.unwrap_or_default(),
        prices.unwrap_or_default(),
    );
    if products.is_empty() || products.len() != quantities.len() || products.len() != prices.len() {
        return Err(bad("lines", &products.len()));
    }
    let mut lines = Vec::with_capacity(products.len());
    for ((product_id, quantity), price) in products.into_iter().zip(quantities).zip(prices) {
        let quantity = Quantity::new(quantity).map_err(|e| bad("quantity", &e))?;
        let price = Money::from_cents(price).map_err(|e| bad("unit_price_cents", &e))?;
        lines.push(OrderLine::new(product_id, quantity, price));
    }
    allocate(id, &mut lines, row)?;
    let total = Amount::from_cents(get(row, "total_cents")?).map_err(|e| bad("total", &e))?;
    if lines.iter().map(|l| l.total.cents()).sum::<i64>() != total.cents() {
        return Err(bad("total", &total));
    }
    Ok(Order {
        id,
        status: status(get(row, "status")?).map_err(|e| bad("status", &e))?,
        lines,
        total,
        // The driver reads TIMESTAMPTZ as UTC, so values compare equal to what was written.
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        version: Version::new(get(row, "version")?).map_err(|e| bad("version", &e))?,
    })
}

/// Gives each of `lines` (of order `id`) its allocations from the row's `alloc_*` arrays
/// (sorted by line, then location id): every line must have some, adding up to
/// its quantity.
fn allocate(id: i64, lines: &mut [OrderLine], row: &Row) -> OpResult<()> {
    let bad = |why: String| corrupt(format!("order {id}: allocations: {why}"));
    let at: Option<Vec<i16>> = get(row, "alloc_lines")?;
    let locations: Option<Vec<i64>> = get(row, "alloc_locations")?;
    let quantities: Option<Vec<i64>> = get(row, "alloc_quantities")?;
    let (at, locations, quantities) = (
        at.unwrap_or_default(),
        locations.unwrap_or_default(),
        quantities.unwrap_or_default(),
    );
    if at.len() != locations.len() || at.len() != quantities.len() {
        return Err(bad(format!(
            "{} lines for {} locations",
            at.len(),
            locations.len()
        )));
    }
    for ((line, location_id), quantity) in at.into_iter().zip(locations).zip(quantities) {
        let line = usize::try_from(line)
            .ok()
            .and_then(|i| lines.get_mut(i))
            .ok_or_else(|| bad(format!("line {line} does not exist")))?;
        let quantity = Quantity::new(quantity).map_err(|e| bad(format!("quantity: {e}")))?;
        line.allocations.push(Allocation {
            location_id,
            quantity,
        });
    }
    for (i, line) in lines.iter().enumerate() {
        let allocated: i64 = line.allocations.iter().map(|a| a.quantity.get()).sum();
        if allocated != line.quantity.get() {
            return Err(bad(format!(
                "line {i} of {} units has {allocated} allocated",
                line.quantity
            )));
        }
    }
    Ok(())
}

/// A location from a row holding `id, code, name, priority`.
pub(crate) fn location(row: &Row) -> OpResult<Location> {
    let id: i64 = get(row, "id")?;
    let bad = |what: &str, why: &dyn Display| corrupt(format!("location {id}: {what}: {why}"));
    Ok(Location {
        id,
        code: LocationCode::parse(get(row, "code")?).map_err(|e| bad("code", &e))?,
        name: LocationName::parse(get(row, "name")?).map_err(|e| bad("name", &e))?,
        priority: get(row, "priority")?,
    })
}

/// A level from a row holding `location_id, priority, on_hand, committed` of `product_id`.
pub(crate) fn level(product_id: i64, row: &Row) -> OpResult<LocationLevel> {
    let location_id: i64 = get(row, "location_id")?;
    let bad = |what: &str, why: &dyn Display| {
        corrupt(format!(
            "product {product_id} at location {location_id}: {what}: {why}"
        ))
    };
    let on_hand = Stock::new(get(row, "on_hand")?).map_err(|e| bad("on_hand", &e))?;
    let committed = Stock::new(get(row, "committed")?).map_err(|e| bad("committed", &e))?;
    LocationLevel::new(location_id, get(row, "priority")?, on_hand, committed)
        .map_err(|e| bad("level", &e))
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
        location_id: get(row, "location_id")?,
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
