//! Orders: placing them (the take and the read of the stock in one statement, core deciding),
//! applying core's status changes, and expiring unpaid ones; each with its ledger and history
//! rows.

use std::fmt::Display;

use inventory_core::{
    Amount, ChangeSource, Error, Money, MovementKind, NewOrder, Order, OrderFilter, OrderStatus,
    Page, Quantity, Result, StatusChange, Stock, StockDelta, UnknownStatus, Version,
};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use super::{from_db_time, history, ledger, page_params, products, to_db_time};
use crate::error::{DbResult, corrupt};

/// The columns [`OrderRow::read`] expects, in order; a macro so statements are `concat!`ed at
/// compile time.
macro_rules! columns {
    () => {
        "id, product_id, quantity, status, unit_price_cents, total_cents, created_at, updated_at, version"
    };
}

/// An order row as stored, before the domain types check it.
struct OrderRow {
    id: i64,
    product_id: i64,
    quantity: i64,
    status: String,
    unit_price_cents: i64,
    total_cents: i64,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

impl OrderRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(OrderRow {
            id: r.get(0)?,
            product_id: r.get(1)?,
            quantity: r.get(2)?,
            status: r.get(3)?,
            unit_price_cents: r.get(4)?,
            total_cents: r.get(5)?,
            created_at: r.get(6)?,
            updated_at: r.get(7)?,
            version: r.get(8)?,
        })
    }

    fn into_order(self) -> Result<Order> {
        let id = self.id;
        let bad = |what: &str, e: &dyn Display| corrupt(format!("order {id}: {what}: {e}"));
        Ok(Order {
            id,
            product_id: self.product_id,
            quantity: Quantity::new(self.quantity).map_err(|e| bad("quantity", &e))?,
            status: parse_status(id, &self.status)?,
            unit_price: Money::from_cents(self.unit_price_cents)
                .map_err(|e| bad("unit price", &e))?,
            total: Amount::from_cents(self.total_cents).map_err(|e| bad("total", &e))?,
            created_at: from_db_time(self.created_at)?,
            updated_at: from_db_time(self.updated_at)?,
            version: Version::new(self.version).map_err(|e| bad("version", &e))?,
        })
    }
}

pub(super) fn parse_status(order_id: i64, s: &str) -> Result<OrderStatus> {
    s.parse()
        .map_err(|e: UnknownStatus| corrupt(format!("order {order_id}: status {s:?}: {e}")))
}

