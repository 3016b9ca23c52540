//! `inventory-server check`: verifies every product's stock against its ledger and its orders.

use std::process::ExitCode;

use inventory_core::Inventory;

use crate::settings::Settings;
use crate::startup::open_store;

/// Runs the check on the database of `settings`: exit 0 when consistent, 1 on a violation,
/// 2 when the database cannot be read.
pub async fn run(settings: &Settings) -> ExitCode {
    let store = match open_store(settings).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("inventory-server check: {e}");
            return ExitCode::from(2);
        }
    };
    let inventory = Inventory::new(store);
    let result = inventory.verify_invariants().await;
    let _ = inventory.close().await;
    match result {
        Ok(violations) if violations.is_empty() => {
            println!(
                "ok: every product's stock matches its ledger, its orders and its levels at each location"
            );
            ExitCode::SUCCESS
        }
        Ok(violations) => {
            for v in &violations {
                println!("violation: {v}");
            }
            let products: std::collections::BTreeSet<i64> =
                violations.iter().map(|v| v.product_id).collect();
            println!("{} product(s) violate the stock invariant", products.len());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("inventory-server check: {e}");
            ExitCode::from(2)
        }
    }
}
