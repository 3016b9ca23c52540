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
use crate::locations::{Entry, LEVELS_SQL, apply_levels, levels_from};
use crate::products::limit_skip;
use crate::rows::{self, ORDER_COLUMNS, ORDER_LINES, event_columns, order_columns, order_lines_of};

/// Places a one-line order in one statement, for a product with a single level (`level_count
/// = 1`, so the allocation has one candidate: that level, whose available units are the
/// product's `stock`): takes the stock only `WHERE stock >= quantity` (`$2`), commits the units
/// at that level, inserts the order (status `$4`) priced from the product, its line, its
/// allocation, its ledger row (delta `$7`, kind `$5`) and its first history row (source `$6`);
/// returns the order's id and time, the price, the stock after and the level after (with its
/// location's priority), for core to decide on ([`Cart::place`]) and the caller to compare.
///
/// No read-then-write race: under READ COMMITTED, an UPDATE that meets a row changed by a
/// concurrent transaction waits for it, then re-checks its WHERE on the newest version — the
/// stock, and the level count, which every insert of a level raises under this same row lock —
/// so two callers never both take the last unit, and a level added meanwhile sends the order to
/// the locked path. The level's UPDATE re-reads the newest row the same way. No product row, no
/// INSERT: a refused order leaves nothing behind.
const PLACE_ONE_SQL: &str = "\
    WITH taken AS (\
         UPDATE products SET stock = stock - $2, updated_at = $3, version = version + 1 \
         WHERE id = $1 AND stock >= $2 AND level_count = 1 RETURNING id, price_cents, stock), \
     level AS (\
         UPDATE stock_levels s SET committed = s.committed + $2 FROM taken \
         WHERE s.product_id = $1 AND taken.id = $1 \
         RETURNING s.location_id, s.on_hand, s.committed), \
     placed AS (\
         INSERT INTO orders (status, total_cents, created_at, updated_at) \
         SELECT $4::text, price_cents * $2, $3, $3 FROM taken \
         RETURNING id, created_at), \
     line AS (\
         INSERT INTO order_lines \
             (order_id, line, product_id, quantity, unit_price_cents, total_cents) \
         SELECT placed.id, 0, taken.id, $2, taken.price_cents, taken.price_cents * $2 \
         FROM placed, taken), \
     allocated AS (\
         INSERT INTO order_allocations (order_id, line, location_id, quantity) \
         SELECT placed.id, 0, level.location_id, $2 FROM placed, level), \
     ledger AS (\
         INSERT INTO stock_movements \
             (product_id, location_id, delta, kind, reason, order_id, created_at) \
         SELECT taken.id, level.location_id, $7::bigint, $5::text, $5::text, placed.id, $3 \
         FROM placed, taken, level), \
     history AS (\
         INSERT INTO order_events (order_id, from_status, to_status, source, created_at) \
         SELECT id, NULL, $4::text, $6::text, $3 FROM placed) \
     SELECT placed.id, placed.created_at, taken.price_cents, taken.stock, \
         level.location_id, level.on_hand, level.committed, \
         (SELECT priority FROM locations WHERE id = level.location_id) AS priority \
     FROM placed, taken, level";

/// Locks the cart's products in id order (rows are locked as the sort returns them: the one
/// global order, so two carts over the same products queue instead of deadlocking) and reads
/// their stock and price for core.
const LOCK_PRODUCTS_SQL: &str = "SELECT id, stock, price_cents FROM products \
                                 WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE";

