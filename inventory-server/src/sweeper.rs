//! Background upkeep while the server runs.

use std::sync::Arc;

use tokio::sync::watch;

use crate::state::AppState;

/// Background upkeep until shutdown: expires unpaid orders (with `ORDER_TTL`), forgets old
/// idempotency keys, and lets the rate limiter drop idle clients. Expiry does not depend on it:
/// reads and payments expire due orders themselves.
pub(crate) async fn sweep(
    state: Arc<AppState>,
    order_ttl: Option<std::time::Duration>,
    mut stop: watch::Receiver<bool>,
) {
    let period = order_ttl
        .map(|ttl| {
            (ttl / 4).clamp(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(60),
            )
        })
        .unwrap_or(std::time::Duration::from_secs(60));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The Prometheus recorder keeps every histogram sample until upkeep drains it into the
    // buckets; without this, memory grows with traffic between scrapes.
    let mut upkeep = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = upkeep.tick() => {
                state.metrics.run_upkeep();
                continue;
            }
            _ = tick.tick() => {}
        }
        match state.inventory.expire_due_orders().await {
            Ok(expired) if !expired.is_empty() => {
                metrics::counter!("orders_expired_total").increment(expired.len() as u64);
                crate::telemetry::count_status(
                    inventory_core::OrderStatus::Canceled,
                    expired.len() as u64,
                );
                tracing::info!(count = expired.len(), "expired unpaid orders");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "order expiry sweep failed"),
        }
        if let Err(e) = state.inventory.purge_expired_keys().await {
            tracing::warn!(error = %e, "idempotency key purge failed");
        }
        if let Some(limiter) = &state.limiter {
            limiter.shrink();
        }
    }
}
