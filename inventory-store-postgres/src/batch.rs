//! `POST /products/bulk`: up to 1,000 products created or updated in one transaction, in a
//! handful of set-based statements rather than two round trips per item.
//!
//! 1. The rows holding the batch's SKUs are read and locked in one statement, in SKU order
//!    ([`ProductBatch::lock_order`]'s order), so two batches over the same SKUs queue.
//! 2. Core decides each item on its row ([`inventory_core::NewProduct::upsert_onto`]).
//! 3. The creates are one multi-row `INSERT … ON CONFLICT (sku) DO NOTHING` with their
//!    `initial` ledger rows; the updates one `UPDATE … FROM UNNEST` and one ledger `INSERT`.
//! 4. A create that found its SKU taken (a concurrent transaction committed it after step 1;
//!    the INSERT waited for it) is decided again on that row, one item at a time.
//!
//! A deadlock that remains possible between batches whose views differ is detected by
//! PostgreSQL and retried whole by the store's retry loop.

use std::collections::HashMap;

use inventory_core::idempotency::{IdempotencyKey, Idempotent};
use inventory_core::{
    BatchItem, BatchOutcome, MovementKind, Product, ProductBatch, StockDelta, UpsertPlan,
};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::{OpResult, corrupt};
use crate::idempotency;
use crate::products::{LOCK_BY_SKU_SQL, insert_new_product, write_product};
use crate::rows::{self, product_columns};

const LOCK_ALL_SQL: &str = concat!(
    "SELECT ",
    product_columns!(),
    " FROM products WHERE sku = ANY($1::text[]) ORDER BY sku FOR NO KEY UPDATE"
);

/// The creates, in SKU order, with their `initial` ledger rows (delta from the input).
const INSERT_ALL_SQL: &str = concat!(
    "WITH input AS (\
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) \
         AS t(sku, name, price_cents, stock, delta)), \
     created AS (\
         INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) \
         SELECT sku, name, price_cents, stock, $6, $6 FROM input ORDER BY sku \
         ON CONFLICT (sku) DO NOTHING RETURNING ",
    product_columns!(),
    "), \
     ledger AS (\
         INSERT INTO stock_movements (product_id, delta, kind, reason, created_at) \
         SELECT c.id, i.delta, $7::text, $7::text, $6 FROM created c JOIN input i USING (sku)) \
     SELECT * FROM created"
);

/// The updates core decided, each row at the version it carries.
const UPDATE_ALL_SQL: &str = "UPDATE products p SET name = u.name, price_cents = u.price_cents, \
     stock = u.stock, updated_at = $6, version = u.version \
     FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) \
     AS u(id, name, price_cents, stock, version) WHERE p.id = u.id";

/// The `set` ledger rows of the updates whose stock changed.
const SET_LEDGER_ALL_SQL: &str = "INSERT INTO stock_movements (product_id, delta, kind, reason, created_at) \
     SELECT id, delta, $3::text, $3::text, $4 FROM UNNEST($1::bigint[], $2::bigint[]) AS t(id, delta)";

