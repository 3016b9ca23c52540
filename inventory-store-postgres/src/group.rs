//! Group commit: the keyless placements that arrive while earlier ones are being written are
//! placed together, in one transaction of the same four statements, however many they are.
//!
//! One transaction per order holds a hot product's row lock from its UPDATE to its commit (a
//! WAL flush), so one SKU sells at most one order per commit, whatever the pool size: the
//! ceiling pgbench measures. Here a batch locks its products once (in id order, the global
//! lock order) and reads their levels, core decides every cart in turn on the stock and levels
//! the earlier ones left ([`place_in_turn`]), one statement writes every accepted order with
//! its lines, allocations and history rows, one more every level change with its ledger row,
//! and one commit acknowledges them all. A refused cart is core's verdict and touches nothing;
//! should the batch fail in the database, each of its carts is placed again on its own, so one
//! cart's failure is never another's (as SQLite's savepoints isolate them).
//!
//! Batches are formed without a timer: a caller queues its cart, then waits for one of
//! [`IN_FLIGHT`] slots; whoever gets a slot takes everything queued. Uncontended (a slot free,
//! nothing queued), a cart is placed at once in a transaction of its own, and pays for nothing
//! else. A batch runs in its own task, so a caller that goes away (a client hanging up) never
//! stops the others' transaction halfway.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use inventory_core::{
    Cart, ChangeSource, Error, MovementKind, Order, OrderStatus, Placement, Result, place_in_turn,
};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, oneshot};
use tokio_postgres::types::ToSql;

use crate::error::OpResult;
use crate::locations::{Entry, apply_levels};
use crate::orders::lock_stocked;
use crate::{PostgresStore, retrying};

/// Batches written at once. Four measured best (wrk, one hot product, c25 and c200: about 1.6×
/// the orders/s of two, 3.5× of one, and ahead of eight): while one batch waits for its commit,
/// the next ones are already queued on the row lock inside the database, so no round trip is
/// lost between batches.
const IN_FLIGHT: usize = 4;

/// The most carts in one batch (the rest wait for the next).
const MAX_BATCH: usize = 256;

/// Writes accepted placements, numbered `n` = 1, 2, … in batch order, in one statement: each
/// product's stock as core left it (`$1` ids, `$2` stocks, `$3` versions added, `$4` times),
/// the orders (`$5` totals, `$6` times; ids drawn from the identity's sequence first, so lines,
/// allocations and history rows can name them), their lines (`$7` order n, `$8` line index,
/// `$9` products, `$10` quantities, `$11` prices), the lines' allocations (`$14` order n,
/// `$15` line index, `$16` locations, `$17` quantities) and one history row per order (status
/// `$12`, source `$13`). Returns `n`, the id and the time as stored (microseconds); the level
/// changes and their ledger rows follow ([`apply_levels`]), once the ids are known.
const PLACE_BATCH_SQL: &str = "\
    WITH o AS MATERIALIZED (\
         SELECT n, nextval(pg_get_serial_sequence('orders', 'id')) AS id, total, at \
         FROM unnest($5::bigint[], $6::timestamptz[]) WITH ORDINALITY AS u(total, at, n)), \
     stocked AS (\
         UPDATE products p SET stock = s.stock, updated_at = s.at, version = p.version + s.bump \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::timestamptz[]) \
             AS s(id, stock, bump, at) \
         WHERE p.id = s.id), \
     placed AS (\
         INSERT INTO orders (id, status, total_cents, created_at, updated_at) \
         OVERRIDING SYSTEM VALUE \
         SELECT id, $12::text, total, at, at FROM o ORDER BY n), \
     lines AS (\
         INSERT INTO order_lines \
             (order_id, line, product_id, quantity, unit_price_cents, total_cents) \
         SELECT o.id, l.line, l.product_id, l.quantity, l.price, l.price * l.quantity \
         FROM unnest($7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[]) \
             AS l(n, line, product_id, quantity, price) JOIN o USING (n)), \
     allocated AS (\
         INSERT INTO order_allocations (order_id, line, location_id, quantity) \
         SELECT o.id, a.line, a.location_id, a.quantity \
         FROM unnest($14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[]) \
             AS a(n, line, location_id, quantity) JOIN o USING (n)), \
     history AS (\
         INSERT INTO order_events (order_id, from_status, to_status, source, created_at) \
         SELECT id, NULL, $12::text, $13::text, at FROM o ORDER BY n) \
     SELECT n, id, at FROM o";

