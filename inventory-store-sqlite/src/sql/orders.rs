//! Orders: placing a cart (each product's stock, price and levels read, core allocating),
//! applying core's status changes, and expiring unpaid ones; each with its lines, allocations,
//! level changes, ledger and history rows.

use std::collections::BTreeMap;
use std::fmt::Display;

use inventory_core::{
    Allocation, Amount, Cart, ChangeSource, Error, Money, MovementKind, Order, OrderFilter,
    OrderLine, OrderStatus, Page, Quantity, Result, StatusChange, Stock, StockDelta,
    StockedProduct, UnknownStatus, Version,
};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use super::locations::{apply_levels, levels_of};
use super::{from_db_time, history, page_params, to_db_time};
use crate::error::{DbResult, corrupt};

/// The columns [`OrderRow::read`] expects, in order; a macro so statements are `concat!`ed at
/// compile time.
macro_rules! columns {
    () => {
        "id, status, total_cents, created_at, updated_at, version"
    };
}

/// An order row as stored, before the domain types check it.
struct OrderRow {
    id: i64,
    status: String,
    total_cents: i64,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

impl OrderRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(OrderRow {
            id: r.get(0)?,
            status: r.get(1)?,
            total_cents: r.get(2)?,
            created_at: r.get(3)?,
            updated_at: r.get(4)?,
            version: r.get(5)?,
        })
    }

    /// The order, with its lines read from `conn`.
    fn into_order(self, conn: &Connection) -> Result<Order> {
        let id = self.id;
        let bad = |what: &str, e: &dyn Display| corrupt(format!("order {id}: {what}: {e}"));
        let lines = lines_of(conn, id)?;
        let total = Amount::from_cents(self.total_cents).map_err(|e| bad("total", &e))?;
        let sum: i64 = lines.iter().map(|l| l.total.cents()).sum();
        if lines.is_empty() || sum != total.cents() {
            return Err(bad(
                "lines",
                &format!("{} lines summing to {sum}", lines.len()),
            ));
        }
        Ok(Order {
            id,
            status: parse_status(id, &self.status)?,
            lines,
            total,
            created_at: from_db_time(self.created_at)?,
            updated_at: from_db_time(self.updated_at)?,
            version: Version::new(self.version).map_err(|e| bad("version", &e))?,
        })
    }
}

/// One row of [`lines_of`]'s statement: a line, and one of its allocations (`None` for a line
/// without any, which the migration and the store never leave).
type LineRow = (i64, i64, i64, i64, i64, Option<i64>, Option<i64>);