impl PostgresStore {
    pub(crate) async fn upsert_products_once(
        &self,
        batch: &ProductBatch,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> OpResult<Idempotent<BatchOutcome>> {
        let mut client = self.client().await?;
        // The key and every item commit together or not at all; dropping the transaction on an
        // early return rolls all of it back.
        let tx = client.transaction().await?;
        if let Some(key) = key
            && let Some(stored) = idempotency::claim(&tx, key, at).await?
        {
            return Ok(Idempotent::Replayed(stored));
        }
        let items = batch.items();
        let skus: Vec<&str> = items.iter().map(|p| p.sku().as_str()).collect();
        let lock = tx.prepare_cached(LOCK_ALL_SQL).await?;
        let mut found: HashMap<String, Product> = HashMap::with_capacity(items.len());
        for row in tx.query(&lock, &[&skus]).await? {
            let p = rows::product(&row)?;
            found.insert(p.sku.as_str().to_owned(), p);
        }
        let plans: Vec<UpsertPlan> = items
            .iter()
            .map(|item| item.upsert_onto(found.get(item.sku().as_str())))
            .collect();

        let created = insert_creates(&tx, batch, &plans, at).await?;
        write_updates(&tx, &plans, at).await?;

        let mut outcome = Vec::with_capacity(items.len());
        for (item, plan) in items.iter().zip(plans) {
            if plan != UpsertPlan::Create {
                outcome.push(plan.outcome(None)?);
                continue;
            }
            if let Some(product) = created.get(item.sku().as_str()) {
                outcome.push(plan.outcome(Some(product.clone()))?);
                continue;
            }
            outcome.push(decide_again(&tx, item, at).await?);
        }
        let outcome = BatchOutcome::new(outcome);
        if let Some(key) = key {
            idempotency::complete(&tx, key, &outcome).await?;
        }
        tx.commit().await?;
        Ok(Idempotent::Created(outcome))
    }
}

/// Inserts every planned create in one statement; the rows made, by SKU (a SKU missing from
/// the answer was taken meanwhile).
async fn insert_creates(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &ProductBatch,
    plans: &[UpsertPlan],
    at: OffsetDateTime,
) -> OpResult<HashMap<String, Product>> {
    let creates: Vec<_> = batch
        .items()
        .iter()
        .zip(plans)
        .filter(|(_, plan)| **plan == UpsertPlan::Create)
        .map(|(item, _)| item)
        .collect();
    let mut made = HashMap::with_capacity(creates.len());
    if creates.is_empty() {
        return Ok(made);
    }
    let skus: Vec<&str> = creates.iter().map(|p| p.sku().as_str()).collect();
    let names: Vec<&str> = creates.iter().map(|p| p.name().as_str()).collect();
    let prices: Vec<i64> = creates.iter().map(|p| p.price().cents()).collect();
    let stocks: Vec<i64> = creates.iter().map(|p| p.stock().get()).collect();
    let deltas: Vec<i64> = creates
        .iter()
        .map(|p| StockDelta::initial(p.stock()).get())
        .collect();
    let kind = MovementKind::Initial.as_str();
    let stmt = tx.prepare_cached(INSERT_ALL_SQL).await?;
    let params: [&(dyn ToSql + Sync); 7] = [&skus, &names, &prices, &stocks, &deltas, &at, &kind];
    for row in tx.query(&stmt, &params).await? {
        let p = rows::product(&row)?;
        made.insert(p.sku.as_str().to_owned(), p);
    }
    Ok(made)
}

/// Writes every planned update in one statement, and their `set` ledger rows in another.
async fn write_updates(
    tx: &deadpool_postgres::Transaction<'_>,
    plans: &[UpsertPlan],
    at: OffsetDateTime,
) -> OpResult<()> {
    let updates: Vec<(&Product, Option<StockDelta>)> = plans
        .iter()
        .filter_map(|plan| match plan {
            UpsertPlan::Update {
                product,
                stock_delta,
            } => Some((product, *stock_delta)),
            _ => None,
        })
        .collect();
    if updates.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = updates.iter().map(|(p, _)| p.id).collect();
    let names: Vec<&str> = updates.iter().map(|(p, _)| p.name.as_str()).collect();
    let prices: Vec<i64> = updates.iter().map(|(p, _)| p.price.cents()).collect();
    let stocks: Vec<i64> = updates.iter().map(|(p, _)| p.stock.get()).collect();
    let versions: Vec<i64> = updates.iter().map(|(p, _)| p.version.get()).collect();
    let stmt = tx.prepare_cached(UPDATE_ALL_SQL).await?;
    let params: [&(dyn ToSql + Sync); 6] = [&ids, &names, &prices, &stocks, &versions, &at];
    let written = tx.execute(&stmt, &params).await?;
    if written != ids.len() as u64 {
        return Err(corrupt("a locked product of the batch was not updated"));
    }
    let (moved, deltas): (Vec<i64>, Vec<i64>) = updates
        .iter()
        .filter_map(|(p, delta)| delta.map(|d| (p.id, d.get())))
        .unzip();
    if !moved.is_empty() {
        let stmt = tx.prepare_cached(SET_LEDGER_ALL_SQL).await?;
        let kind = MovementKind::Set.as_str();
        tx.execute(&stmt, &[&moved, &deltas, &kind, &at]).await?;
    }
    Ok(())
}

/// An item whose SKU a concurrent transaction created after the batch's first read: lock that
/// row, and let core decide on it.
async fn decide_again(
    tx: &deadpool_postgres::Transaction<'_>,
    item: &inventory_core::NewProduct,
    at: OffsetDateTime,
) -> OpResult<BatchItem> {
    let by_sku = tx.prepare_cached(LOCK_BY_SKU_SQL).await?;
    let sku = item.sku().as_str();
    let existing = match tx.query_opt(&by_sku, &[&sku]).await? {
        Some(row) => Some(rows::product(&row)?),
        None => None,
    };
    let plan = item.upsert_onto(existing.as_ref());
    match &plan {
        UpsertPlan::Create => {
            // Gone again (deleted meanwhile): create it after all.
            let made = insert_new_product(tx, item, at).await?;
            Ok(plan.outcome(made)?)
        }
        UpsertPlan::Update {
            product,
            stock_delta,
        } => {
            write_product(tx, product, *stock_delta, at).await?;
            Ok(plan.outcome(None)?)
        }
        UpsertPlan::Unchanged(_) => Ok(plan.outcome(None)?),
    }
}
