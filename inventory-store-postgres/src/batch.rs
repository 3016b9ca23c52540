//! `POST /products/bulk`: up to 1,000 products created or updated in one transaction, in a
//! handful of set-based statements rather than two round trips per item.
//!
//! 1. The rows holding the batch's SKUs are read and locked in one statement, in SKU order
//!    ([`ProductBatch::lock_order`]'s order), so two batches over the same SKUs queue.
//! 2. Core decides each item on its row ([`inventory_core::NewProduct::upsert_onto`]), and
//!    where each changed stock goes on the levels of the locked rows
//!    ([`inventory_core::LevelChange::set_stock`]): a refusal refuses the whole batch.
//! 3. The creates are one multi-row `INSERT … ON CONFLICT (sku) DO NOTHING`, the updates one
//!    `UPDATE … FROM UNNEST`; then every level change with its `initial` or `set` ledger row
//!    in one statement ([`apply_levels`]).
//! 4. A create that found its SKU taken (a concurrent transaction committed it after step 1;
//!    the INSERT waited for it) is decided again on that row, one item at a time.
//!
//! A deadlock that remains possible between batches whose views differ is detected by
//! PostgreSQL and retried whole by the store's retry loop.

use std::collections::HashMap;

use inventory_core::idempotency::{IdempotencyKey, Idempotent};
use inventory_core::{
    BatchItem, BatchOutcome, LevelChange, MovementKind, Product, ProductBatch, StockDelta,
    UpsertPlan,
};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::{OpResult, corrupt};
use crate::idempotency;
use crate::locations::{Entry, apply_levels, read_levels};
use crate::products::{LOCK_BY_SKU_SQL, insert_new_product, write_initial, write_product};
use crate::rows::{self, product_columns};

const LOCK_ALL_SQL: &str = concat!(
    "SELECT ",
    product_columns!(),
    " FROM products WHERE sku = ANY($1::text[]) ORDER BY sku FOR NO KEY UPDATE"
);

/// The creates, in SKU order; their levels and `initial` ledger rows follow.
const INSERT_ALL_SQL: &str = concat!(
    "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) \
     SELECT sku, name, price_cents, stock, $5, $5 \
     FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[]) \
         AS t(sku, name, price_cents, stock) ORDER BY sku \
     ON CONFLICT (sku) DO NOTHING RETURNING ",
    product_columns!()
);

/// The updates core decided, each row at the version it carries.
const UPDATE_ALL_SQL: &str = "UPDATE products p SET name = u.name, price_cents = u.price_cents, \
     stock = u.stock, updated_at = $6, version = u.version \
     FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) \
     AS u(id, name, price_cents, stock, version) WHERE p.id = u.id";

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
        // Every changed stock's level, decided before anything is written.
        let sets = plan_sets(&tx, &plans).await?;

        let created = insert_creates(&tx, batch, &plans, at).await?;
        write_updates(&tx, &plans, at).await?;
        let made: Vec<&Product> = items
            .iter()
            .filter_map(|item| created.get(item.sku().as_str()))
            .collect();
        write_initial(&tx, &made, at).await?;
        let entry = Entry::of(MovementKind::Set, at);
        let sets: Vec<_> = sets.into_iter().map(|c| (c, entry)).collect();
        apply_levels(&tx, &sets).await?;

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
    let stmt = tx.prepare_cached(INSERT_ALL_SQL).await?;
    let params: [&(dyn ToSql + Sync); 5] = [&skus, &names, &prices, &stocks, &at];
    for row in tx.query(&stmt, &params).await? {
        let p = rows::product(&row)?;
        made.insert(p.sku.as_str().to_owned(), p);
    }
    Ok(made)
}

/// Where each planned update's changed stock goes (core's [`LevelChange::set_stock`] on the
/// levels of the rows the batch has locked), in plan order; the first refusal refuses all.
async fn plan_sets(
    tx: &deadpool_postgres::Transaction<'_>,
    plans: &[UpsertPlan],
) -> OpResult<Vec<LevelChange>> {
    let moved: Vec<(i64, StockDelta)> = plans
        .iter()
        .filter_map(|plan| match plan {
            UpsertPlan::Update {
                product,
                stock_delta: Some(delta),
            } => Some((product.id, *delta)),
            _ => None,
        })
        .collect();
    if moved.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = moved.iter().map(|(id, _)| *id).collect();
    let levels = read_levels(tx, &ids).await?;
    moved
        .into_iter()
        .map(|(id, delta)| {
            let at = levels.get(&id).map_or(&[][..], Vec::as_slice);
            Ok(LevelChange::set_stock(id, delta, at)?)
        })
        .collect()
}

/// Writes every planned update in one statement (their levels are written with the creates').
async fn write_updates(
    tx: &deadpool_postgres::Transaction<'_>,
    plans: &[UpsertPlan],
    at: OffsetDateTime,
) -> OpResult<()> {
    let updates: Vec<&Product> = plans
        .iter()
        .filter_map(|plan| match plan {
            UpsertPlan::Update { product, .. } => Some(product),
            _ => None,
        })
        .collect();
    if updates.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = updates.iter().map(|p| p.id).collect();
    let names: Vec<&str> = updates.iter().map(|p| p.name.as_str()).collect();
    let prices: Vec<i64> = updates.iter().map(|p| p.price.cents()).collect();
    let stocks: Vec<i64> = updates.iter().map(|p| p.stock.get()).collect();
    let versions: Vec<i64> = updates.iter().map(|p| p.version.get()).collect();
    let stmt = tx.prepare_cached(UPDATE_ALL_SQL).await?;
    let params: [&(dyn ToSql + Sync); 6] = [&ids, &names, &prices, &stocks, &versions, &at];
    let written = tx.execute(&stmt, &params).await?;
    if written != ids.len() as u64 {
        return Err(corrupt("a locked product of the batch was not updated"));
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