/// Writes a placement core decided under [`LOCK_PRODUCTS_SQL`]'s locks, in one statement: each
/// product's stock as core left it (`$1` ids, `$2` stocks), the order (status `$6`, total `$7`,
/// at `$8`), its lines (`$3` products, `$4` quantities, `$5` prices, in line order), their
/// allocations (`$10` line indexes, `$11` locations, `$12` quantities), the first history row
/// (source `$9`), and the placement's level changes (`$13` products, `$14` locations, `$15`
/// on-hand and `$16` committed deltas, summed per level) with one ledger row each (`$17`
/// deltas, kind `$18`, naming the order), in the order given. Core allocates only where a level
/// holds available units, so every level changed exists; the statement returns how many it
/// changed, which the caller checks. The lines' and allocations' foreign keys are checked at
/// the end of the statement, when the rows they name exist. One statement instead of two (this
/// and [`apply_levels`]): the order's id is known inside it.
const PLACE_LOCKED_SQL: &str = "\
    WITH stocked AS (\
         UPDATE products p SET stock = s.stock, updated_at = $8, version = p.version + 1 \
         FROM unnest($1::bigint[], $2::bigint[]) AS s(id, stock) WHERE p.id = s.id), \
     placed AS (\
         INSERT INTO orders (status, total_cents, created_at, updated_at) \
         VALUES ($6::text, $7::bigint, $8, $8) RETURNING id, created_at), \
     lines AS (\
         INSERT INTO order_lines \
             (order_id, line, product_id, quantity, unit_price_cents, total_cents) \
         SELECT placed.id, l.n - 1, l.product_id, l.quantity, l.price, l.price * l.quantity \
         FROM placed, unnest($3::bigint[], $4::bigint[], $5::bigint[]) \
             WITH ORDINALITY AS l(product_id, quantity, price, n)), \
     allocated AS (\
         INSERT INTO order_allocations (order_id, line, location_id, quantity) \
         SELECT placed.id, a.line, a.location_id, a.quantity \
         FROM placed, unnest($10::bigint[], $11::bigint[], $12::bigint[]) \
             AS a(line, location_id, quantity)), \
     history AS (\
         INSERT INTO order_events (order_id, from_status, to_status, source, created_at) \
         SELECT id, NULL, $6::text, $9::text, $8 FROM placed), \
     c AS (\
         SELECT product_id, location_id, sum(on_hand)::bigint AS on_hand, \
             sum(committed)::bigint AS committed \
         FROM unnest($13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[]) \
             AS c(product_id, location_id, on_hand, committed) \
         GROUP BY product_id, location_id), \
     moved AS (\
         UPDATE stock_levels s SET on_hand = s.on_hand + c.on_hand, \
             committed = s.committed + c.committed \
         FROM c WHERE s.product_id = c.product_id AND s.location_id = c.location_id \
         RETURNING 1), \
     ledger AS (\
         INSERT INTO stock_movements \
             (product_id, location_id, delta, kind, reason, order_id, created_at) \
         SELECT l.product_id, l.location_id, l.delta, $18::text, $18::text, placed.id, $8 \
         FROM placed, unnest($13::bigint[], $14::bigint[], $17::bigint[]) WITH ORDINALITY \
             AS l(product_id, location_id, delta, n) \
         ORDER BY l.n) \
     SELECT id, created_at, (SELECT count(*) FROM moved) AS levels FROM placed";

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
/// one statement; returns the order with its lines and their allocations. The order row is
/// locked here, before any product row (`move_stock` comes after, in a transaction): orders
/// first, then products in id order, then their levels, is the order every operation that locks
/// them keeps (the expiry too), so they cannot deadlock each other. `history` runs to completion although nothing reads it
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

/// The stock core decided for products already locked by [`LOCK_PRODUCTS_SQL`] (`$1` ids,
/// `$2` stocks) when an order's units come back, at `$3`.
const RESTOCK_SQL: &str = "\
    UPDATE products p SET stock = s.stock, updated_at = $3, version = p.version + 1 \
    FROM unnest($1::bigint[], $2::bigint[]) AS s(id, stock) WHERE p.id = s.id";

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
        if key.is_none() {
            // One round trip when the product has one level and enough units, the common
            // case: one statement, atomic on its own, whose guard is core's bound.
            if let Some(order) = place_one(&client, cart, at).await? {
                return Ok(Idempotent::Created(order));
            }
        }
        // The key (if any), the order and its lines, allocations, level changes, ledger and
        // history rows commit together or not at all. Dropping the transaction on an early
        // return rolls it back (and the key's claim).
        let tx = client.transaction().await?;
        if let Some(key) = key
            && let Some(stored) = idempotency::claim(&tx, key, at).await?
        {
            return Ok(Idempotent::Replayed(stored));
        }
        let order = match key {
            Some(_) => match place_one(&tx, cart, at).await? {
                Some(order) => order,
                None => place_under_lock(&tx, cart, at).await?,
            },
            None => place_under_lock(&tx, cart, at).await?,
        };
        if let Some(key) = key {
            idempotency::complete(&tx, key, &order).await?;
        }
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
        if !change.moves_stock() {
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
/// core's [`Cart::place`] applies to a product with one level, then core's placement from what
/// that statement found (a disagreement is a backend error). `None` when the cart is not one
/// line without a location, or the statement took nothing (too little stock, several levels,
/// or no such product): the caller goes on under the lock, which tells which.
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
    let bad = |what: &str, e: &dyn std::fmt::Display| corrupt(format!("product {id}: {what}: {e}"));
    let after: i64 = row.try_get("stock")?;
    let before = Stock::new(after + quantity.get()).map_err(|e| bad("stock", &e))?;
    let price = Money::from_cents(row.try_get("price_cents")?).map_err(|e| bad("price", &e))?;
    let location_id: i64 = row.try_get("location_id")?;
    let priority: i32 = row.try_get("priority")?;
    let on_hand = Stock::new(row.try_get("on_hand")?).map_err(|e| bad("on hand", &e))?;
    let committed: i64 = row.try_get("committed")?;
    let committed = Stock::new(committed - quantity.get()).map_err(|e| bad("committed", &e))?;
    let level = inventory_core::LocationLevel::new(location_id, priority, on_hand, committed)
        .map_err(|e| bad("level", &e))?;
    let products = BTreeMap::from([(
        id,
        StockedProduct {
            stock: before,
            price,
            levels: vec![level],
        },
    )]);
    let placement = cart.place(&products).map_err(|e| {
        Error::backend(format!(
            "product {id}: the guard took {quantity}, core says {e}"
        ))
    })?;
    let allocated = &placement.lines()[0].line.allocations;
    if placement.lines()[0].stock_left.get() != after
        || allocated.len() != 1
        || allocated[0].location_id != location_id
    {
        return Err(Error::backend(format!(
            "product {id}: the database left {after} at location {location_id}, core says {:?}",
            placement.lines()[0]
        ))
        .into());
    }
    let order_id: i64 = row.try_get("id")?;
    Ok(Some(
        placement.into_order(order_id, row.try_get("created_at")?),
    ))
}

