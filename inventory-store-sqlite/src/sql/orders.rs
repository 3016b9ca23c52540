//! Orders: placing them (the stock check and take in one statement), moving their status, and
//! expiring unpaid ones; each with its ledger and history rows.

use inventory_core::{
    ChangeSource, Error, Money, MovementKind, NewOrder, Order, OrderFilter, OrderStatus, Page,
    Quantity, Result, Transition,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{from_db_time, history, ledger, page_params};
use crate::error::{DbResult, corrupt};

/// The columns [`OrderRow::read`] expects, in order; a macro so statements are `concat!`ed at
/// compile time.
macro_rules! columns {
    () => {
        "id, product_id, quantity, status, unit_price_cents, total_cents, created_at, updated_at"
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
        })
    }

    fn into_order(self) -> Result<Order> {
        let id = self.id;
        let bad = |what: &str, e: String| corrupt(format!("order {id}: {what}: {e}"));
        Ok(Order {
            id,
            product_id: self.product_id,
            quantity: Quantity::new(self.quantity).map_err(|e| bad("quantity", e))?,
            status: parse_status(id, &self.status)?,
            unit_price: Money::from_cents(self.unit_price_cents)
                .map_err(|e| bad("unit price", e.to_string()))?,
            total: self.total_cents,
            created_at: from_db_time(self.created_at)?,
            updated_at: from_db_time(self.updated_at)?,
        })
    }
}

pub(super) fn parse_status(order_id: i64, s: &str) -> Result<OrderStatus> {
    s.parse()
        .map_err(|e: String| corrupt(format!("order {order_id}: status: {e}")))
}

/// Takes the stock and inserts the order, its `order_placed` ledger row and its first history
/// row.
pub(crate) fn place_order(conn: &Connection, order: &NewOrder, at: i64) -> Result<Order> {
    let (product_id, quantity) = (order.product_id, order.quantity.get());
    // Check and take in one statement: the stock can never be read stale and go below zero,
    // and the CHECK (stock >= 0) stands behind it.
    let price: Option<i64> = conn
        .prepare_cached(
            "UPDATE products SET stock = stock - ?1, updated_at = ?2
             WHERE id = ?3 AND stock >= ?1 RETURNING price_cents",
        )
        .db()?
        .query_row(params![quantity, at, product_id], |r| r.get(0))
        .optional()
        .db()?;
    let Some(price_cents) = price else {
        // Nothing taken: tell a missing product from a short one.
        let available: Option<i64> = conn
            .prepare_cached("SELECT stock FROM products WHERE id = ?1")
            .db()?
            .query_row([product_id], |r| r.get(0))
            .optional()
            .db()?;
        return Err(match available {
            None => Error::ProductNotFound { id: product_id },
            Some(available) => Error::InsufficientStock {
                product_id,
                requested: quantity,
                available,
            },
        });
    };
    let unit_price = Money::from_cents(price_cents)
        .map_err(|e| corrupt(format!("product {product_id}: price: {e}")))?;
    // Core bounds (price ≤ MAX_CENTS, quantity ≤ Quantity::MAX) keep this within i64.
    let total = unit_price.times(order.quantity);
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO orders (product_id, quantity, status, unit_price_cents, total_cents,
                                 created_at, updated_at)
             VALUES (?1, ?2, 'PENDING', ?3, ?4, ?5, ?5) RETURNING id",
        )
        .db()?
        .query_row(params![product_id, quantity, price_cents, total, at], |r| {
            r.get(0)
        })
        .db()?;
    ledger::record(
        conn,
        product_id,
        -quantity,
        MovementKind::OrderPlaced,
        None,
        Some(id),
        at,
    )?;
    history::record(conn, id, None, OrderStatus::Pending, &ChangeSource::Api, at)?;
    let at = from_db_time(at)?;
    Ok(Order {
        id,
        product_id,
        quantity: order.quantity,
        status: OrderStatus::Pending,
        unit_price,
        total,
        created_at: at,
        updated_at: at,
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
    // One statement text per combination of filters (four, each cached), so that each can use
    // its index: orders(status, id) or orders(product_id, id). Only placeholders are spliced in.
    let mut sql = String::from(concat!("SELECT ", columns!(), " FROM orders WHERE id > ?1"));
    if filter.status.is_some() {
        sql.push_str(" AND status = ?2");
    }
    if filter.product_id.is_some() {
        sql.push_str(" AND product_id = ?3");
    }
    // ?5 is the highest placeholder in every variant, so all take the same five parameters.
    sql.push_str(" ORDER BY id LIMIT ?4 OFFSET ?5");
    let (after, limit, skip) = page_params(page);
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let status = filter.status.map(OrderStatus::as_str);
    let rows = stmt
        .query_map(
            params![after, status, filter.product_id, limit, skip],
            OrderRow::read,
        )
        .db()?;
    rows.map(|r| r.db().and_then(OrderRow::into_order))
        .collect()
}

/// Compare-and-set on the status, with its history row and any stock restore (and its ledger
/// row) in the same savepoint.
pub(crate) fn change_status(
    conn: &Connection,
    id: i64,
    t: Transition,
    source: &ChangeSource,
    at: i64,
) -> Result<Order> {
    if t.is_noop() {
        // Nothing to write; only check the order is still where the caller saw it.
        let order = get_order(conn, id)?;
        if order.status != t.from() {
            return Err(Error::StatusConflict {
                id,
                expected: t.from(),
                current: order.status,
            });
        }
        return Ok(order);
    }
    let sql = concat!(
        "UPDATE orders SET status = ?1, updated_at = ?2 WHERE id = ?3 AND status = ?4 RETURNING ",
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
            Some(s) => Error::StatusConflict {
                id,
                expected: t.from(),
                current: parse_status(id, &s)?,
            },
        });
    };
    if t.restores_stock() {
        let restored = conn
            .prepare_cached("UPDATE products SET stock = stock + ?1, updated_at = ?2 WHERE id = ?3")
            .db()?
            .execute(params![row.quantity, at, row.product_id])
            .db()?;
        if restored == 0 {
            // The foreign key makes this impossible; the savepoint undoes the status change.
            return Err(Error::ProductNotFound { id: row.product_id });
        }
        let kind = match source {
            ChangeSource::Expiry => MovementKind::Expired,
            _ => MovementKind::OrderCanceled,
        };
        ledger::record(conn, row.product_id, row.quantity, kind, None, Some(id), at)?;
    }
    history::record(conn, id, Some(t.from()), t.to(), source, at)?;
    row.into_order()
}

/// Cancels, as expired, up to `limit` PENDING orders created before `created_before`, oldest
/// first (ties in id order), each exactly as [`change_status`] does. One command, so the whole
/// sweep is one savepoint of the writer: nothing can pay an order between its selection and
/// its cancel.
pub(crate) fn expire_orders(
    conn: &Connection,
    created_before: i64,
    at: i64,
    limit: u32,
) -> Result<Vec<Order>> {
    let due: Vec<i64> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id FROM orders WHERE status = 'PENDING' AND created_at < ?1
                 ORDER BY created_at, id LIMIT ?2",
            )
            .db()?;
        let ids = stmt
            .query_map(params![created_before, i64::from(limit)], |r| r.get(0))
            .db()?;
        ids.collect::<rusqlite::Result<_>>().db()?
    };
    let cancel = OrderStatus::Pending.transition_to(OrderStatus::Canceled)?;
    due.into_iter()
        .map(|id| change_status(conn, id, cancel, &ChangeSource::Expiry, at))
        .collect()
}
