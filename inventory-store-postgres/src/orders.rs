//! Orders: place, read, list, history, and the status compare-and-set (shared with webhook
//! events and the expiry).

use deadpool_postgres::{GenericClient, Transaction};
use inventory_core::idempotency::{IdempotencyKey, Idempotent};
use std::collections::BTreeMap;

use inventory_core::{
    Cart, ChangeSource, Error, Money, MovementKind, Order, OrderEvent, OrderFilter, OrderStatus,
    Page, StatusChange, Stock, StockDelta, StockedProduct,
};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::{OpResult, corrupt};
use crate::idempotency;
use crate::products::limit_skip;
use crate::rows::{self, ORDER_COLUMNS, ORDER_LINES, event_columns, order_columns, order_lines_of};

/// Places a one-line order in one statement: takes the stock only `WHERE stock >= quantity`,
/// inserts the order in status `$4` priced from what that UPDATE returned, its line, its ledger
/// row (delta `$7`, kind `$5`) and its first history row (source `$6`); returns the order's id
/// and time, and the product's price and stock after, for core to decide on
/// ([`Cart::place`]) before the transaction commits.
///
/// No read-then-write race: under READ COMMITTED, an UPDATE that meets a row changed by a
/// concurrent transaction waits for it, then re-checks its WHERE on the newest version, so two
/// callers can never both take the last unit. No UPDATE row, no INSERT: a refused order leaves
/// nothing behind (not even a consumed id). The line, ledger and history rows' foreign keys are
/// checked at the end of the statement, when the order they name exists. One product row: no
/// lock order to keep.
const PLACE_ONE_SQL: &str = "\
    WITH taken AS (\
         UPDATE products SET stock = stock - $2, updated_at = $3, version = version + 1 \
         WHERE id = $1 AND stock >= $2 RETURNING id, price_cents, stock), \
     placed AS (\
         INSERT INTO orders (status, total_cents, created_at, updated_at) \
         SELECT $4::text, price_cents * $2, $3, $3 FROM taken \
         RETURNING id, created_at), \
     line AS (\
         INSERT INTO order_lines \
             (order_id, line, product_id, quantity, unit_price_cents, total_cents) \
         SELECT placed.id, 0, taken.id, $2, taken.price_cents, taken.price_cents * $2 \
         FROM placed, taken), \
     ledger AS (\
         INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at) \
         SELECT taken.id, $7::bigint, $5::text, $5::text, placed.id, $3 FROM placed, taken), \
     history AS (\
         INSERT INTO order_events (order_id, from_status, to_status, source, created_at) \
         SELECT id, NULL, $4::text, $6::text, $3 FROM placed) \
     SELECT placed.id, placed.created_at, taken.price_cents, taken.stock \
     FROM placed, taken";

/// Locks the cart's products in id order (rows are locked as the sort returns them: the one
/// global order, so two carts over the same products queue instead of deadlocking) and reads
/// their stock and price for core.
const LOCK_PRODUCTS_SQL: &str = "SELECT id, stock, price_cents FROM products \
                                 WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE";

/// Writes a placement core decided under [`LOCK_PRODUCTS_SQL`]'s locks, in one statement: each
/// product's stock as core left it (`$1` ids, `$2` stocks), the order (status `$7`, total `$8`,
/// at `$9`), its lines (`$3` products, `$4` quantities, `$5` prices, in line order), one ledger
/// row per line (`$6` deltas, kind `$10`, in line order) and the first history row (source
/// `$11`).
const PLACE_LOCKED_SQL: &str = "\
    WITH stocked AS (\
         UPDATE products p SET stock = s.stock, updated_at = $9, version = p.version + 1 \
         FROM unnest($1::bigint[], $2::bigint[]) AS s(id, stock) WHERE p.id = s.id), \
     placed AS (\
         INSERT INTO orders (status, total_cents, created_at, updated_at) \
         VALUES ($7::text, $8::bigint, $9, $9) RETURNING id, created_at), \
     lines AS (\
         INSERT INTO order_lines \
             (order_id, line, product_id, quantity, unit_price_cents, total_cents) \
         SELECT placed.id, l.n - 1, l.product_id, l.quantity, l.price, l.price * l.quantity \
         FROM placed, unnest($3::bigint[], $4::bigint[], $5::bigint[]) \
             WITH ORDINALITY AS l(product_id, quantity, price, n)), \
     ledger AS (\
         INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at) \
         SELECT l.product_id, l.delta, $10::text, $10::text, placed.id, $9 \
         FROM placed, unnest($3::bigint[], $6::bigint[]) WITH ORDINALITY AS l(product_id, delta, n) \
         ORDER BY l.n), \
     history AS (\
         INSERT INTO order_events (order_id, from_status, to_status, source, created_at) \
         SELECT id, NULL, $7::text, $11::text, $9 FROM placed) \
     SELECT id, created_at FROM placed";

