//! `str::parse::<Money>` on arbitrary text.
//!
//! Never panics, and for every success: the amount is in range, its `Display` parses back to
//! the same amount, it equals the text's decimal value exactly (checked digit by digit, with no
//! arithmetic), and its JSON form reads back the same.
#![no_main]

use inventory_core::{MAX_CENTS, Money};
use libfuzzer_sys::fuzz_target;

/// `text` (digits, optional `.` and digits) as `(integer digits, two decimal digits)` with
/// leading zeros of the integer part dropped; `None` if it has more than two decimals that are
/// not zero.
fn normalise(text: &str) -> Option<(String, String)> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return None;
    }
    Some((
        int.trim_start_matches('0').to_owned(),
        format!("{frac:0<2}"),
    ))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(money) = text.parse::<Money>() else {
        return;
    };
    assert!(
        (1..=MAX_CENTS).contains(&money.cents()),
        "{text:?} -> {money:?}"
    );

    let shown = money.to_string();
    assert_eq!(
        shown.parse::<Money>(),
        Ok(money),
        "{text:?} shown as {shown:?}"
    );

    // The value is the text's, exactly: compare the digits, not numbers.
    assert!(
        text.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
        "accepted a non-plain decimal {text:?}"
    );
    assert_eq!(
        normalise(text),
        normalise(&shown),
        "{text:?} shown as {shown:?}"
    );
    let cents = money.cents().to_string();
    let (int, frac) = normalise(&shown).expect("two decimals at most");
    assert_eq!(
        format!("{int}{frac}").trim_start_matches('0'),
        cents,
        "{text:?}"
    );

    let json = serde_json::to_string(&money).expect("serializes");
    assert_eq!(
        serde_json::from_str::<Money>(&json).expect("reads back"),
        money,
        "{json}"
    );
});
