//! Orders: place, read, list, history, and the status compare-and-set (shared with webhook
//! events and the expiry).

use deadpool_postgres::{GenericClient, Transaction};
use inventory_core::idempotency::{IdempotencyKey, Idempotent};
use inventory_core::{
    ChangeSource, Error, MovementKind, NewOrder, Order, OrderEvent, OrderFilter, OrderStatus, Page,
    StatusChange, Stock, StockDelta,
};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::{OpResult, corrupt};
use crate::idempotency;
use crate::products::limit_skip;
use crate::rows::{self, ORDER_COLUMNS, event_columns, order_columns};

/// Places an order in one statement: takes the stock only `WHERE stock >= quantity` (the guard
/// of [`NewOrder::take_from`]), inserts the order in status `$4` from what that UPDATE returned,
/// with the price as it was at that moment, and from the inserted order its ledger row (delta
/// `$7`, kind `$5`) and its first history row (source `$6`). `total_cents` is the product the
/// column's CHECK requires, which is [`inventory_core::Money::times`].
///
/// No read-then-write race: under READ COMMITTED, an UPDATE that meets a row changed by a
/// concurrent transaction waits for it, then re-checks its WHERE on the newest version, so two
/// callers can never both take the last unit. No UPDATE row, no INSERT: a refused order leaves
/// nothing behind (not even a consumed id). The ledger and history rows' foreign keys are
/// checked at the end of the statement, when the order they name exists.
const PLACE_SQL: &str = concat!(
    "WITH taken AS (\
         UPDATE products SET stock = stock - $2, updated_at = $3, version = version + 1 \
         WHERE id = $1 AND stock >= $2 RETURNING id, price_cents), \
     placed AS (\
         INSERT INTO orders \
             (product_id, quantity, status, unit_price_cents, total_cents, created_at, \
              updated_at) \
         SELECT id, $2, $4::text, price_cents, price_cents * $2, $3, $3 FROM taken \
         RETURNING ",
    order_columns!(),
    "), \
     ledger AS (\
         INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at) \
         SELECT product_id, $7::bigint, $5::text, $5::text, id, $3 FROM placed), \
     history AS (\
         INSERT INTO order_events (order_id, from_status, to_status, source, created_at) \
         SELECT id, NULL, $4::text, $6::text, $3 FROM placed) \
     SELECT * FROM placed"
);

const LOCK_STOCK_SQL: &str = "SELECT stock FROM products WHERE id = $1 FOR UPDATE";

const SELECT_SQL: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1");

/// The listing for the filters given, with its parameters: one SQL text per combination (each
/// prepared once per connection), so that the planner sees plain predicates and walks the
/// `(status, id)`, `(product_id, id)` or primary key index in id order from the cursor on.
fn list_query<'a>(
    status: &'a Option<&'static str>,
    filter: &'a OrderFilter,
    after: &'a Option<i64>,
    limit_skip: &'a (i64, i64),
) -> (String, Vec<&'a (dyn ToSql + Sync)>) {
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&limit_skip.0, &limit_skip.1];
    let mut conditions = Vec::new();
    let filters: [(&str, Option<&(dyn ToSql + Sync)>); 5] = [
        ("status =", status.as_ref().map(|s| s as _)),
        ("product_id =", filter.product_id.as_ref().map(|p| p as _)),
        (
            "created_at >=",
            filter.created_after.as_ref().map(|t| t as _),
        ),
        (
            "created_at <",
            filter.created_before.as_ref().map(|t| t as _),
        ),
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

/// The compare-and-set: changes the status only if it is still `$2`, with its history row
/// (source `$5`, event id `$6`), and, when the restock kind `$7` is not NULL, the order's units
/// back to stock with their ledger row of that kind, all written from the row it changed (none
/// when the CAS lost), in one statement (so one atomic step). The order row is locked first (by
/// `moved`), the product row second (the join needs `moved`'s output before it can update
/// anything): the same order every operation that locks both uses, so they cannot deadlock each
/// other. `restored`, `ledger` and `history` run to completion although nothing reads them
/// (PostgreSQL always completes data-modifying CTEs).
const CAS_SQL: &str = concat!(
    "WITH moved AS (\
         UPDATE orders SET status = $3, updated_at = $4, version = version + 1 \
         WHERE id = $1 AND status = $2 \
         RETURNING ",
    order_columns!(),
    "), \
     restored AS (\
         UPDATE products SET stock = products.stock + moved.quantity, updated_at = $4, \
             version = products.version + 1 \
         FROM moved WHERE products.id = moved.product_id AND $7::text IS NOT NULL), \
     ledger AS (\
         INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at) \
         SELECT product_id, quantity, $7::text, $7::text, id, $4 FROM moved \
         WHERE $7::text IS NOT NULL), \
     history AS (\
         INSERT INTO order_events \
             (order_id, from_status, to_status, source, event_id, created_at) \
         SELECT id, $2::text, $3::text, $5::text, $6::text, $4 FROM moved) \
     SELECT * FROM moved"
);

/// An order's history, and whether the order exists, in one snapshot (as for the ledger: no
/// row is "no such order", one row of NULLs an empty history).
const HISTORY_SQL: &str = concat!(
    "SELECT e.* FROM orders o LEFT JOIN LATERAL (\
         SELECT ",
    event_columns!(),
    " FROM order_events WHERE order_id = o.id) e ON true \
     WHERE o.id = $1 ORDER BY e.id"
);

const STATUS_SQL: &str = "SELECT status FROM orders WHERE id = $1";

impl PostgresStore {
    pub(crate) async fn place_order_once(
        &self,
        o: NewOrder,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> OpResult<Idempotent<Order>> {
        let mut client = self.client().await?;
        let pending = OrderStatus::Pending.as_str();
        let placed = MovementKind::OrderPlaced.as_str();
        let api = ChangeSource::Api.kind();
        let taken = StockDelta::taking(o.quantity()).get();
        let params: PlaceParams<'_> = [
            &o.product_id(),
            &o.quantity().get(),
            &at,
            &pending,
            &placed,
            &api,
            &taken,
        ];
        let Some(key) = key else {
            // One round trip when the stock suffices, the common case.
            let stmt = client.prepare_cached(PLACE_SQL).await?;
            if let Some(row) = client.query_opt(&stmt, &params).await? {
                return Ok(Idempotent::Created(rows::order(&row)?));
            }
            let tx = client.transaction().await?;
            let order = place_under_lock(&tx, o, &params).await?;
            tx.commit().await?;
            return Ok(Idempotent::Created(order));
        };
        // The key, the order and its ledger and history rows commit together or not at all.
        // Dropping the transaction on an early return rolls it back (and the key's claim).
        let tx = client.transaction().await?;
        if let Some(stored) = idempotency::claim(&tx, key, at).await? {
            return Ok(Idempotent::Replayed(stored));
        }
        let stmt = tx.prepare_cached(PLACE_SQL).await?;
        let order = match tx.query_opt(&stmt, &params).await? {
            Some(row) => rows::order(&row)?,
            None => place_under_lock(&tx, o, &params).await?,
        };
        idempotency::complete(&tx, key, &order).await?;
        tx.commit().await?;
        Ok(Idempotent::Created(order))
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
        let (after, limit_skip) = (page.after_id(), limit_skip(page));
        let (sql, params) = list_query(&status, &filter, &after, &limit_skip);
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
        change: &StatusChange,
        at: OffsetDateTime,
    ) -> OpResult<Order> {
        let client = self.client().await?;
        change_status_on(&client, id, change, at).await
    }

    pub(crate) async fn order_history_once(&self, order_id: i64) -> OpResult<Vec<OrderEvent>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(HISTORY_SQL).await?;
        let rows = client.query(&stmt, &[&order_id]).await?;
        if rows.is_empty() {
            return Err(Error::OrderNotFound { id: order_id }.into());
        }
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            // The one row of NULLs of an order without history (none since V2's backfill).
            if row.try_get::<_, Option<i64>>("id")?.is_some() {
                events.push(rows::event(row)?);
            }
        }
        Ok(events)
    }
}

