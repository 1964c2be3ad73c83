//! Pacing: when the next post to a destination may go out, measured from when the posts before it
//! actually went out.
//!
//! Each destination keeps a token bucket in its GCRA form: a *theoretical arrival time* (`tat`), the
//! instant the next post would be due if every post so far had gone out exactly one period
//! (one over `rate_per_second`) after the one before. A post may go once `tat - (burst - 1) periods` has
//! passed, so after a quiet spell `burst` posts go back to back and then one per period.
//!
//! The bucket is charged with the instant a post is **written to its connection**, not the instant it
//! was allowed: a receiver that enforces "one per second" counts arrivals, and a stall between the two
//! (the runtime busy renewing visibility for thousands of in-flight messages, a new connection's
//! handshake) would otherwise let the next post follow the delayed one closely and draw a 429. So the
//! right to post is a [`Turn`], held by one post at a time from the moment it may go until its body is
//! first read by the HTTP client ([`StampedBody`]), which charges the bucket with that instant and
//! passes the turn on. A post that never went out (no connection) hands the turn back uncharged.
//!
//! Its limits: the instant is taken in this process, so network jitter between here and the receiver
//! is not covered; and a post's connection handshake delays the posts queued behind it (once a
//! connection is pooled, the turn lasts microseconds).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Target;
use crate::retry::Failure;

/// The token bucket of one destination (see the module docs).
#[derive(Debug)]
pub(super) struct Pacer {
    period: Duration,
    /// How far ahead of its theoretical arrival time a post may go: `burst - 1` periods.
    tolerance: Duration,
    /// The theoretical arrival time of the next post (`None` before the first), behind the lock that
    /// is the turn.
    tat: Arc<Mutex<Option<Instant>>>,
}

impl Pacer {
    /// A bucket of `burst` posts (at least one) that refills one post every `period`.
    pub(super) fn new(period: Duration, burst: u32) -> Pacer {
        Pacer {
            period,
            tolerance: period.saturating_mul(burst.max(1) - 1),
            tat: Arc::default(),
        }
    }

    /// Waits for the turn: until no other post holds it and the bucket has a post to spare.
    ///
    /// A turn free at once is taken even during shutdown (the "one last attempt"); any wait ends with
    /// [`Failure::Stopped`] once `stop` is cancelled.
    async fn turn(&self, stop: &CancellationToken) -> Result<Turn, Failure> {
        let tat = match Arc::clone(&self.tat).try_lock_owned() {
            Ok(tat) => tat,
            Err(_) if stop.is_cancelled() => return Err(Failure::Stopped),
            Err(_) => tokio::select! {
                tat = Arc::clone(&self.tat).lock_owned() => tat,
                () = stop.cancelled() => return Err(Failure::Stopped),
            },
        };
        if let Some(ready) = tat.map(|t| t.checked_sub(self.tolerance).unwrap_or(t))
            && ready > Instant::now()
        {
            if stop.is_cancelled() {
                return Err(Failure::Stopped);
            }
            tokio::select! {
                () = tokio::time::sleep_until(ready) => {}
                () = stop.cancelled() => return Err(Failure::Stopped),
            }
        }
        Ok(Turn {
            tat,
            period: self.period,
        })
    }
}

/// The right to send the next post to a destination. Dropping it without [`Turn::went_out`] hands it
/// on uncharged: nothing was sent.
#[derive(Debug)]
pub(super) struct Turn {
    tat: OwnedMutexGuard<Option<Instant>>,
    period: Duration,
}

impl Turn {
    /// The post went out at `at`: the bucket is charged with one post at that instant and the turn
    /// passes on.
    pub(super) fn went_out(mut self, at: Instant) {
        let due = self.tat.map_or(at, |t| t.max(at));
        *self.tat = Some(due + self.period);
    }
}

/// A request body that charges its destination's bucket with the instant the HTTP client first reads
/// it, which is when the request is written to its connection (after any connection set-up). Its
/// exact length is known, so the request still carries a `Content-Length`.
#[derive(Debug)]
pub(super) struct StampedBody {
    payload: Option<Bytes>,
    turn: Option<Turn>,
}

impl StampedBody {
    /// `payload`, sent on `turn`.
    pub(super) fn new(payload: &str, turn: Turn) -> StampedBody {
        StampedBody {
            payload: Some(Bytes::copy_from_slice(payload.as_bytes())),
            turn: Some(turn),
        }
    }
}