/// Places `cart` in `tx` under the locks of its products, taken in [`Cart::lock_order`]: reads
/// their stock, price and levels, asks core ([`Cart::place`]), and writes what it decided in
/// one statement ([`PLACE_LOCKED_SQL`]): the order with its lines and allocations, the levels
/// committed, an `order_placed` ledger row each.
async fn place_under_lock(
    tx: &Transaction<'_>,
    cart: &Cart,
    at: OffsetDateTime,
) -> OpResult<Order> {
    let products = lock_stocked(tx, &cart.lock_order()).await?;
    let placement = cart.place(&products)?;
    let left = placement.stock_left();
    let (ids, stocks): (Vec<i64>, Vec<i64>) = left.iter().map(|(id, s)| (*id, s.get())).unzip();
    let lines = placement.lines();
    let line_products: Vec<i64> = lines.iter().map(|l| l.line.product_id).collect();
    let quantities: Vec<i64> = lines.iter().map(|l| l.line.quantity.get()).collect();
    let prices: Vec<i64> = lines.iter().map(|l| l.line.unit_price.cents()).collect();
    let (mut alloc_lines, mut alloc_locations, mut alloc_quantities) = (vec![], vec![], vec![]);
    for (index, l) in lines.iter().enumerate() {
        for a in &l.line.allocations {
            alloc_lines.push(index as i64);
            alloc_locations.push(a.location_id);
            alloc_quantities.push(a.quantity.get());
        }
    }
    let pending = OrderStatus::Pending.as_str();
    let total = placement.total().cents();
    let api = ChangeSource::Api.kind();
    let changes = placement.level_changes();
    let c_products: Vec<i64> = changes.iter().map(|c| c.product_id).collect();
    let c_locations: Vec<i64> = changes.iter().map(|c| c.location_id).collect();
    let c_on_hand: Vec<i64> = changes.iter().map(|c| c.on_hand.get()).collect();
    let c_committed: Vec<i64> = changes.iter().map(|c| c.committed.get()).collect();
    // Every placement change moves available units, so each has its ledger row.
    let c_deltas: Vec<i64> = changes
        .iter()
        .map(|c| c.ledger_delta().map_or(0, |d| d.get()))
        .collect();
    let placed = MovementKind::OrderPlaced.as_str();
    let params: [&(dyn ToSql + Sync); 18] = [
        &ids,
        &stocks,
        &line_products,
        &quantities,
        &prices,
        &pending,
        &total,
        &at,
        &api,
        &alloc_lines,
        &alloc_locations,
        &alloc_quantities,
        &c_products,
        &c_locations,
        &c_on_hand,
        &c_committed,
        &c_deltas,
        &placed,
    ];
    let stmt = tx.prepare_cached(PLACE_LOCKED_SQL).await?;
    let row = tx.query_one(&stmt, &params).await?;
    let order_id: i64 = row.try_get("id")?;
    let levels: i64 = row.try_get("levels")?;
    let distinct: std::collections::BTreeSet<(i64, i64)> = changes
        .iter()
        .map(|c| (c.product_id, c.location_id))
        .collect();
    if levels != distinct.len() as i64 {
        // The transaction is dropped unfinished: rolled back.
        return Err(Error::backend(format!(
            "order {order_id}: {levels} of {} allocated levels found",
            distinct.len()
        ))
        .into());
    }
    Ok(placement.into_order(order_id, row.try_get("created_at")?))
}

