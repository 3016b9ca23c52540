//! `MemoryStore`: a complete, correct store in memory, for embedding, tests and small tools.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::order::{NewOrder, Order, OrderFilter, Page};
use crate::product::{NewProduct, Product, ProductPatch};
use crate::status::Transition;
use crate::store::{EventEffect, EventRecord, Store};
use crate::webhook::EventId;

/// A store in memory. Every operation holds one mutex for its whole duration, which makes each
/// one atomic; clones share the same data. Nothing survives the process.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    products: BTreeMap<i64, Product>,
    orders: BTreeMap<i64, Order>,
    events: HashSet<String>,
    next_product: i64,
    next_order: i64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: every mutation
        // below validates first and writes last.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn page_of<T: Clone>(rows: impl Iterator<Item = (i64, T)>, page: Page) -> Vec<T> {
    rows.filter(|(id, _)| page.after_id().is_none_or(|a| *id > a))
        .skip(usize::try_from(page.skip()).unwrap_or(usize::MAX))
        .take(page.limit() as usize)
        .map(|(_, t)| t)
        .collect()
}

impl State {
    fn product_mut(&mut self, id: i64) -> Result<&mut Product> {
        self.products
            .get_mut(&id)
            .ok_or(Error::ProductNotFound { id })
    }

    fn sku_taken(&self, sku: &crate::Sku, except: Option<i64>) -> bool {
        self.products
            .values()
            .any(|p| &p.sku == sku && Some(p.id) != except)
    }

    fn change_status(&mut self, id: i64, t: Transition, at: OffsetDateTime) -> Result<Order> {
        let order = self.orders.get(&id).ok_or(Error::OrderNotFound { id })?;
        if order.status != t.from() {
            return Err(Error::StatusConflict {
                id,
                expected: t.from(),
                current: order.status,
            });
        }
        if t.is_noop() {
            return Ok(order.clone());
        }
        let (product_id, quantity) = (order.product_id, order.quantity.get());
        if t.restores_stock() {
            self.product_mut(product_id)?.stock += quantity;
        }
        let order = self
            .orders
            .get_mut(&id)
            .ok_or(Error::OrderNotFound { id })?;
        order.status = t.to();
        order.updated_at = at;
        Ok(order.clone())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_product(&self, p: NewProduct, _at: OffsetDateTime) -> Result<Product> {
        let mut s = self.lock();
        if s.sku_taken(&p.sku, None) {
            return Err(Error::DuplicateSku { sku: p.sku });
        }
        s.next_product += 1;
        let product = Product {
            id: s.next_product,
            sku: p.sku,
            name: p.name,
            price: p.price,
            stock: p.stock,
        };
        s.products.insert(product.id, product.clone());
        Ok(product)
    }

    async fn get_product(&self, id: i64) -> Result<Product> {
        self.lock()
            .products
            .get(&id)
            .cloned()
            .ok_or(Error::ProductNotFound { id })
    }

    async fn list_products(&self, page: Page) -> Result<Vec<Product>> {
        let s = self.lock();
        Ok(page_of(
            s.products.iter().map(|(id, p)| (*id, p.clone())),
            page,
        ))
    }

    async fn update_product(
        &self,
        id: i64,
        patch: ProductPatch,
        _at: OffsetDateTime,
    ) -> Result<Product> {
        let mut s = self.lock();
        s.product_mut(id)?;
        if let Some(sku) = &patch.sku
            && s.sku_taken(sku, Some(id))
        {
            return Err(Error::DuplicateSku { sku: sku.clone() });
        }
        let p = s.product_mut(id)?;
        if let Some(sku) = patch.sku {
            p.sku = sku;
        }
        if let Some(name) = patch.name {
            p.name = name;
        }
        if let Some(price) = patch.price {
            p.price = price;
        }
        if let Some(stock) = patch.stock {
            p.stock = stock;
        }
        Ok(p.clone())
    }

    async fn delete_product(&self, id: i64) -> Result<()> {
        let mut s = self.lock();
        s.product_mut(id)?;
        if s.orders.values().any(|o| o.product_id == id) {
            return Err(Error::ProductHasOrders { id });
        }
        s.products.remove(&id);
        Ok(())
    }

    async fn adjust_stock(&self, id: i64, delta: i64, _at: OffsetDateTime) -> Result<Product> {
        let mut s = self.lock();
        let p = s.product_mut(id)?;
        let new = p
            .stock
            .checked_add(delta)
            .filter(|n| *n <= crate::product::MAX_STOCK);
        match new {
            Some(n) if n >= 0 => {
                p.stock = n;
                Ok(p.clone())
            }
            Some(_) => Err(Error::InsufficientStock {
                product_id: id,
                requested: delta.saturating_neg(),
                available: p.stock,
            }),
            None => Err(Error::Validation(crate::ValidationErrors::single(
                crate::FieldError::new(
                    ["body", "delta"],
                    "stock would exceed its maximum",
                    "less_than_equal",
                ),
            ))),
        }
    }

    async fn place_order(&self, o: NewOrder, at: OffsetDateTime) -> Result<Order> {
        let mut s = self.lock();
        let p = s.product_mut(o.product_id)?;
        let requested = o.quantity.get();
        if p.stock < requested {
            return Err(Error::InsufficientStock {
                product_id: p.id,
                requested,
                available: p.stock,
            });
        }
        p.stock -= requested;
        let unit_price = p.price;
        s.next_order += 1;
        let order = Order {
            id: s.next_order,
            product_id: o.product_id,
            quantity: o.quantity,
            status: crate::OrderStatus::Pending,
            unit_price,
            total: unit_price.times(o.quantity),
            created_at: at,
            updated_at: at,
        };
        s.orders.insert(order.id, order.clone());
        Ok(order)
    }

    async fn get_order(&self, id: i64) -> Result<Order> {
        self.lock()
            .orders
            .get(&id)
            .cloned()
            .ok_or(Error::OrderNotFound { id })
    }

    async fn list_orders(&self, filter: OrderFilter, page: Page) -> Result<Vec<Order>> {
        let s = self.lock();
        let rows = s
            .orders
            .iter()
            .filter(|(_, o)| filter.status.is_none_or(|st| o.status == st))
            .filter(|(_, o)| filter.product_id.is_none_or(|p| o.product_id == p))
            .map(|(id, o)| (*id, o.clone()));
        Ok(page_of(rows, page))
    }

    async fn change_status(&self, id: i64, t: Transition, at: OffsetDateTime) -> Result<Order> {
        self.lock().change_status(id, t, at)
    }

    async fn event_processed(&self, id: &EventId) -> Result<bool> {
        Ok(self.lock().events.contains(id.as_str()))
    }

    async fn apply_event(
        &self,
        event: &EventRecord,
        effect: EventEffect,
        at: OffsetDateTime,
    ) -> Result<Option<Order>> {
        let mut s = self.lock();
        if s.events.contains(event.id.as_str()) {
            return Err(Error::EventAlreadyProcessed {
                event_id: event.id.as_str().to_owned(),
            });
        }
        let order = match effect {
            EventEffect::RecordOnly => None,
            EventEffect::ChangeStatus {
                order_id,
                transition,
            } => Some(s.change_status(order_id, transition, at)?),
        };
        s.events.insert(event.id.as_str().to_owned());
        Ok(order)
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}
