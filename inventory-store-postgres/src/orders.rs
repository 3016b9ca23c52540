//! Orders: place, read, list, and the status compare-and-set (shared with webhook events).

use deadpool_postgres::GenericClient;
use inventory_core::{Error, NewOrder, Order, OrderFilter, Page, Transition};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::OpResult;
use crate::products::limit_skip;
use crate::rows::{self, ORDER_COLUMNS, order_columns};

/// Places an order in one statement: takes the stock only `WHERE stock >= quantity`, and inserts
/// the order from what that UPDATE returned, with the price as it was at that moment.
///
/// No read-then-write race: under READ COMMITTED, an UPDATE that meets a row changed by a
/// concurrent transaction waits for it, then re-checks its WHERE on the newest version, so two
/// callers can never both take the last unit. No UPDATE row, no INSERT: a refused order leaves
/// nothing behind (not even a consumed id).
const PLACE_SQL: &str = concat!(
    "WITH taken AS (\
         UPDATE products SET stock = stock - $2, updated_at = $3 \
         WHERE id = $1 AND stock >= $2 RETURNING id, price_cents) \
     INSERT INTO orders \
         (product_id, quantity, status, unit_price_cents, total_cents, created_at, updated_at) \
     SELECT id, $2, 'PENDING', price_cents, price_cents * $2, $3, $3 FROM taken \
     RETURNING ",
    order_columns!()
);

const LOCK_STOCK_SQL: &str = "SELECT stock FROM products WHERE id = $1 FOR UPDATE";

const SELECT_SQL: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1");

/// The listing for the filters given, with its parameters: one SQL text per combination (each
/// prepared once per connection), so that the planner sees plain predicates and walks the
/// `(status, id)`, `(product_id, id)` or primary key index in id order from the cursor on.
fn list_query<'a>(
    status: &'a Option<&'static str>,
    product_id: &'a Option<i64>,
    after: &'a Option<i64>,
    limit_skip: &'a (i64, i64),
) -> (String, Vec<&'a (dyn ToSql + Sync)>) {
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&limit_skip.0, &limit_skip.1];
    let mut conditions = Vec::new();
    let filters: [(&str, Option<&(dyn ToSql + Sync)>); 3] = [
        ("status =", status.as_ref().map(|s| s as _)),
        ("product_id =", product_id.as_ref().map(|p| p as _)),
        ("id >", after.as_ref().map(|a| a as _)),
    ];
    for (predicate, value) in filters {
        if let Some(value) = value {
            params.push(value);
            conditions.push(format!("{predicate} ${}", params.len()));
        }
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders {filter} ORDER BY id LIMIT $1 OFFSET $2");
    (sql, params)
}

/// The compare-and-set: changes the status only if it is still `$2`.
const CAS_SQL: &str = concat!(
    "UPDATE orders SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2 RETURNING ",
    order_columns!()
);

/// The compare-and-set that also returns the order's units to stock, in one statement (so one
/// atomic step). The order row is locked first (by `moved`), the product row second (the join
/// needs `moved`'s output before it can update anything): the same order every operation that
/// locks both uses, so they cannot deadlock each other. `restored` runs to completion although
/// nothing reads it (PostgreSQL always completes data-modifying CTEs).
const CAS_RESTORE_SQL: &str = concat!(
    "WITH moved AS (\
         UPDATE orders SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2 \
         RETURNING ",
    order_columns!(),
    "), \
     restored AS (\
         UPDATE products SET stock = products.stock + moved.quantity, updated_at = $4 \
         FROM moved WHERE products.id = moved.product_id) \
     SELECT * FROM moved"
);

const STATUS_SQL: &str = "SELECT status FROM orders WHERE id = $1";

