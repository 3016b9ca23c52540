//! Per-client rate limiting with `governor` (GCRA, no background thread).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use warp::http::HeaderMap;

/// Limits each client address to a rate with a burst.
#[derive(Clone)]
pub struct ClientLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    trust_proxy: bool,
}

impl ClientLimiter {
    /// `per_second` requests per second with `burst`; `None` when `per_second` is 0 (off).
    pub fn new(per_second: u32, burst: u32, trust_proxy: bool) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        let quota = Quota::per_second(rate).allow_burst(burst);
        Some(ClientLimiter {
            limiter: Arc::new(RateLimiter::keyed(quota)),
            trust_proxy,
        })
    }

    /// The client's address: the peer, or with `TRUST_PROXY` the last `X-Forwarded-For` entry
    /// across all its header lines (the one our proxy appended; every entry before it, in its
    /// line or in earlier lines, is the client's own claim).
    pub fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        if self.trust_proxy {
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|ip| ip.trim().parse().ok());
            if forwarded.is_some() {
                return forwarded;
            }
        }
        peer.map(|p| p.ip())
    }

    /// `Ok` to proceed, or how long the client should wait.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&client)
            // The limiter's own clock: a new `DefaultClock` calibrates the CPU's counter first
            // (CPUID and a measurement), which made each refusal cost more than an answer.
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// Forgets clients that are back to a full burst, so memory stays bounded.
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_client_separately() {
        let l = ClientLimiter::new(1, 3, false).expect("on");
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
        }
        let wait = l.check(a).expect_err("burst used up");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert!(l.check(b).is_ok(), "another client is not limited");
        assert!(
            ClientLimiter::new(0, 10, false).is_none(),
            "0 turns limiting off"
        );
    }

    #[test]
    fn forwarded_for_only_when_trusted() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.1.1.1, 2.2.2.2".parse().expect("value"),
        );
        let peer: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let trusted = ClientLimiter::new(1, 1, true).expect("on");
        assert_eq!(trusted.client(Some(peer), &h), Some([2, 2, 2, 2].into()));
        let untrusted = ClientLimiter::new(1, 1, false).expect("on");
        assert_eq!(untrusted.client(Some(peer), &h), Some(peer.ip()));
        // The client's own line first, the proxy's appended line last.
        h.append("x-forwarded-for", "3.3.3.3".parse().expect("value"));
        assert_eq!(trusted.client(Some(peer), &h), Some([3, 3, 3, 3].into()));
    }
}
