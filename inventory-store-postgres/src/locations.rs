//! Locations and the stock kept at each: create, read and list locations, a product's levels,
//! transfers, and [`apply_levels`], the one place every operation writes the level changes core
//! decided (with their ledger rows).
//!
//! Every level write happens while the product's row is locked (`FOR NO KEY UPDATE`, after any
//! order row, products in ascending id: the global lock order), and every level read that a
//! decision is made on comes after taking that lock ([`read_levels`]): under READ COMMITTED
//! each statement sees what was committed before it began, so such a read is current.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use inventory_core::{
    DEFAULT_LOCATION, Error, LevelChange, Location, LocationLevel, MovementKind, NewLocation,
    Transfer,
};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::{OpError, OpResult, violates};
use crate::rows;

/// The UNIQUE constraint on `locations.code`, named in the migration.
const CODE_CONSTRAINT: &str = "locations_code_key";

const INSERT_SQL: &str = "INSERT INTO locations (code, name, priority) VALUES ($1, $2, $3) \
                          RETURNING id";

const LIST_SQL: &str = "SELECT id, code, name, priority FROM locations ORDER BY id";

const SELECT_SQL: &str = "SELECT id, code, name, priority FROM locations WHERE id = $1";

/// Which of the locations `$1` exist (they are never deleted, so an answer stays true).
const EXISTING_SQL: &str = "SELECT id FROM locations WHERE id = ANY($1)";

/// The levels of the products `$1`, each with its location's priority (what core allocates
/// by), by product and location id.
pub(crate) const LEVELS_SQL: &str = "\
    SELECT s.product_id, s.location_id, l.priority, s.on_hand, s.committed \
    FROM stock_levels s JOIN locations l ON l.id = s.location_id \
    WHERE s.product_id = ANY($1) ORDER BY s.product_id, s.location_id";

/// One product's levels, and whether it exists, in one snapshot: no row is "no such product",
/// one row of NULLs a product without levels.
const PRODUCT_LEVELS_SQL: &str = "\
    SELECT s.location_id, l.priority, s.on_hand, s.committed \
    FROM products p LEFT JOIN stock_levels s ON s.product_id = p.id \
    LEFT JOIN locations l ON l.id = s.location_id \
    WHERE p.id = $1 ORDER BY s.location_id";

/// Locks the product a transfer moves (the lock every level write holds).
const LOCK_PRODUCT_SQL: &str = "SELECT id FROM products WHERE id = $1 FOR NO KEY UPDATE";

/// Writes level changes and their ledger rows in one statement. The changes (`$1` products,
/// `$2` locations, `$3` on-hand and `$4` committed deltas) are summed per level; a level the
/// statement's snapshot lacks is inserted (as a row at zero with both sums added), every other
/// one has both sums added. The snapshot is current because the caller holds the products'
/// locks, which every level write takes: no concurrent writer can insert the same level (were
/// one to, the primary key would refuse this statement rather than lose units). The ledger
/// rows (`$5` products, `$6` locations, `$7` deltas, `$8` kinds, `$9` reasons, `$10` orders,
/// `$11` times) are inserted in the order given, so their ids follow it. Each product's
/// `level_count` goes up by the levels inserted for it (what the one-line fast path's guard
/// reads).
const APPLY_SQL: &str = "\
    WITH c AS (\
         SELECT product_id, location_id, sum(on_hand)::bigint AS on_hand, \
             sum(committed)::bigint AS committed \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) \
             AS c(product_id, location_id, on_hand, committed) \
         GROUP BY product_id, location_id), \
     added AS (\
         INSERT INTO stock_levels (product_id, location_id, on_hand, committed) \
         SELECT c.product_id, c.location_id, c.on_hand, c.committed FROM c \
         WHERE NOT EXISTS (SELECT 1 FROM stock_levels s \
                           WHERE s.product_id = c.product_id AND s.location_id = c.location_id) \
         ORDER BY c.product_id, c.location_id \
         RETURNING product_id), \
     counted AS (\
         UPDATE products p SET level_count = p.level_count + a.n \
         FROM (SELECT product_id, count(*)::integer AS n FROM added GROUP BY product_id) a \
         WHERE p.id = a.product_id), \
     moved AS (\
         UPDATE stock_levels s SET on_hand = s.on_hand + c.on_hand, \
             committed = s.committed + c.committed \
         FROM c WHERE s.product_id = c.product_id AND s.location_id = c.location_id) \
     INSERT INTO stock_movements \
         (product_id, location_id, delta, kind, reason, order_id, created_at) \
     SELECT product_id, location_id, delta, kind, reason, order_id, at \
     FROM unnest($5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], \
                 $10::bigint[], $11::timestamptz[]) WITH ORDINALITY \
         AS l(product_id, location_id, delta, kind, reason, order_id, at, n) \
     ORDER BY n";

