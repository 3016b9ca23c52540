//! Several clients at once on shared products and locations: the invariants hold at the end.

use std::sync::Arc;

use super::super::{WebhookHeaders, concurrency::assert_invariant, new_product};
use super::{LOCATIONS, Op, SECRET, pay_body};
use crate::webhook::WebhookVerifier;
use crate::{Inventory, OrderFilter, Page, Store};

pub(super) async fn run_clients<S: Store + Clone>(store: S, clients: Vec<Vec<Op>>) {
    let inv = Arc::new(Inventory::new(store.clone()).with_webhook_secret(SECRET));
    let mut products = Vec::new();
    for i in 0..3 {
        products.push(
            inv.create_product(new_product(&format!("C-{i}"), 150, 20))
                .await
                .expect("create")
                .id,
        );
    }
    let mut locations = vec![crate::DEFAULT_LOCATION];
    for (code, priority) in &LOCATIONS[1..] {
        let at = super::super::locations::new_location(code, *priority);
        locations.push(inv.create_location(at).await.expect("location").id);
    }
    let locations = Arc::new(locations);
    let products = Arc::new(products);
    let adjustments = Arc::new(std::sync::Mutex::new(vec![0i64; 3]));
    let mut tasks = tokio::task::JoinSet::new();
    for ops in clients {
        let (inv, products, adjustments) = (inv.clone(), products.clone(), adjustments.clone());
        let locations = locations.clone();
        tasks.spawn(async move {
            let signer = WebhookVerifier::new(SECRET);
            for op in ops {
                match op {
                    Op::Adjust {
                        product,
                        delta,
                        location,
                    } => {
                        let i = product % 3;
                        let mut adj = crate::Adjustment::new(
                            crate::StockDelta::new(delta).expect("delta"),
                            crate::Reason::parse("client").expect("reason"),
                        )
                        .expect("adjustment");
                        if let Some(at) = location {
                            adj = adj.at(locations[at]);
                        }
                        let adj = crate::Adjustments::from(adj);
                        if inv.adjust_stock(products[i], &adj).await.is_ok() {
                            adjustments.lock().expect("lock")[i] += delta;
                        }
                    }
                    Op::Transfer {
                        product,
                        from,
                        to,
                        quantity,
                    } => {
                        let t = crate::Transfer::new(
                            products[product % 3],
                            locations[from],
                            locations[to],
                            crate::Quantity::new(quantity).expect("quantity"),
                        )
                        .expect("two locations");
                        let _ = inv.transfer_stock(&t).await;
                    }
                    Op::PlaceOrder { lines } => {
                        let lines = lines
                            .iter()
                            .map(|&(p, q, at)| {
                                let line = crate::CartLine::new(
                                    products[p % 3],
                                    crate::Quantity::new(q).expect("quantity"),
                                );
                                at.map_or(line, |a| line.at(locations[a]))
                            })
                            .collect();
                        let _ = inv
                            .place_order(crate::Cart::new(lines).expect("cart"))
                            .await;
                    }
                    Op::SetStatus { order, status } => {
                        let _ = inv.set_order_status(order as i64 + 1, status).await;
                    }
                    Op::Cancel { order } => {
                        let _ = inv.cancel_order(order as i64 + 1).await;
                    }
                    Op::Pay { order, event, .. } => {
                        let id = order as i64 + 1;
                        let Ok(o) = inv.get_order(id).await else {
                            continue;
                        };
                        let body = pay_body(id, o.total.cents());
                        let sig = signer.sign(body.as_bytes());
                        let event_id = format!("c-{event}");
                        let h = WebhookHeaders {
                            signature: Some(&sig),
                            event_id: Some(&event_id),
                        };
                        let _ = inv.process_webhook(h, body.as_bytes()).await;
                    }
                    // Creating products and setting stock are covered by the sequential model.
                    Op::CreateProduct { .. } | Op::SetStock { .. } => {}
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("client task panicked");
    }
    let adjustments = adjustments.lock().expect("lock").clone();
    for (i, id) in products.iter().enumerate() {
        assert_invariant(&store, *id, 20 + adjustments[i]).await;
    }
    let all = store
        .list_orders(OrderFilter::default(), Page::default())
        .await
        .expect("list");
    assert!(all.iter().all(|o| !o.lines.is_empty()));
    let violations = inv.verify_invariants().await.expect("checked");
    assert!(violations.is_empty(), "{violations:#?}");
}
