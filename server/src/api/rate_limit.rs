//! A rate limit per person: one token bucket of `rate_limit_burst` requests for all the API tokens
//! of one creator, refilled evenly at `rate_limit_per_minute` (backend config `[api]`). Keyed by
//! the creator, not the token, because a NAP may make any number of tokens: per token, N tokens
//! would be N times the limit (review S2). A request finding the bucket empty is answered 429 with
//! `Retry-After`, the whole seconds until one request's worth has flowed back in. Buckets live in
//! memory: a restart forgives, and a portal is one process.
//!
//! Requests without a valid token never reach this layer and are not limited: each costs a
//! well-formedness check, one SHA-256 and one indexed lookup before its 401.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backend::config::ApiConfig;

use super::auth::Caller;
use super::problem::{Problem, ProblemKind};

/// Buckets beyond this many are swept of full ones (creators whose tokens paused), so the map
/// stays small.
const SWEEP_ABOVE: usize = 10_000;

/// The buckets of every token creator.
#[derive(Debug)]
pub struct RateLimiter {
    /// Requests per second flowing back in; 0 means no limit.
    per_second: f64,
    /// The bucket's size.
    burst: f64,
    /// By creator (the user ID who made the tokens).
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// A limiter as configured.
    pub fn new(config: &ApiConfig) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(config.rate_limit_per_minute) / 60.0,
            burst: f64::from(config.rate_limit_burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from the bucket of `creator` (who made the calling token) at `now`;
    /// `Err(seconds)` to wait when it is empty.
    pub fn take(&self, creator: &str, now: Instant) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > SWEEP_ABOVE {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(creator.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refilled =
            bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = refilled.min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Middleware (inside the token check): one request from the bucket of the token's creator, or
/// 429.
pub async fn limit(State(limiter): State<Arc<RateLimiter>>, req: Request, next: Next) -> Response {
    let Some(caller) = req.extensions().get::<Caller>() else {
        return next.run(req).await;
    };
    match limiter.take(&caller.0.creator_id, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(seconds) => {
            tracing::warn!(
                token_id = caller.0.token_id,
                creator = %caller.0.creator_id,
                retry_after = seconds,
                "API rate limit reached"
            );
            Problem::new(
                ProblemKind::TooManyRequests,
                format!(
                    "The API tokens of this token's creator made more requests than the portal \
                     takes from one person (all of a person's tokens share one limit); try again \
                     in {seconds} s (bulk changes go in one request: POST …/rows/bulk)."
                ),
            )
            .with_retry_after(seconds)
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[allow(clippy::needless_update)] // other `[api]` settings keep their defaults
    fn limiter(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(&ApiConfig {
            rate_limit_per_minute: per_minute,
            rate_limit_burst: burst,
            ..ApiConfig::default()
        })
    }

    #[test]
    fn r21_a_creator_gets_the_burst_then_waits_for_the_refill_and_others_are_not_affected() {
        let l = limiter(60, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.take("nora", t0), Ok(()));
        }
        assert_eq!(l.take("nora", t0), Err(1));
        assert_eq!(
            l.take("bob", t0),
            Ok(()),
            "another creator has a bucket of their own"
        );
        assert_eq!(l.take("nora", t0 + Duration::from_millis(1_000)), Ok(()));
        assert_eq!(l.take("nora", t0 + Duration::from_millis(1_000)), Err(1));
    }

    #[test]
    fn r21_a_rate_of_zero_turns_the_limit_off() {
        let l = limiter(0, 1);
        let t0 = Instant::now();
        assert!((0..1000).all(|_| l.take("nora", t0).is_ok()));
    }
}