/// The parameters of [`PLACE_SQL`].
type PlaceParams<'a> = [&'a (dyn ToSql + Sync); 7];

/// The slow path of placing an order, in `tx`: the fast statement was refused (or not tried).
/// Asks core why ([`NewOrder::take_from`]) on the newest stock rather than on a statement's
/// snapshot (under contention that snapshot can show units that a concurrent order took
/// meanwhile): locks the product row, decides on what the lock shows, and if a concurrent change
/// has freed enough units since, places the order under that lock.
async fn place_under_lock(
    tx: &Transaction<'_>,
    o: NewOrder,
    params: &PlaceParams<'_>,
) -> OpResult<Order> {
    let lock = tx.prepare_cached(LOCK_STOCK_SQL).await?;
    let id = o.product_id();
    let Some(row) = tx.query_opt(&lock, &[&id]).await? else {
        return Err(Error::ProductNotFound { id }.into());
    };
    let available = Stock::new(row.try_get("stock")?)
        .map_err(|e| corrupt(format!("product {id}: stock: {e}")))?;
    o.take_from(available)?;
    let stmt = tx.prepare_cached(PLACE_SQL).await?;
    let row = tx.query_one(&stmt, params).await?;
    rows::order(&row)
}

/// Applies `change` to order `id` on `client` (a pooled connection, or the transaction of a
/// webhook event): compare-and-set on the status, with its history row, and the restock core
/// decided with its ledger row, in the same statement.
///
/// A no-op transition writes nothing and only checks the status. When the CAS matches no row the
/// order is read again to tell "no such order" from "its status moved on".
pub(crate) async fn change_status_on<C: GenericClient>(
    client: &C,
    id: i64,
    change: &StatusChange,
    at: OffsetDateTime,
) -> OpResult<Order> {
    let t = change.transition();
    if t.is_noop() {
        let stmt = client.prepare_cached(SELECT_SQL).await?;
        let Some(row) = client.query_opt(&stmt, &[&id]).await? else {
            return Err(Error::OrderNotFound { id }.into());
        };
        let order = rows::order(&row)?;
        if order.status != t.from() {
            return Err(change.conflict(id, order.status).into());
        }
        return Ok(order);
    }
    let (from, to) = (t.from().as_str(), t.to().as_str());
    let (source, event_id) = (change.source().kind(), change.source().event_id());
    let restock = change.restock().map(MovementKind::as_str);
    let stmt = client.prepare_cached(CAS_SQL).await?;
    let params: [&(dyn ToSql + Sync); 7] = [&id, &from, &to, &at, &source, &event_id, &restock];
    if let Some(row) = client.query_opt(&stmt, &params).await? {
        return rows::order(&row);
    }
    let stmt = client.prepare_cached(STATUS_SQL).await?;
    let Some(row) = client.query_opt(&stmt, &[&id]).await? else {
        return Err(Error::OrderNotFound { id }.into());
    };
    let current = rows::status(row.try_get("status")?)
        .map_err(|e| corrupt(format!("order {id}: status: {e}")))?;
    // Statuses only move forward, so a refused CAS cannot find the order back in `from`; were it
    // so, the caller re-plans on StatusConflict like after any lost race.
    Err(change.conflict(id, current).into())
}
