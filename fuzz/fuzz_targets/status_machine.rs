//! Random sequences of status changes from random statuses against the status machine.
//!
//! Checks each answer of `OrderStatus::transition_to` against CONTRACT.md's table, written out
//! here independently: a real move only where the table allows it, a no-op exactly when the
//! status is unchanged, stock restored exactly when a PENDING or PAID order is CANCELED; and,
//! along the sequence, that the units held move only as the transitions say.
#![no_main]

use inventory_core::OrderStatus::{self, Canceled, Paid, Pending, Shipped};
use libfuzzer_sys::fuzz_target;

/// CONTRACT.md, "Status machine".
const TABLE: [(OrderStatus, OrderStatus); 4] = [
    (Pending, Paid),
    (Pending, Canceled),
    (Paid, Shipped),
    (Paid, Canceled),
];

fn status(b: u8) -> OrderStatus {
    OrderStatus::ALL[usize::from(b) % OrderStatus::ALL.len()]
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, moves)) = data.split_first() else {
        return;
    };
    let mut current = status(first);
    // Units an order of quantity 1 holds: taken when placed, so 1 unless it was canceled.
    let mut held = i64::from(current != Canceled);
    for &b in moves {
        let to = status(b);
        let allowed = TABLE.contains(&(current, to));
        match current.transition_to(to) {
            Ok(t) => {
                assert!(
                    allowed || current == to,
                    "{current} -> {to} is not in the table"
                );
                assert_eq!((t.from(), t.to()), (current, to));
                assert_eq!(t.is_noop(), current == to, "{current} -> {to}");
                let restores = to == Canceled && matches!(current, Pending | Paid);
                assert_eq!(t.restores_stock(), restores, "{current} -> {to}");
                assert_eq!(current.can_move_to(to), allowed, "{current} -> {to}");
                if t.restores_stock() {
                    held -= 1;
                }
                assert_eq!(held, i64::from(to.holds_stock()), "{current} -> {to}");
                current = to;
            }
            Err(e) => {
                assert!(!allowed && current != to, "{current} -> {to} refused");
                assert!(!current.can_move_to(to));
                assert_eq!((e.from, e.to), (current, to));
                assert_eq!(
                    e.to_string(),
                    format!("Cannot transition from {current} to {to}")
                );
            }
        }
        assert!((0..=1).contains(&held));
    }
});
