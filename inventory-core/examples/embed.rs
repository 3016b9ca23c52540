//! Place and pay an order on `MemoryStore`: `cargo run -p inventory-core --example embed`.

use inventory_core::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let inventory = Inventory::new(MemoryStore::new());
    let widget = inventory
        .create_product(NewProduct::new(
            Sku::parse("PROD-001")?,
            ProductName::parse("Widget")?,
            "49.99".parse::<Money>()?,
            Stock::new(50)?,
        ))
        .await?;
    let order = inventory
        .place_order(NewOrder::new(widget.id, Quantity::new(3)?))
        .await?;
    let paid = inventory
        .set_order_status(order.id, OrderStatus::Paid)
        .await?;
    println!("order {} for {} is {}", paid.id, paid.total, paid.status);
    println!(
        "stock left: {}",
        inventory.get_product(widget.id).await?.stock
    );
    Ok(())
}