impl PostgresStore {
    pub(crate) async fn place_order_once(
        &self,
        o: NewOrder,
        at: OffsetDateTime,
    ) -> OpResult<Order> {
        let mut client = self.client().await?;
        let stmt = client.prepare_cached(PLACE_SQL).await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&o.product_id, &o.quantity.get(), &at];
        if let Some(row) = client.query_opt(&stmt, &params).await? {
            return rows::order(&row);
        }
        // Refused, or no such product. Tell which from the newest stock rather than from this
        // statement's snapshot (under contention that snapshot can show units that a concurrent
        // order took meanwhile): lock the row, decide on what the lock shows, and if a concurrent
        // change has freed enough units since, place the order under that lock.
        let tx = client.transaction().await?;
        let lock = tx.prepare_cached(LOCK_STOCK_SQL).await?;
        let Some(row) = tx.query_opt(&lock, &[&o.product_id]).await? else {
            return Err(Error::ProductNotFound { id: o.product_id }.into());
        };
        let available: i64 = row.try_get("stock")?;
        if available < o.quantity.get() {
            return Err(Error::InsufficientStock {
                product_id: o.product_id,
                requested: o.quantity.get(),
                available,
            }
            .into());
        }
        let row = tx.query_one(&stmt, &params).await?;
        let order = rows::order(&row)?;
        tx.commit().await?;
        Ok(order)
    }

    pub(crate) async fn get_order_once(&self, id: i64) -> OpResult<Order> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(SELECT_SQL).await?;
        match client.query_opt(&stmt, &[&id]).await? {
            Some(row) => rows::order(&row),
            None => Err(Error::OrderNotFound { id }.into()),
        }
    }

    pub(crate) async fn list_orders_once(
        &self,
        filter: OrderFilter,
        page: Page,
    ) -> OpResult<Vec<Order>> {
        let client = self.client().await?;
        let status = filter.status.map(|s| s.as_str());
        let (product_id, after, limit_skip) =
            (filter.product_id, page.after_id(), limit_skip(page));
        let (sql, params) = list_query(&status, &product_id, &after, &limit_skip);
        let stmt = client.prepare_cached(&sql).await?;
        client
            .query(&stmt, &params)
            .await?
            .iter()
            .map(rows::order)
            .collect()
    }

    pub(crate) async fn change_status_once(
        &self,
        id: i64,
        t: Transition,
        at: OffsetDateTime,
    ) -> OpResult<Order> {
        let client = self.client().await?;
        change_status_on(&client, id, t, at).await
    }
}

/// Applies `t` to order `id` on `client` (a pooled connection, or the transaction of a webhook
/// event): compare-and-set on the status, with the stock restore in the same statement.
///
/// A no-op transition writes nothing and only checks the status. When the CAS matches no row the
/// order is read again to tell "no such order" from "its status moved on".
pub(crate) async fn change_status_on<C: GenericClient>(
    client: &C,
    id: i64,
    t: Transition,
    at: OffsetDateTime,
) -> OpResult<Order> {
    let (from, to) = (t.from().as_str(), t.to().as_str());
    if t.is_noop() {
        let stmt = client.prepare_cached(SELECT_SQL).await?;
        let Some(row) = client.query_opt(&stmt, &[&id]).await? else {
            return Err(Error::OrderNotFound { id }.into());
        };
        let order = rows::order(&row)?;
        if order.status != t.from() {
            return Err(conflict(id, t, order.status));
        }
        return Ok(order);
    }
    let sql = if t.restores_stock() {
        CAS_RESTORE_SQL
    } else {
        CAS_SQL
    };
    let stmt = client.prepare_cached(sql).await?;
    if let Some(row) = client.query_opt(&stmt, &[&id, &from, &to, &at]).await? {
        return rows::order(&row);
    }
    let stmt = client.prepare_cached(STATUS_SQL).await?;
    let Some(row) = client.query_opt(&stmt, &[&id]).await? else {
        return Err(Error::OrderNotFound { id }.into());
    };
    let text: &str = row.try_get("status")?;
    let current = rows::status(text)
        .map_err(|e| crate::error::corrupt(format!("order {id}: status: {e}")))?;
    // Statuses only move forward, so a refused CAS cannot find the order back in `from`; were it
    // so, the caller re-plans on StatusConflict like after any lost race.
    Err(conflict(id, t, current))
}

fn conflict(id: i64, t: Transition, current: inventory_core::OrderStatus) -> crate::error::OpError {
    Error::StatusConflict {
        id,
        expected: t.from(),
        current,
    }
    .into()
}
