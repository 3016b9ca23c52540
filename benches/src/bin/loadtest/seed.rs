//! Seeding the server under test over its own API: products with a stock that cannot run out
//! during the run, and orders for the "get a random order" request.

use std::sync::Arc;

use inventory_benches::baseline;

/// Stock of every seeded product: no order in the run can fail for lack of it.
pub const SEED_STOCK: i64 = 1_000_000_000;

/// What the scenarios pick from.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    /// Ids of the seeded products (the first 100 are what `GET /products?limit=100` lists).
    pub products: Vec<i64>,
    /// Ids of the seeded orders.
    pub orders: Vec<i64>,
}

/// Creates `products` products (`LOAD-000001`, ... as the baseline's) and `orders` orders spread
/// over them, 16 requests at a time.
pub async fn seed(base: &str, products: usize, orders: usize) -> Result<Seeded, String> {
    let client = reqwest::Client::new();
    let mut seeded = Seeded::default();
    let product_bodies: Vec<String> = (1..=products as i64)
        .map(|n| {
            serde_json::json!({
                "sku": baseline::sku(n),
                "name": baseline::name(n),
                "price": 49.99,
                "stock": SEED_STOCK,
            })
            .to_string()
        })
        .collect();
    seeded.products = post_all(&client, &format!("{base}/products"), product_bodies).await?;
    let order_bodies: Vec<String> = (0..orders)
        .map(|i| {
            format!(
                r#"{{"product_id": {}, "quantity": 1}}"#,
                seeded.products[i % seeded.products.len()]
            )
        })
        .collect();
    seeded.orders = post_all(&client, &format!("{base}/orders"), order_bodies).await?;
    Ok(seeded)
}

/// POSTs every body (16 at a time), expecting 201; returns the created ids in body order.
async fn post_all(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<String>,
) -> Result<Vec<i64>, String> {
    let url: Arc<str> = Arc::from(url);
    let mut ids = vec![0i64; bodies.len()];
    let mut pending = bodies.into_iter().enumerate();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.len() < 16 {
            let Some((index, body)) = pending.next() else {
                break;
            };
            let (client, url) = (client.clone(), url.clone());
            tasks.spawn(async move {
                let response = client
                    .post(&*url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| format!("POST {url}: {e}"))?;
                let status = response.status();
                let text = response
                    .text()
                    .await
                    .map_err(|e| format!("POST {url}: {e}"))?;
                if status != 201 {
                    return Err(format!("seeding: POST {url} answered {status}: {text}"));
                }
                let value: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("POST {url}: {e}: {text}"))?;
                let id = value["id"]
                    .as_i64()
                    .ok_or_else(|| format!("POST {url}: no id in {text}"))?;
                Ok::<_, String>((index, id))
            });
        }
        match tasks.join_next().await {
            None => return Ok(ids),
            Some(joined) => {
                let (index, id) = joined.map_err(|e| format!("seeding task: {e}"))??;
                ids[index] = id;
            }
        }
    }
}