/// The ledger row of a level change, when its available units move: its kind, reason, order
/// and time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    kind: MovementKind,
    /// `None`: the kind's name (every row but an adjustment's).
    reason: Option<&'a str>,
    order_id: Option<i64>,
    at: OffsetDateTime,
}

impl<'a> Entry<'a> {
    /// A row of `kind` at `at`, its reason the kind's name, naming no order.
    pub(crate) fn of(kind: MovementKind, at: OffsetDateTime) -> Entry<'a> {
        Entry {
            kind,
            reason: None,
            order_id: None,
            at,
        }
    }

    /// The same row for order `id`.
    pub(crate) fn order(self, id: i64) -> Entry<'a> {
        Entry {
            order_id: Some(id),
            ..self
        }
    }

    /// The same row with `reason`.
    pub(crate) fn reason(self, reason: &'a str) -> Entry<'a> {
        Entry {
            reason: Some(reason),
            ..self
        }
    }
}

/// Writes `changes` (decided by core on levels read under the products' locks, which the
/// caller still holds) to `stock_levels`, each with its ledger row as its entry says when its
/// available units move ([`LevelChange::ledger_delta`]), in one statement ([`APPLY_SQL`]).
/// Nothing to write, no statement.
pub(crate) async fn apply_levels<C: GenericClient>(
    client: &C,
    changes: &[(LevelChange, Entry<'_>)],
) -> OpResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let products: Vec<i64> = changes.iter().map(|(c, _)| c.product_id).collect();
    let locations: Vec<i64> = changes.iter().map(|(c, _)| c.location_id).collect();
    let on_hand: Vec<i64> = changes.iter().map(|(c, _)| c.on_hand.get()).collect();
    let committed: Vec<i64> = changes.iter().map(|(c, _)| c.committed.get()).collect();
    let ledger: Vec<(&LevelChange, i64, &Entry)> = changes
        .iter()
        .filter_map(|(c, e)| c.ledger_delta().map(|d| (c, d.get(), e)))
        .collect();
    let l_products: Vec<i64> = ledger.iter().map(|(c, ..)| c.product_id).collect();
    let l_locations: Vec<i64> = ledger.iter().map(|(c, ..)| c.location_id).collect();
    let deltas: Vec<i64> = ledger.iter().map(|(_, d, _)| *d).collect();
    let kinds: Vec<&str> = ledger.iter().map(|(.., e)| e.kind.as_str()).collect();
    let reasons: Vec<&str> = ledger
        .iter()
        .map(|(.., e)| e.reason.unwrap_or(e.kind.as_str()))
        .collect();
    let orders: Vec<Option<i64>> = ledger.iter().map(|(.., e)| e.order_id).collect();
    let times: Vec<OffsetDateTime> = ledger.iter().map(|(.., e)| e.at).collect();
    let params: [&(dyn ToSql + Sync); 11] = [
        &products,
        &locations,
        &on_hand,
        &committed,
        &l_products,
        &l_locations,
        &deltas,
        &kinds,
        &reasons,
        &orders,
        &times,
    ];
    let stmt = client.prepare_cached(APPLY_SQL).await?;
    client.execute(&stmt, &params).await?;
    Ok(())
}

/// The levels of `ids` (whose rows the caller has locked), by product; a product without
/// levels is absent.
pub(crate) async fn read_levels<C: GenericClient>(
    client: &C,
    ids: &[i64],
) -> OpResult<BTreeMap<i64, Vec<LocationLevel>>> {
    let stmt = client.prepare_cached(LEVELS_SQL).await?;
    levels_from(&client.query(&stmt, &[&ids]).await?)
}

/// The levels in rows of [`LEVELS_SQL`], by product.
pub(crate) fn levels_from(
    found: &[tokio_postgres::Row],
) -> OpResult<BTreeMap<i64, Vec<LocationLevel>>> {
    let mut levels: BTreeMap<i64, Vec<LocationLevel>> = BTreeMap::new();
    for row in found {
        let product_id: i64 = row.try_get("product_id")?;
        levels
            .entry(product_id)
            .or_default()
            .push(rows::level(product_id, row)?);
    }
    Ok(levels)
}

/// The levels of one product whose row the caller has locked.
pub(crate) async fn levels_of<C: GenericClient>(
    client: &C,
    id: i64,
) -> OpResult<Vec<LocationLevel>> {
    Ok(read_levels(client, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default())
}

/// [`Error::LocationNotFound`] for the first of `ids` that names no location.
pub(crate) async fn check_locations<C: GenericClient>(client: &C, ids: &[i64]) -> OpResult<()> {
    let stmt = client.prepare_cached(EXISTING_SQL).await?;
    let found: Vec<i64> = client
        .query(&stmt, &[&ids])
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
    match ids.iter().find(|id| !found.contains(id)) {
        Some(&id) => Err(Error::LocationNotFound { id }.into()),
        None => Ok(()),
    }
}

impl PostgresStore {
    pub(crate) async fn create_location_once(&self, new: &NewLocation) -> OpResult<Location> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(INSERT_SQL).await?;
        let params: [&(dyn ToSql + Sync); 3] =
            [&new.code().as_str(), &new.name().as_str(), &new.priority()];
        let row = client
            .query_one(&stmt, &params)
            .await
            .map_err(|e| -> OpError {
                if violates(&e, &SqlState::UNIQUE_VIOLATION, CODE_CONSTRAINT) {
                    Error::DuplicateLocationCode {
                        code: new.code().clone(),
                    }
                    .into()
                } else {
                    e.into()
                }
            })?;
        Ok(new.clone().into_location(row.try_get("id")?))
    }

    pub(crate) async fn list_locations_once(&self) -> OpResult<Vec<Location>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(LIST_SQL).await?;
        client
            .query(&stmt, &[])
            .await?
            .iter()
            .map(rows::location)
            .collect()
    }

    pub(crate) async fn get_location_once(&self, id: i64) -> OpResult<Location> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(SELECT_SQL).await?;
        match client.query_opt(&stmt, &[&id]).await? {
            Some(row) => rows::location(&row),
            None => Err(Error::LocationNotFound { id }.into()),
        }
    }

    pub(crate) async fn product_levels_once(&self, id: i64) -> OpResult<Vec<LocationLevel>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(PRODUCT_LEVELS_SQL).await?;
        let rows = client.query(&stmt, &[&id]).await?;
        if rows.is_empty() {
            return Err(Error::ProductNotFound { id }.into());
        }
        let mut levels = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.try_get::<_, Option<i64>>("location_id")?.is_some() {
                levels.push(rows::level(id, row)?);
            }
        }
        Ok(levels)
    }

    /// One transaction: lock the product, check both locations, read its levels, let core
    /// plan, write both changes with a `transfer_out` and a `transfer_in` row, read the levels
    /// after. The product's stock (its available units over all locations) does not change.
    pub(crate) async fn transfer_stock_once(
        &self,
        transfer: &Transfer,
        at: OffsetDateTime,
    ) -> OpResult<Vec<LocationLevel>> {
        let id = transfer.product_id();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let lock = tx.prepare_cached(LOCK_PRODUCT_SQL).await?;
        if tx.query_opt(&lock, &[&id]).await?.is_none() {
            return Err(Error::ProductNotFound { id }.into());
        }
        check_locations(&tx, &[transfer.from_location(), transfer.to_location()]).await?;
        // On a refusal the transaction is dropped, which rolls it back.
        let [out, into] = transfer.plan(&levels_of(&tx, id).await?)?;
        let changes = [
            (out, Entry::of(MovementKind::TransferOut, at)),
            (into, Entry::of(MovementKind::TransferIn, at)),
        ];
        apply_levels(&tx, &changes).await?;
        let levels = levels_of(&tx, id).await?;
        tx.commit().await?;
        Ok(levels)
    }
}

/// The locations among `ids` other than the default one (which every database has), each once:
/// what [`check_locations`] needs to look up.
pub(crate) fn named_locations(ids: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut named: Vec<i64> = ids
        .into_iter()
        .filter(|id| *id != DEFAULT_LOCATION)
        .collect();
    named.sort_unstable();
    named.dedup();
    named
}