impl http_body::Body for StampedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(turn) = self.turn.take() {
            turn.went_out(Instant::now());
        }
        Poll::Ready(self.payload.take().map(|p| Ok(Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.payload.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.payload.as_ref().map_or(0, |p| p.len() as u64))
    }
}

/// Waits until the destination allows one more request: a `Retry-After` it sent has passed and its
/// bucket gives this post the [`Turn`].
///
/// A request that may go at once goes, even during shutdown (it is the "one last attempt"). A wait,
/// however, never holds a message past a stop: once `stop` is cancelled the attempt is given up as
/// [`Failure::Stopped`], so the message is handed back at once instead of queueing behind a paced
/// backlog until the hard stop. A `Retry-After` hold that ends after the message's `deadline` gives up
/// at once as a rate limit of the remaining hold, which defers the message by that much.
pub(super) async fn pace(
    target: &Target,
    deadline: Instant,
    stop: &CancellationToken,
) -> Result<Turn, Failure> {
    loop {
        let now = Instant::now();
        if let Some(not_before) = target.hold.not_before().filter(|t| *t > now) {
            if stop.is_cancelled() {
                return Err(Failure::Stopped);
            }
            if not_before > deadline {
                return Err(Failure::RateLimited {
                    retry_after: Some(not_before - now),
                });
            }
            tokio::select! {
                () = tokio::time::sleep_until(not_before) => continue,
                () = stop.cancelled() => return Err(Failure::Stopped),
            }
        }
        let turn = target.pacer.turn(stop).await?;
        // A `Retry-After` may have arrived while this post waited for its turn: honour it first.
        if target.hold.not_before().is_none_or(|t| t <= Instant::now()) {
            return Ok(turn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_delayed_post_is_spaced_from_when_it_went_out() {
        let pacer = Pacer::new(Duration::from_secs(1), 1);
        let stop = CancellationToken::new();
        let started = Instant::now();
        pacer.turn(&stop).await.unwrap().went_out(started);
        // The second post gets its turn at 1 s, then a stall of 0.45 s delays it on the way out.
        let turn = pacer.turn(&stop).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(450)).await;
        let delayed = Instant::now();
        turn.went_out(delayed);
        // The third goes a full period after the delayed one, not 0.55 s after it.
        pacer.turn(&stop).await.unwrap().went_out(Instant::now());
        assert_eq!(delayed.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_post_waits_while_the_one_before_has_not_gone_out() {
        let pacer = Arc::new(Pacer::new(Duration::from_secs(1), 1));
        let stop = CancellationToken::new();
        let started = Instant::now();
        let first = pacer.turn(&stop).await.unwrap();
        let next = {
            let (pacer, stop) = (Arc::clone(&pacer), stop.clone());
            tokio::spawn(async move {
                pacer.turn(&stop).await.unwrap().went_out(Instant::now());
                started.elapsed()
            })
        };
        // The first post is allowed at 0 but only goes out at 1.45 s (a slow connection, a stall).
        tokio::time::sleep(Duration::from_millis(1450)).await;
        first.went_out(Instant::now());
        assert_eq!(next.await.unwrap(), Duration::from_millis(2450));
    }

    #[tokio::test(start_paused = true)]
    async fn a_post_that_never_went_out_is_not_charged() {
        let pacer = Pacer::new(Duration::from_secs(1), 1);
        let stop = CancellationToken::new();
        let started = Instant::now();
        drop(pacer.turn(&stop).await.unwrap());
        pacer.turn(&stop).await.unwrap().went_out(Instant::now());
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_spent_at_once_then_one_per_period_from_the_last_send() {
        let pacer = Pacer::new(Duration::from_millis(500), 3);
        let stop = CancellationToken::new();
        let started = Instant::now();
        for _ in 0..3 {
            pacer.turn(&stop).await.unwrap().went_out(Instant::now());
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        // The bucket is empty: the fourth waits one period.
        let turn = pacer.turn(&stop).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_millis(500));
        // It goes out 2 s late; by then the bucket has refilled to its burst again, no more.
        tokio::time::sleep(Duration::from_secs(2)).await;
        turn.went_out(Instant::now());
        let late = Instant::now();
        for _ in 0..2 {
            pacer.turn(&stop).await.unwrap().went_out(Instant::now());
        }
        assert_eq!(late.elapsed(), Duration::ZERO);
        pacer.turn(&stop).await.unwrap().went_out(Instant::now());
        assert_eq!(late.elapsed(), Duration::from_millis(500));
    }
}
