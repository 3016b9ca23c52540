//! Place and pay an order on `MemoryStore`: `cargo run -p inventory-core --example embed`.

use inventory_core::{Inventory, MemoryStore, NewOrder, NewProduct, OrderStatus};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), inventory_core::Error> {
    let inventory = Inventory::new(MemoryStore::new());
    let widget = inventory
        .create_product(NewProduct::from_json(
            &json!({"sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50}),
        )?)
        .await?;
    let order = inventory
        .place_order(NewOrder::from_json(
            &json!({"product_id": widget.id, "quantity": 3}),
        )?)
        .await?;
    let paid = inventory
        .set_order_status(order.id, OrderStatus::Paid)
        .await?;
    let (units, cents) = (paid.total / 100, paid.total % 100);
    println!(
        "order {} for {units}.{cents:02} is {}",
        paid.id, paid.status
    );
    println!(
        "stock left: {}",
        inventory.get_product(widget.id).await?.stock
    );
    Ok(())
}