/// Locks `ids` (ascending) with [`LOCK_PRODUCTS_SQL`] and reads each one's stock and price; a
/// missing product is missing from the map. Its levels are left empty: [`lock_stocked`] reads
/// them too.
pub(crate) async fn lock_products<C: GenericClient>(
    client: &C,
    ids: &[i64],
) -> OpResult<BTreeMap<i64, StockedProduct>> {
    let stmt = client.prepare_cached(LOCK_PRODUCTS_SQL).await?;
    stocked_from(&client.query(&stmt, &[&ids]).await?)
}

/// The products in rows of [`LOCK_PRODUCTS_SQL`], their levels left empty.
fn stocked_from(found: &[tokio_postgres::Row]) -> OpResult<BTreeMap<i64, StockedProduct>> {
    let mut products = BTreeMap::new();
    for row in found {
        let id: i64 = row.try_get("id")?;
        let stock = Stock::new(row.try_get("stock")?)
            .map_err(|e| corrupt(format!("product {id}: stock: {e}")))?;
        let price = Money::from_cents(row.try_get("price_cents")?)
            .map_err(|e| corrupt(format!("product {id}: price: {e}")))?;
        let levels = Vec::new();
        products.insert(
            id,
            StockedProduct {
                stock,
                price,
                levels,
            },
        );
    }
    Ok(products)
}

/// [`lock_products`], then their levels, read in a statement of their own once every lock is
/// held (a statement's snapshot is taken when it starts, so levels read in the locking
/// statement could predate the writes of the transaction it waited for).
pub(crate) async fn lock_stocked<C: GenericClient>(
    client: &C,
    ids: &[i64],
) -> OpResult<BTreeMap<i64, StockedProduct>> {
    // Pipelined: both statements are prepared first (a prepare is a round trip of its own, and
    // would let the second query leave before the first), then both queries leave at once, in
    // this order; the server runs them in order on this connection, so the levels read starts
    // (with its own snapshot, under READ COMMITTED) only once every lock is held, and sees every
    // level write committed before. One round trip.
    let lock = client.prepare_cached(LOCK_PRODUCTS_SQL).await?;
    let read = client.prepare_cached(LEVELS_SQL).await?;
    let params: [&(dyn ToSql + Sync); 1] = [&ids];
    let (locked, levels) =
        tokio::try_join!(client.query(&lock, &params), client.query(&read, &params))?;
    let mut products = stocked_from(&locked)?;
    let levels = levels_from(&levels)?;
    for (id, levels) in levels {
        if let Some(p) = products.get_mut(&id) {
            p.levels = levels;
        }
    }
    Ok(products)
}

/// Applies `change` to order `id` on `client` (a pooled connection when the change moves no
/// stock, else a transaction: the change's own, or a webhook event's): compare-and-set on the
/// status with its history row, then the units moved as core decided (`move_stock`).
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
        if change.moves_stock() {
            move_stock(client, &order, change, at).await?;
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

/// Moves the units of `order` (whose row the caller's CAS holds) as `change` says, on
/// `client`, which must be a transaction: locks the products in id order (after the order row:
/// the global lock order); for a restock, has core bound each new stock
/// ([`Error::StockAboveMaximum`] rolls the change back) and writes it ([`RESTOCK_SQL`]); then
/// writes core's level changes ([`StatusChange::level_changes`]): a restock's release of each
/// allocation with its ledger row of the restock's kind, or shipping's units off the shelf
/// with none (products' stock unchanged: those units were no longer available).
async fn move_stock<C: GenericClient>(
    client: &C,
    order: &Order,
    change: &StatusChange,
    at: OffsetDateTime,
) -> OpResult<()> {
    let mut ids: Vec<i64> = order.lines.iter().map(|l| l.product_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut products = lock_products(client, &ids).await?;
    if change.restock().is_some() {
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
        let (ids, stocks): (Vec<i64>, Vec<i64>) =
            products.iter().map(|(id, p)| (*id, p.stock.get())).unzip();
        let stmt = client.prepare_cached(RESTOCK_SQL).await?;
        client.execute(&stmt, &[&ids, &stocks, &at]).await?;
    }
    let entry = Entry::of(change.ledger_kind(), at).order(order.id);
    let changes: Vec<_> = change
        .level_changes(order)
        .into_iter()
        .map(|c| (c, entry))
        .collect();
    apply_levels(client, &changes).await
}
