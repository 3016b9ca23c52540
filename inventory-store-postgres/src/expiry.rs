//! The unpaid-order expiry: applies core's expiry change (PENDING to CANCELED, as `expiry`, units
//! back where each order took them, as `expired`) to old orders, safely from any number of
//! instances sweeping at once.

use inventory_core::{MovementKind, Order, StatusChange};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::OpResult;
use crate::locations::{Entry, apply_levels};
use crate::rows::{self, order_columns, order_lines_of};

/// The oldest due orders (in the change's `from` status, `$3`), locked. `SKIP LOCKED`: orders
/// another sweeper has taken (or that a concurrent status change holds) are left to it, so
/// concurrent sweeps split the work instead of queueing behind each other. Under READ COMMITTED
/// a row changed and committed since the snapshot is re-checked on its newest version before it
/// is locked, so a just-paid order is never returned. `NO KEY UPDATE`, the lock a status UPDATE
/// takes anyway: it does not block the foreign-key checks of inserts that name the order (ledger
/// and history rows).
const DUE_SQL: &str = "SELECT id FROM orders \
                       WHERE status = $3 AND created_at < $1 \
                       ORDER BY created_at, id LIMIT $2 \
                       FOR NO KEY UPDATE SKIP LOCKED";

/// Locks the products of the due orders in id order (rows are locked as the sort returns them),
/// before any of them is updated. Two sweeps touching the same products thus take them in the
/// same order and cannot deadlock; and no other operation holds a product while waiting for an
/// order, so holding orders while waiting for products cannot deadlock either.
const LOCK_PRODUCTS_SQL: &str = "SELECT id FROM products \
     WHERE id IN (SELECT product_id FROM order_lines WHERE order_id = ANY($1)) \
     ORDER BY id FOR NO KEY UPDATE";

/// Applies the change to the locked orders exactly as `change_status` would, in one statement:
/// the compare-and-set on `$3` (always true under the locks, kept as the statement's own
/// guarantee) moving them to `$4`, each order's history row with source `$5` (event id `$6`),
/// and, when the restock kind `$7` is not NULL, each product's units returned to its stock.
/// Returns the orders with their lines and allocations, oldest first: the level changes and
/// their ledger rows follow ([`apply_levels`]). `sum` of BIGINT is NUMERIC, hence the cast.
const EXPIRE_SQL: &str = concat!(
    "WITH moved AS (\
         UPDATE orders SET status = $4, updated_at = $2, version = version + 1 \
         WHERE id = ANY($1) AND status = $3 RETURNING ",
    order_columns!(),
    "), \
     restored AS (\
         UPDATE products SET stock = products.stock + back.quantity, updated_at = $2, \
             version = products.version + 1 \
         FROM (SELECT l.product_id, sum(l.quantity)::bigint AS quantity \
               FROM moved JOIN order_lines l ON l.order_id = moved.id \
               GROUP BY l.product_id) back \
         WHERE products.id = back.product_id AND $7::text IS NOT NULL), \
     history AS (\
         INSERT INTO order_events \
             (order_id, from_status, to_status, source, event_id, created_at) \
         SELECT id, $3::text, $4::text, $5::text, $6::text, $2 FROM moved \
         ORDER BY created_at, id) \
     SELECT * FROM moved",
    order_lines_of!("moved"),
    "ORDER BY created_at, id"
);

impl PostgresStore {
    /// One transaction: lock the due orders, lock their products, change them all, commit.
    /// An order is changed by exactly one sweep (or status change): whoever holds its row lock
    /// decides, and the others skip it or find it no longer in `from`.
    pub(crate) async fn expire_orders_once(
        &self,
        change: &StatusChange,
        created_before: OffsetDateTime,
        at: OffsetDateTime,
        limit: u32,
    ) -> OpResult<Vec<Order>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let t = change.transition();
        let (from, to) = (t.from().as_str(), t.to().as_str());
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let due = tx.prepare_cached(DUE_SQL).await?;
        let rows = tx
            .query(&due, &[&created_before, &i64::from(limit), &from])
            .await?;
        if rows.is_empty() {
            // Nothing written; dropping the transaction rolls it back.
            return Ok(Vec::new());
        }
        let ids = rows
            .iter()
            .map(|row| row.try_get::<_, i64>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        let lock = tx.prepare_cached(LOCK_PRODUCTS_SQL).await?;
        tx.execute(&lock, &[&ids]).await?;
        let (source, event_id) = (change.source().kind(), change.source().event_id());
        let restock = change.restock().map(MovementKind::as_str);
        let params: [&(dyn ToSql + Sync); 7] =
            [&ids, &at, &from, &to, &source, &event_id, &restock];
        let expire = tx.prepare_cached(EXPIRE_SQL).await?;
        let expired = tx
            .query(&expire, &params)
            .await?
            .iter()
            .map(rows::order)
            .collect::<OpResult<Vec<_>>>()?;
        if change.moves_stock() {
            // Shipping writes no ledger row, so its kind is never stored.
            let kind = change.ledger_kind();
            let changes: Vec<_> = expired
                .iter()
                .flat_map(|order| {
                    let entry = Entry::of(kind, at).order(order.id);
                    change
                        .level_changes(order)
                        .into_iter()
                        .map(move |c| (c, entry))
                })
                .collect();
            apply_levels(&tx, &changes).await?;
        }
        tx.commit().await?;
        Ok(expired)
    }
}