/// A cart waiting for its batch.
struct Request {
    cart: Cart,
    at: OffsetDateTime,
    reply: oneshot::Sender<Result<Order>>,
}

/// The queue and the slots, shared by a store's clones.
pub(crate) struct GroupCommit {
    queue: Mutex<Vec<Request>>,
    slots: Arc<Semaphore>,
}

impl GroupCommit {
    pub(crate) fn new() -> GroupCommit {
        GroupCommit {
            queue: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
        }
    }

    fn push(&self, request: Request) {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request);
    }

    /// Whether no cart waits for a batch.
    fn idle(&self) -> bool {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Everything queued (up to [`MAX_BATCH`]), oldest first, but for the carts whose callers
    /// have gone: nobody would hear of their order.
    fn take(&self) -> Vec<Request> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let at = queue.len().min(MAX_BATCH);
        let rest = queue.split_off(at);
        let batch = std::mem::replace(&mut *queue, rest);
        batch.into_iter().filter(|r| !r.reply.is_closed()).collect()
    }
}

impl PostgresStore {
    /// Places `cart` (no idempotency key) in the next batch; see the module's documentation.
    pub(crate) async fn place_grouped(&self, cart: Cart, at: OffsetDateTime) -> Result<Order> {
        let Some(group) = &self.group else {
            return self.place_alone(&cart, at).await;
        };
        let free = Arc::clone(&group.slots).try_acquire_owned().ok();
        if free.is_some() && group.idle() {
            // Uncontended: nothing waits, so the cart is its own batch, placed right here (the
            // slot held meanwhile, so that later carts queue for a batch of their own).
            let placed = self.place_alone(&cart, at).await;
            drop(free);
            return placed;
        }
        let (reply, answer) = oneshot::channel();
        group.push(Request { cart, at, reply });
        let permit = match free {
            Some(permit) => permit,
            None => Arc::clone(&group.slots)
                .acquire_owned()
                .await
                .map_err(|_| Error::unavailable("the store is closed"))?,
        };
        let batch = group.take();
        if batch.is_empty() {
            // An earlier caller's batch took this cart: its answer is on the way.
            drop(permit);
        } else {
            let store = self.clone();
            tokio::spawn(async move {
                store.run_batch(batch).await;
                drop(permit);
            });
        }
        answer.await.map_err(|_| {
            Error::backend("the batch placing this order ended without answering it")
        })?
    }

    /// One cart in its own transaction.
    async fn place_alone(&self, cart: &Cart, at: OffsetDateTime) -> Result<Order> {
        retrying(|| self.place_order_once(cart, at, None))
            .await
            .map(|p| p.into_inner())
    }

    /// Places `batch` and answers every cart of it.
    async fn run_batch(&self, mut batch: Vec<Request>) {
        if batch.len() == 1 {
            let Request { cart, at, reply } = batch.remove(0);
            let _ = reply.send(self.place_alone(&cart, at).await);
            return;
        }
        match self.place_batch_once(&batch).await {
            Ok(answers) => {
                for (request, answer) in batch.into_iter().zip(answers) {
                    let _ = request.reply.send(answer);
                }
            }
            // Nothing of the batch was written: each cart again on its own, failing alone.
            Err(_) => {
                for Request { cart, at, reply } in batch {
                    let _ = reply.send(self.place_alone(&cart, at).await);
                }
            }
        }
    }

    /// One transaction: lock every product of the batch, decide in turn, write the accepted
    /// placements, commit. Each cart's answer, in batch order.
    async fn place_batch_once(&self, batch: &[Request]) -> OpResult<Vec<Result<Order>>> {
        let mut ids: Vec<i64> = batch.iter().flat_map(|r| r.cart.lock_order()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let products = lock_stocked(&tx, &ids).await?;
        let (decisions, left) = place_in_turn(batch.iter().map(|r| &r.cart), &products);
        let accepted: Vec<(usize, &Placement)> = decisions
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.as_ref().ok().map(|p| (i, p)))
            .collect();
        let mut written: BTreeMap<i64, (i64, OffsetDateTime)> = BTreeMap::new();
        if !accepted.is_empty() {
            let write = BatchWrite::of(&accepted, batch, &left);
            let stmt = tx.prepare_cached(PLACE_BATCH_SQL).await?;
            for row in tx.query(&stmt, &write.params()).await? {
                written.insert(row.try_get("n")?, (row.try_get("id")?, row.try_get("at")?));
            }
            // Each placement's levels committed, with its `order_placed` rows, in batch order.
            let mut changes = Vec::new();
            for (n, (i, placement)) in accepted.iter().enumerate() {
                let n = n as i64 + 1;
                let (id, _) = written.get(&n).copied().ok_or_else(|| {
                    Error::backend(format!("batch order {n} was written without an id"))
                })?;
                let entry = Entry::of(MovementKind::OrderPlaced, batch[*i].at).order(id);
                changes.extend(placement.level_changes().into_iter().map(|c| (c, entry)));
            }
            apply_levels(&tx, &changes).await?;
        }
        tx.commit().await?;
        let mut n = 0i64;
        Ok(decisions
            .into_iter()
            .map(|decision| {
                let placement = decision?;
                n += 1;
                let (id, at) = written.get(&n).copied().ok_or_else(|| {
                    Error::backend(format!("batch order {n} was written without an id"))
                })?;
                Ok(placement.into_order(id, at))
            })
            .collect())
    }
}