/// Takes the stock as core's [`NewOrder::take_from`] decides, and inserts the order, its
/// `order_placed` ledger row and its first history row.
pub(crate) fn place_order(conn: &Connection, order: &NewOrder, at: i64) -> Result<Order> {
    let (product_id, quantity) = (order.product_id(), order.quantity());
    // One statement takes the units and reads what was there (the hot path has no separate
    // read). Core then decides on that stock; a refusal returns an error, and the savepoint
    // undoes the take. OR IGNORE: when the take would break the schema's CHECK (stock >= 0),
    // the row is left alone and nothing is returned; core is then asked about the stock as it
    // is, below.
    let taken: Option<(i64, i64, i64)> = conn
        .prepare_cached(
            "UPDATE OR IGNORE products SET stock = stock - ?1, updated_at = ?2, version = version + 1 WHERE id = ?3
             RETURNING stock + ?1, stock, price_cents",
        )
        .db()?
        .query_row(params![quantity.get(), at, product_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .db()?;
    let Some((before, after, price_cents)) = taken else {
        // Nothing taken: the product is missing (not found), or core says why it cannot serve.
        let available = products::stock_of(conn, product_id)?;
        order.take_from(available)?;
        return Err(Error::backend(format!(
            "product {product_id}: the database refused to take {quantity} of {available}, \
             which core allows"
        )));
    };
    let before = Stock::new(before)
        .map_err(|e| corrupt(format!("product {product_id}: stock {before}: {e}")))?;
    let left = order.take_from(before)?;
    if left != after {
        return Err(Error::backend(format!(
            "product {product_id}: taking {quantity} of {before} left {after}, core says {left}"
        )));
    }
    let unit_price = Money::from_cents(price_cents)
        .map_err(|e| corrupt(format!("product {product_id}: price: {e}")))?;
    let total = unit_price.times(quantity);
    let status = OrderStatus::Pending;
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO orders (product_id, quantity, status, unit_price_cents, total_cents,
                                 created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id",
        )
        .db()?
        .query_row(
            params![
                product_id,
                quantity.get(),
                status.as_str(),
                price_cents,
                total.cents(),
                at
            ],
            |r| r.get(0),
        )
        .db()?;
    let taken = StockDelta::taking(quantity);
    let kind = MovementKind::OrderPlaced;
    ledger::record(conn, product_id, taken, kind, None, Some(id), at)?;
    history::record(conn, id, None, status, &ChangeSource::Api, at)?;
    let at = from_db_time(at)?;
    Ok(Order {
        id,
        product_id,
        quantity,
        status,
        unit_price,
        total,
        created_at: at,
        updated_at: at,
        version: Version::FIRST,
    })
}

fn order_by_id(conn: &Connection, id: i64) -> Result<Option<Order>> {
    let sql = concat!("SELECT ", columns!(), " FROM orders WHERE id = ?1");
    let row = conn
        .prepare_cached(sql)
        .db()?
        .query_row([id], OrderRow::read)
        .optional()
        .db()?;
    row.map(OrderRow::into_order).transpose()
}

pub(crate) fn get_order(conn: &Connection, id: i64) -> Result<Order> {
    order_by_id(conn, id)?.ok_or(Error::OrderNotFound { id })
}

pub(crate) fn list_orders(
    conn: &Connection,
    filter: OrderFilter,
    page: Page,
) -> Result<Vec<Order>> {
    let query = ListQuery::new(filter, page)?;
    let (sql, values) = query.statement();
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt.query_map(values.as_slice(), OrderRow::read).db()?;
    rows.map(|r| r.db().and_then(OrderRow::into_order))
        .collect()
}

/// The values of an order listing, as SQL parameters.
struct ListQuery {
    after: i64,
    limit: i64,
    skip: i64,
    status: Option<&'static str>,
    product_id: Option<i64>,
    created_after: Option<i64>,
    created_before: Option<i64>,
}

impl ListQuery {
    fn new(filter: OrderFilter, page: Page) -> Result<ListQuery> {
        let (after, limit, skip) = page_params(page);
        Ok(ListQuery {
            after,
            limit,
            skip,
            status: filter.status.map(OrderStatus::as_str),
            product_id: filter.product_id,
            created_after: filter.created_after.map(to_db_time).transpose()?,
            created_before: filter.created_before.map(to_db_time).transpose()?,
        })
    }

    /// One statement text per combination of filters (each cached), so that each can use its
    /// index: orders(status, id), orders(product_id, id) or orders(created_at, id). Only
    /// numbered placeholders are spliced in; every value is a parameter.
    fn statement(&self) -> (String, Vec<&dyn ToSql>) {
        let mut values: Vec<&dyn ToSql> = vec![&self.after, &self.limit, &self.skip];
        let mut sql = String::from(concat!("SELECT ", columns!(), " FROM orders WHERE id > ?1"));
        let conditions: [(&str, Option<&dyn ToSql>); 4] = [
            ("status =", self.status.as_ref().map(|s| s as _)),
            ("product_id =", self.product_id.as_ref().map(|p| p as _)),
            ("created_at >=", self.created_after.as_ref().map(|t| t as _)),
            ("created_at <", self.created_before.as_ref().map(|t| t as _)),
        ];
        for (predicate, value) in conditions {
            if let Some(value) = value {
                values.push(value);
                sql.push_str(&format!(" AND {predicate} ?{}", values.len()));
            }
        }
        sql.push_str(" ORDER BY id LIMIT ?2 OFFSET ?3");
        (sql, values)
    }
}

/// Applies core's status change as a compare-and-set, with its history row and, when the change
/// says so, the units back to stock (and their ledger row) in the same savepoint.
pub(crate) fn change_status(
    conn: &Connection,
    id: i64,
    change: &StatusChange,
    at: i64,
) -> Result<Order> {
    let t = change.transition();
    if t.is_noop() {
        // Nothing to write; only check the order is still where the caller saw it.
        let order = get_order(conn, id)?;
        if order.status != t.from() {
            return Err(change.conflict(id, order.status));
        }
        return Ok(order);
    }
    let sql = concat!(
        "UPDATE orders SET status = ?1, updated_at = ?2, version = version + 1 \
         WHERE id = ?3 AND status = ?4 RETURNING ",
        columns!()
    );
    let row = conn
        .prepare_cached(sql)
        .db()?
        .query_row(
            params![t.to().as_str(), at, id, t.from().as_str()],
            OrderRow::read,
        )
        .optional()
        .db()?;
    let Some(row) = row else {
        let current: Option<String> = conn
            .prepare_cached("SELECT status FROM orders WHERE id = ?1")
            .db()?
            .query_row([id], |r| r.get(0))
            .optional()
            .db()?;
        return Err(match current {
            None => Error::OrderNotFound { id },
            Some(s) => change.conflict(id, parse_status(id, &s)?),
        });
    };
    let order = row.into_order()?;
    if let Some(kind) = change.restock() {
        let product_id = order.product_id;
        let back = StockDelta::returning(order.quantity);
        // Returns the units and reads what was there in one statement; core bounds the result,
        // and a refusal is undone by the savepoint.
        let before: i64 = conn
            .prepare_cached(
                "UPDATE products SET stock = stock + ?1, updated_at = ?2, version = version + 1 WHERE id = ?3
                 RETURNING stock - ?1",
            )
            .db()?
            .query_row(params![back.get(), at, product_id], |r| r.get(0))
            .optional()
            .db()?
            // The foreign key makes this impossible; the savepoint undoes the status change.
            .ok_or(Error::ProductNotFound { id: product_id })?;
        Stock::new(before)
            .map_err(|e| corrupt(format!("product {product_id}: stock {before}: {e}")))?
            .apply(back)
            .map_err(|_| Error::StockAboveMaximum { product_id })?;
        ledger::record(conn, product_id, back, kind, None, Some(id), at)?;
    }
    history::record(conn, id, Some(t.from()), t.to(), change.source(), at)?;
    Ok(order)
}

/// Applies `change` (core's expiry) to up to `limit` orders in its `from` status created before
/// `created_before`, oldest first (ties in id order), each exactly as [`change_status`] does.
/// One command, so the whole sweep is one savepoint of the writer: nothing can pay an order
/// between its selection and its change.
pub(crate) fn expire_orders(
    conn: &Connection,
    change: &StatusChange,
    created_before: i64,
    at: i64,
    limit: u32,
) -> Result<Vec<Order>> {
    let from = change.transition().from();
    let due: Vec<i64> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id FROM orders WHERE status = ?1 AND created_at < ?2
                 ORDER BY created_at, id LIMIT ?3",
            )
            .db()?;
        let ids = stmt
            .query_map(
                params![from.as_str(), created_before, i64::from(limit)],
                |r| r.get(0),
            )
            .db()?;
        ids.collect::<rusqlite::Result<_>>().db()?
    };
    due.into_iter()
        .map(|id| change_status(conn, id, change, at))
        .collect()
}

#[cfg(test)]
mod tests {
    use inventory_core::time::macros::datetime;

    use super::*;
    use crate::options::SqliteOptions;
    use crate::schema::{Target, open_writer};

    /// The plan SQLite makes for a listing, one line per step.
    fn plan(conn: &Connection, filter: OrderFilter) -> String {
        let query = ListQuery::new(filter, Page::default()).expect("in range");
        let (sql, values) = query.statement();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let steps = stmt
            .query_map(values.as_slice(), |r| r.get::<_, String>(3))
            .expect("explain");
        steps
            .map(|s| s.expect("a step"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn a_creation_interval_is_a_range_scan_of_its_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = Target::File(dir.path().join("db"));
        let conn = open_writer(&target, &SqliteOptions::default()).expect("open");
        let november = OrderFilter {
            created_after: Some(datetime!(2026-11-01 00:00 UTC)),
            created_before: Some(datetime!(2026-12-01 00:00 UTC)),
            ..OrderFilter::default()
        };
        let plan = plan(&conn, november);
        assert!(
            plan.contains("USING INDEX orders_by_creation (created_at>? AND created_at<?)"),
            "{plan}"
        );
    }
}