/// An order's lines, in line order, each with its allocations in the order core made them
/// (the rowid of `order_allocations`, whose rows are never deleted). One statement per order,
/// lines and allocations together.
fn lines_of(conn: &Connection, order_id: i64) -> Result<Vec<OrderLine>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT l.line, l.product_id, l.quantity, l.unit_price_cents, l.total_cents,
                    a.location_id, a.quantity
             FROM order_lines AS l
             LEFT JOIN order_allocations AS a ON a.order_id = l.order_id AND a.line = l.line
             WHERE l.order_id = ?1 ORDER BY l.line, a.rowid",
        )
        .db()?;
    let rows = stmt
        .query_map([order_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .db()?;
    let mut lines: Vec<OrderLine> = Vec::new();
    for row in rows {
        let (line, product_id, quantity, price, total, location, allocated): LineRow = row.db()?;
        let bad = |what: &str, e: &dyn Display| {
            corrupt(format!("order {order_id} line {line}: {what}: {e}"))
        };
        // A line's first row makes it; each of its rows adds an allocation.
        if line == lines.len() as i64 {
            let quantity = Quantity::new(quantity).map_err(|e| bad("quantity", &e))?;
            let unit_price = Money::from_cents(price).map_err(|e| bad("unit price", &e))?;
            let l = OrderLine::new(product_id, quantity, unit_price);
            if l.total.cents() != total {
                return Err(bad("total", &total));
            }
            lines.push(l);
        } else if line != lines.len() as i64 - 1 {
            return Err(bad("index", &"lines are not numbered from 0"));
        }
        if let (Some(location_id), Some(allocated), Some(l)) =
            (location, allocated, lines.last_mut())
        {
            let quantity = Quantity::new(allocated).map_err(|e| bad("allocation", &e))?;
            l.allocations.push(Allocation {
                location_id,
                quantity,
            });
        }
    }
    for (i, l) in lines.iter().enumerate() {
        let allocated: i64 = l.allocations.iter().map(|a| a.quantity.get()).sum();
        if allocated != l.quantity.get() {
            return Err(corrupt(format!(
                "order {order_id} line {i}: {allocated} units allocated of {}",
                l.quantity
            )));
        }
    }
    Ok(lines)
}

pub(super) fn parse_status(order_id: i64, s: &str) -> Result<OrderStatus> {
    s.parse()
        .map_err(|e: UnknownStatus| corrupt(format!("order {order_id}: status {s:?}: {e}")))
}

/// Places the cart as core's [`Cart::place`] decides on each product's stock, price and levels:
/// the products' new stock, the order, its lines and their allocations, each allocation's
/// level change with its `order_placed` ledger row, and the order's first history row.
pub(crate) fn place_order(conn: &Connection, cart: &Cart, at: i64) -> Result<Order> {
    // Each product's units, all its lines together.
    let mut wanted: BTreeMap<i64, i64> = BTreeMap::new();
    for line in cart.lines() {
        *wanted.entry(line.product_id()).or_default() += line.quantity().get();
    }
    // One statement per product takes the units and reads what was there and the price (the
    // hot path has no separate read); then its levels. Core decides on those; a refusal
    // returns an error, and the savepoint undoes the takes. OR IGNORE: when a take would break
    // the schema's CHECK (stock >= 0), the row is left alone and nothing is returned; the stock
    // is then read as it is, for core to say why. A product that does not exist is left out,
    // for core to name. One writer: no lock order to keep, but core's is followed all the same.
    let mut products = BTreeMap::new();
    let mut after: BTreeMap<i64, Option<i64>> = BTreeMap::new();
    for id in cart.lock_order() {
        let quantity = wanted.get(&id).copied().unwrap_or(0);
        let taken: Option<(i64, i64, i64)> = conn
            .prepare_cached(
                "UPDATE OR IGNORE products SET stock = stock - ?1, updated_at = ?2, version = version + 1 WHERE id = ?3
                 RETURNING stock + ?1, stock, price_cents",
            )
            .db()?
            .query_row(params![quantity, at, id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .db()?;
        let read = match taken {
            Some((before, left, price)) => {
                after.insert(id, Some(left));
                Some((before, price))
            }
            None => {
                after.insert(id, None);
                conn.prepare_cached("SELECT stock, price_cents FROM products WHERE id = ?1")
                    .db()?
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .db()?
            }
        };
        if let Some((stock, price)) = read {
            products.insert(id, stocked(conn, id, stock, price)?);
        }
    }
    let placement = cart.place(&products)?;
    // What core leaves of each product is what the takes left.
    for (id, core) in placement.stock_left() {
        let db = after.get(&id).copied().flatten();
        if db != Some(core.get()) {
            return Err(Error::backend(format!(
                "product {id}: the database left {db:?}, core says {core}"
            )));
        }
    }
    let status = OrderStatus::Pending;
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO orders (status, total_cents, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?3) RETURNING id",
        )
        .db()?
        .query_row(
            params![status.as_str(), placement.total().cents(), at],
            |r| r.get(0),
        )
        .db()?;
    for (i, l) in placement.lines().iter().enumerate() {
        conn.prepare_cached(
            "INSERT INTO order_lines (order_id, line, product_id, quantity, unit_price_cents,
                                      total_cents)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .db()?
        .execute(params![
            id,
            i as i64,
            l.line.product_id,
            l.line.quantity.get(),
            l.line.unit_price.cents(),
            l.line.total.cents()
        ])
        .db()?;
        for a in &l.line.allocations {
            conn.prepare_cached(
                "INSERT INTO order_allocations (order_id, line, location_id, quantity)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .db()?
            .execute(params![id, i as i64, a.location_id, a.quantity.get()])
            .db()?;
        }
    }
    let kind = MovementKind::OrderPlaced;
    apply_levels(conn, &placement.level_changes(), kind, None, Some(id), at)?;
    history::record(conn, id, None, status, &ChangeSource::Api, at)?;
    Ok(placement.into_order(id, from_db_time(at)?))
}

/// A product's stock, price and levels as read, checked.
fn stocked(conn: &Connection, id: i64, stock: i64, price: i64) -> Result<StockedProduct> {
    Ok(StockedProduct {
        stock: Stock::new(stock)
            .map_err(|e| corrupt(format!("product {id}: stock {stock}: {e}")))?,
        price: Money::from_cents(price)
            .map_err(|e| corrupt(format!("product {id}: price: {e}")))?,
        levels: levels_of(conn, id)?,
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
    row.map(|r| r.into_order(conn)).transpose()
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
    let rows: Vec<OrderRow> = rows.collect::<rusqlite::Result<_>>().db()?;
    rows.into_iter().map(|r| r.into_order(conn)).collect()
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
            (
                "id IN (SELECT order_id FROM order_lines WHERE product_id =",
                self.product_id.as_ref().map(|p| p as _),
            ),
            ("created_at >=", self.created_after.as_ref().map(|t| t as _)),
            ("created_at <", self.created_before.as_ref().map(|t| t as _)),
        ];
        for (predicate, value) in conditions {
            if let Some(value) = value {
                values.push(value);
                // A sub-select's predicate closes its parenthesis.
                let close = if predicate.contains("(SELECT") {
                    ")"
                } else {
                    ""
                };
                sql.push_str(&format!(" AND {predicate} ?{}{close}", values.len()));
            }
        }
        sql.push_str(" ORDER BY id LIMIT ?2 OFFSET ?3");
        (sql, values)
    }
}

/// Applies core's status change as a compare-and-set (the order row first), with its history
/// row and, when [`StatusChange::moves_stock`], core's level changes of the order's allocations
/// in the same savepoint: a restock also returns the units to the products' stock, with a
/// ledger row per allocation; shipping takes them off the shelves, with none.
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
    let order = row.into_order(conn)?;
    if change.moves_stock() {
        // A restock also returns the units to the products' stock, with a ledger row of its
        // kind per allocation. Shipping takes them off the shelf where they were, which moves
        // no available units: no ledger row ([`StatusChange::ledger_kind`]).
        if change.restock().is_some() {
            restock(conn, &order, at)?;
        }
        let changes = change.level_changes(&order);
        apply_levels(conn, &changes, change.ledger_kind(), None, Some(id), at)?;
    }
    history::record(conn, id, Some(t.from()), t.to(), change.source(), at)?;
    Ok(order)
}

/// Returns a cancelled or expired order's units to its products' stock, product by product in
/// ascending id (the global lock order), each bounded by core's maximum; a refusal is undone by
/// the savepoint, status change included.
fn restock(conn: &Connection, order: &Order, at: i64) -> Result<()> {
    let mut back: BTreeMap<i64, i64> = BTreeMap::new();
    for line in &order.lines {
        *back.entry(line.product_id).or_default() += line.quantity.get();
    }
    for (product_id, units) in back {
        let back = StockDelta::new(units).map_err(|_| Error::StockAboveMaximum { product_id })?;
        // Returns the units and reads what was there in one statement.
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
    }
    Ok(())
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