/// [`PLACE_BATCH_SQL`]'s parameters.
struct BatchWrite {
    product_ids: Vec<i64>,
    stocks: Vec<i64>,
    bumps: Vec<i64>,
    product_times: Vec<OffsetDateTime>,
    totals: Vec<i64>,
    times: Vec<OffsetDateTime>,
    line_orders: Vec<i64>,
    line_indexes: Vec<i64>,
    line_products: Vec<i64>,
    quantities: Vec<i64>,
    prices: Vec<i64>,
    status: &'static str,
    source: &'static str,
    alloc_orders: Vec<i64>,
    alloc_lines: Vec<i64>,
    alloc_locations: Vec<i64>,
    alloc_quantities: Vec<i64>,
}

impl BatchWrite {
    /// The accepted placements (with their index in `batch`), and the stock core left.
    fn of(
        accepted: &[(usize, &Placement)],
        batch: &[Request],
        left: &BTreeMap<i64, inventory_core::Stock>,
    ) -> BatchWrite {
        // Each product: one version per order that took from it, and the last such order's
        // time, as if the orders had been written one by one.
        let mut touched: BTreeMap<i64, (i64, OffsetDateTime)> = BTreeMap::new();
        let mut w = BatchWrite {
            product_ids: Vec::new(),
            stocks: Vec::new(),
            bumps: Vec::new(),
            product_times: Vec::new(),
            totals: Vec::new(),
            times: Vec::new(),
            line_orders: Vec::new(),
            line_indexes: Vec::new(),
            line_products: Vec::new(),
            quantities: Vec::new(),
            prices: Vec::new(),
            status: OrderStatus::Pending.as_str(),
            source: ChangeSource::Api.kind(),
            alloc_orders: Vec::new(),
            alloc_lines: Vec::new(),
            alloc_locations: Vec::new(),
            alloc_quantities: Vec::new(),
        };
        for (n, (i, placement)) in accepted.iter().enumerate() {
            let at = batch[*i].at;
            w.totals.push(placement.total().cents());
            w.times.push(at);
            for id in placement.stock_left().keys() {
                let entry = touched.entry(*id).or_insert((0, at));
                *entry = (entry.0 + 1, at);
            }
            for (index, l) in placement.lines().iter().enumerate() {
                w.line_orders.push(n as i64 + 1);
                w.line_indexes.push(index as i64);
                w.line_products.push(l.line.product_id);
                w.quantities.push(l.line.quantity.get());
                w.prices.push(l.line.unit_price.cents());
                for a in &l.line.allocations {
                    w.alloc_orders.push(n as i64 + 1);
                    w.alloc_lines.push(index as i64);
                    w.alloc_locations.push(a.location_id);
                    w.alloc_quantities.push(a.quantity.get());
                }
            }
        }
        for (id, (bump, at)) in touched {
            if let Some(stock) = left.get(&id) {
                w.product_ids.push(id);
                w.stocks.push(stock.get());
                w.bumps.push(bump);
                w.product_times.push(at);
            }
        }
        w
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 17] {
        [
            &self.product_ids,
            &self.stocks,
            &self.bumps,
            &self.product_times,
            &self.totals,
            &self.times,
            &self.line_orders,
            &self.line_indexes,
            &self.line_products,
            &self.quantities,
            &self.prices,
            &self.status,
            &self.source,
            &self.alloc_orders,
            &self.alloc_lines,
            &self.alloc_locations,
            &self.alloc_quantities,
        ]
    }
}