const SELECT_SQL: &str = concat!(
    "SELECT ",
    order_columns!(),
    ", lines.* FROM orders o",
    order_lines_of!("o"),
    "WHERE id = $1"
);

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
        (
            "id IN (SELECT order_id FROM order_lines WHERE product_id =",
            filter.product_id.as_ref().map(|p| p as _),
        ),
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
            // A sub-select's predicate closes its parenthesis.
            let close = if predicate.contains("(SELECT") {
                ")"
            } else {
                ""
            };
            conditions.push(format!("{predicate} ${}{close}", params.len()));
        }
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT {ORDER_COLUMNS}, lines.* FROM orders o {ORDER_LINES} {filter} \
         ORDER BY id LIMIT $1 OFFSET $2"
    );
    (sql, params)
}

/// The compare-and-set: changes the status only if it is still `$2`, with its history row
/// (source `$5`, event id `$6`), written from the row it changed (none when the CAS lost), in
/// one statement; returns the order with its lines. The order row is locked here, before any
/// product row ([`RESTOCK_SQL`] comes after, in a transaction): orders first, then products in
/// id order, is the order every operation that locks both keeps (the expiry too), so they
/// cannot deadlock each other. `history` runs to completion although nothing reads it
/// (PostgreSQL always completes data-modifying CTEs).
const CAS_SQL: &str = concat!(
    "WITH moved AS (\
         UPDATE orders SET status = $3, updated_at = $4, version = version + 1 \
         WHERE id = $1 AND status = $2 \
         RETURNING ",
    order_columns!(),
    "), \
     history AS (\
         INSERT INTO order_events \
             (order_id, from_status, to_status, source, event_id, created_at) \
         SELECT id, $2::text, $3::text, $5::text, $6::text, $4 FROM moved) \
     SELECT * FROM moved",
    order_lines_of!("moved")
);

/// Returns an order's units (`$1` products, `$2` quantities, in line order) to the stock of
/// products already locked by [`LOCK_PRODUCTS_SQL`], each line with its ledger row of kind `$4`
/// for order `$5` at `$3`. `sum` of BIGINT is NUMERIC, hence the cast.
const RESTOCK_SQL: &str = "\
    WITH restored AS (\
         UPDATE products p SET stock = p.stock + b.quantity, updated_at = $3, \
             version = p.version + 1 \
         FROM (SELECT product_id, sum(quantity)::bigint AS quantity \
               FROM unnest($1::bigint[], $2::bigint[]) AS l(product_id, quantity) \
               GROUP BY product_id) b \
         WHERE p.id = b.product_id) \
     INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at) \
     SELECT l.product_id, l.quantity, $4::text, $4::text, $5::bigint, $3 \
     FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS l(product_id, quantity, n) \
     ORDER BY l.n";

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
        cart: &Cart,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> OpResult<Idempotent<Order>> {
        let mut client = self.client().await?;
        let Some(key) = key else {
            // One round trip when the stock suffices, the common case: a one-line cart is one
            // statement, atomic on its own, whose guard is core's bound.
            if let Some(order) = place_one(&client, cart, at).await? {
                return Ok(Idempotent::Created(order));
            }
            let tx = client.transaction().await?;
            let order = place_under_lock(&tx, cart, at).await?;
            tx.commit().await?;
            return Ok(Idempotent::Created(order));
        };
        // The key, the order and its lines, ledger and history rows commit together or not at
        // all. Dropping the transaction on an early return rolls it back (and the key's claim).
        let tx = client.transaction().await?;
        if let Some(stored) = idempotency::claim(&tx, key, at).await? {
            return Ok(Idempotent::Replayed(stored));
        }
        let order = match place_one(&tx, cart, at).await? {
            Some(order) => order,
            None => place_under_lock(&tx, cart, at).await?,
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
        let mut client = self.client().await?;
        if change.restock().is_none() {
            // One statement, atomic on its own.
            return change_status_on(&client, id, change, at).await;
        }
        let tx = client.transaction().await?;
        let order = change_status_on(&tx, id, change, at).await?;
        tx.commit().await?;
        Ok(order)
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

/// The fast path of a one-line cart on `client`: [`PLACE_ONE_SQL`], whose guard is the bound
/// core's [`Cart::place`] applies, then core's placement from the stock that statement found
/// (a disagreement is a backend error). `None` when the cart is not one plain line, or the
/// statement took nothing (too little stock, or no such product): the caller goes on under the
/// lock, which tells which.
async fn place_one<C: GenericClient>(
    client: &C,
    cart: &Cart,
    at: OffsetDateTime,
) -> OpResult<Option<Order>> {
    let [line] = cart.lines() else {
        return Ok(None);
    };
    if line.location_id().is_some() {
        return Ok(None);
    }
    let (id, quantity) = (line.product_id(), line.quantity());
    let pending = OrderStatus::Pending.as_str();
    let placed = MovementKind::OrderPlaced.as_str();
    let api = ChangeSource::Api.kind();
    let taken = StockDelta::taking(quantity).get();
    let params: [&(dyn ToSql + Sync); 7] =
        [&id, &quantity.get(), &at, &pending, &placed, &api, &taken];
    let stmt = client.prepare_cached(PLACE_ONE_SQL).await?;
    let Some(row) = client.query_opt(&stmt, &params).await? else {
        return Ok(None);
    };
    let after: i64 = row.try_get("stock")?;
    let before = Stock::new(after + quantity.get())
        .map_err(|e| corrupt(format!("product {id}: stock: {e}")))?;
    let price = Money::from_cents(row.try_get("price_cents")?)
        .map_err(|e| corrupt(format!("product {id}: price: {e}")))?;
    let products = BTreeMap::from([(
        id,
        StockedProduct {
            stock: before,
            price,
        },
    )]);
    let placement = cart.place(&products).map_err(|e| {
        Error::backend(format!(
            "product {id}: the guard took {quantity}, core says {e}"
        ))
    })?;
    if placement.lines()[0].stock_left.get() != after {
        return Err(Error::backend(format!("product {id}: the database left {after}")).into());
    }
    let order_id: i64 = row.try_get("id")?;
    Ok(Some(
        placement.into_order(order_id, row.try_get("created_at")?),
    ))
}

/// Places `cart` in `tx` under the locks of its products, taken in [`Cart::lock_order`]: reads
/// their stock and price, asks core ([`Cart::place`]), and writes what it decided in one
/// statement ([`PLACE_LOCKED_SQL`]). Also the slow path of a one-line cart: core tells, on the
/// newest stock rather than on a statement's snapshot, why the fast statement took nothing,
/// or places it if a concurrent change has freed enough units since.
async fn place_under_lock(
    tx: &Transaction<'_>,
    cart: &Cart,
    at: OffsetDateTime,
) -> OpResult<Order> {
    let products = lock_products(tx, &cart.lock_order()).await?;
    let placement = cart.place(&products)?;
    let left = placement.stock_left();
    let (ids, stocks): (Vec<i64>, Vec<i64>) = left.iter().map(|(id, s)| (*id, s.get())).unzip();
    let lines = placement.lines();
    let line_products: Vec<i64> = lines.iter().map(|l| l.line.product_id).collect();
    let quantities: Vec<i64> = lines.iter().map(|l| l.line.quantity.get()).collect();
    let prices: Vec<i64> = lines.iter().map(|l| l.line.unit_price.cents()).collect();
    let deltas: Vec<i64> = lines.iter().map(|l| l.delta().get()).collect();
    let pending = OrderStatus::Pending.as_str();
    let total = placement.total().cents();
    let placed = MovementKind::OrderPlaced.as_str();
    let api = ChangeSource::Api.kind();
    let params: [&(dyn ToSql + Sync); 11] = [
        &ids,
        &stocks,
        &line_products,
        &quantities,
        &prices,
        &deltas,
        &pending,
        &total,
        &at,
        &placed,
        &api,
    ];
    let stmt = tx.prepare_cached(PLACE_LOCKED_SQL).await?;
    let row = tx.query_one(&stmt, &params).await?;
    Ok(placement.into_order(row.try_get("id")?, row.try_get("created_at")?))
}

/// Locks `ids` (ascending) with [`LOCK_PRODUCTS_SQL`] and reads each one's stock and price; a
/// missing product is missing from the map.
pub(crate) async fn lock_products<C: GenericClient>(
    client: &C,
    ids: &[i64],
) -> OpResult<BTreeMap<i64, StockedProduct>> {
    let stmt = client.prepare_cached(LOCK_PRODUCTS_SQL).await?;
    let mut products = BTreeMap::new();
    for row in client.query(&stmt, &[&ids]).await? {
        let id: i64 = row.try_get("id")?;
        let stock = Stock::new(row.try_get("stock")?)
            .map_err(|e| corrupt(format!("product {id}: stock: {e}")))?;
        let price = Money::from_cents(row.try_get("price_cents")?)
            .map_err(|e| corrupt(format!("product {id}: price: {e}")))?;
        products.insert(id, StockedProduct { stock, price });
    }
    Ok(products)
}

/// Applies `change` to order `id` on `client` (a pooled connection when the change restocks
/// nothing, else a transaction: the change's own, or a webhook event's): compare-and-set on
/// the status with its history row, then the restock core decided with a ledger row per line.
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
    let stmt = client.prepare_cached(CAS_SQL).await?;
    let params: [&(dyn ToSql + Sync); 6] = [&id, &from, &to, &at, &source, &event_id];
    if let Some(row) = client.query_opt(&stmt, &params).await? {
        let order = rows::order(&row)?;
        if let Some(kind) = change.restock() {
            restock(client, &order, kind, at).await?;
        }
        return Ok(order);
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

/// Returns every line of `order` (whose row the caller's CAS holds) to stock, on `client`, which
/// must be a transaction: locks the products in id order, has core bound each new stock
/// ([`Error::StockAboveMaximum`] rolls the change back), then writes them with a ledger row per
/// line ([`RESTOCK_SQL`]).
async fn restock<C: GenericClient>(
    client: &C,
    order: &Order,
    kind: MovementKind,
    at: OffsetDateTime,
) -> OpResult<()> {
    let mut ids: Vec<i64> = order.lines.iter().map(|l| l.product_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut products = lock_products(client, &ids).await?;
    for line in &order.lines {
        let product_id = line.product_id;
        // The foreign key makes a missing product impossible; the rollback undoes the change.
        let p = products
            .get_mut(&product_id)
            .ok_or(Error::ProductNotFound { id: product_id })?;
        p.stock = p
            .stock
            .apply(StockDelta::returning(line.quantity))
            .map_err(|_| Error::StockAboveMaximum { product_id })?;
    }
    let line_products: Vec<i64> = order.lines.iter().map(|l| l.product_id).collect();
    let quantities: Vec<i64> = order.lines.iter().map(|l| l.quantity.get()).collect();
    let kind = kind.as_str();
    let stmt = client.prepare_cached(RESTOCK_SQL).await?;
    client
        .execute(&stmt, &[&line_products, &quantities, &at, &kind, &order.id])
        .await?;
    Ok(())
}
