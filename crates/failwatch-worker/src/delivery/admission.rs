//! Admission: whether the deliverer can take more alerts soon, which the pollers ask before every
//! receive (backpressure).
//!
//! A message received and then held waiting for a destination's turn is not free: each crash or kill of
//! the worker while it waits spends one of its receives, and after `maxReceiveCount` of them SQS moves it
//! to the DLQ without a single attempt having finished. So the worker receives only what it can start
//! delivering *soon*, within a horizon the consumer chooses (a fraction of the visibility timeout).
//!
//! The rule is global, because routing picks an alert's destinations only after its body is decoded: a
//! destination's **delay** is the rest of its `Retry-After` hold plus one turn for every delivery ahead
//! of a new one: deliveries to it not yet final (waiting for a turn, posting, or in a backoff wait
//! before the turn their retry will need) and every message received but not yet routed, which might
//! all go there. A turn is the pacing period (one over `rate_per_second`) stretched by the share of
//! recent time the destination was held by `Retry-After`s ([`HeldShare`]): a service that answers one
//! attempt in ten with a 429 and a two-second `Retry-After` serves far fewer than its pacing allows. A
//! receive is admitted for as many messages as the destination with the most room can start within the
//! horizon; when no destination can start even one, the poller waits until the first one can, instead
//! of receiving.
//!
//! **Routing shares.** Counting every message not yet routed against every destination is right for
//! one destination and far too cautious for many: with sixty rooms at one post a second, each message
//! goes to one room in sixty, yet each would count as ahead at all of them, and a receive would take
//! two messages. So admission also learns, from what was routed lately (decayed counts with
//! [`HELD_MEMORY`]), each destination's **share**: deliveries to it per routed message (a silent,
//! duplicate or folded message adds none). Once at least [`MIN_ROUTED`] messages were routed, a
//! destination counts `unrouted × share` of the messages not yet routed as ahead, and `n` new messages
//! as `n × share` turns, so a receive takes what the destination with the most room can start,
//! divided by its share; destinations far below the largest share (less than [`MIN_RELATIVE_SHARE`]
//! of it) do not decide, and when nothing was delivered anywhere lately a whole batch is admitted.
//! Every message to one destination is a share of one: the rule above, unchanged. A process that has
//! routed too little to know (just started, or quiet for minutes) uses the rule above.
//!
//! **Slow start.** Pacing and the held share are what a process has learnt; a process just started (a
//! restart after a crash or a kill, a new replica) has learnt nothing and would admit a whole horizon of
//! turns at once to a destination that may be answering 429s. So each destination also has a
//! [`Window`], as TCP has a congestion window: at most that many deliveries ahead (the count above), and
//! the window starts at the destination's `burst` (what it is said to take at once; at least
//! [`INITIAL_WINDOW`]), grows by one with every accepted answer (doubling per round of answers, up to
//! [`MAX_WINDOW`], past which pacing alone decides), and falls back to its start whenever a
//! `Retry-After` extends the destination's hold. While the window is full
//! the poller looks again after [`MIN_RECHECK`]: the window opens with an answer, not with time.
//!
//! Its limits: an alert routed to a paused destination is still received while another destination has
//! room (routing is not known in advance); a burst the token bucket still holds is not counted, and a
//! delivery in a backoff wait may not need its turn within the horizon, so the delay is an upper bound
//! (it errs towards receiving less); silent and duplicate events wait along with alerts while every
//! destination is paused; and a long poll already open returns what arrives even if a pause began
//! meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::{Deliverer, Target};

/// The shortest wait before admission is asked again: what is ahead does not always drain with time
/// (a message not yet routed may be waiting for the state store), and a fast destination's period is a
/// millisecond; this keeps a waiting poller from spinning.
const MIN_RECHECK: Duration = Duration::from_millis(10);
/// How long [`HeldShare`] remembers: its time constant. Long enough to span many 429s of a service
/// that keeps sending them, short enough that the worker is back at full pace soon after they stop.
const HELD_MEMORY: Duration = Duration::from_secs(30);
/// Routed messages (a decayed count, [`HELD_MEMORY`]) below which admission has not learnt where
/// messages go, and keeps the cautious rule: every message not yet routed might go to any one
/// destination.
const MIN_ROUTED: f64 = 20.0;
/// A destination whose routing share is below this fraction of the largest share does not decide how
/// much is received (one that almost never gets a post would otherwise admit without bound).
const MIN_RELATIVE_SHARE: f64 = 0.1;
/// The largest held share admission believes, so that a turn is at most ten pacing periods long and
/// a destination that was held for minutes is not shut out for as long again.
const MAX_HELD_SHARE: f64 = 0.9;
/// A held share below this counts as none: what is left of holds long past, not worth a shorter queue.
const MIN_HELD_SHARE: f64 = 0.01;
/// The fewest deliveries a destination's [`Window`] lets ahead before any answer (its `burst` when that
/// is larger): few enough that a process killed soon after it starts has spent a receive on only these,
/// and two so that one slow answer does not stall the destination.
const INITIAL_WINDOW: usize = 2;
/// The widest a [`Window`] grows: far beyond what pacing serves within a horizon at any usual rate, so
/// that a destination which keeps accepting is limited by its pacing alone, while the counter stays
/// bounded.
const MAX_WINDOW: usize = 1024;

/// How many deliveries to a destination admission lets ahead of a new one, learnt from its answers (slow
/// start, see the module docs).
#[derive(Debug)]
pub(super) struct Window {
    current: AtomicUsize,
    /// Where it starts, and starts over after a `Retry-After`.
    initial: usize,
}

impl Window {
    /// A window that starts at `burst` deliveries, at least [`INITIAL_WINDOW`], at most
    /// [`MAX_WINDOW`].
    pub(super) fn new(burst: u32) -> Window {
        let initial = usize::try_from(burst)
            .unwrap_or(MAX_WINDOW)
            .clamp(INITIAL_WINDOW, MAX_WINDOW);
        Window {
            current: AtomicUsize::new(initial),
            initial,
        }
    }

    /// Widens the window by one after the destination accepted a post.
    fn accepted(&self) {
        // `fetch_update` with a closure that always answers `Some` cannot fail.
        let _ = self
            .current
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                Some((w + 1).min(MAX_WINDOW))
            });
    }

    /// Starts over after a `Retry-After`: the destination serves less than was thought.
    fn restart(&self) {
        self.current.store(self.initial, Ordering::Relaxed);
    }

    fn get(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }
}

/// A sum that decays exponentially with [`HELD_MEMORY`]: recent events count fully, older ones less.
#[derive(Debug, Default)]
pub(super) struct Decayed {
    /// When the sum was last decayed, and the sum then.
    decayed: Mutex<Option<(Instant, f64)>>,
}

impl Decayed {
    /// Adds `amount` at `now`.
    fn add(&self, amount: f64, now: Instant) {
        let mut decayed = self.decayed.lock().unwrap_or_else(PoisonError::into_inner);
        *decayed = Some((now, decay(*decayed, now) + amount));
    }

    /// The sum as of `now`.
    fn get(&self, now: Instant) -> f64 {
        decay(
            *self.decayed.lock().unwrap_or_else(PoisonError::into_inner),
            now,
        )
    }
}

/// The recent share of time a destination was held by `Retry-After`s: every extension of its hold
/// adds the seconds it added to a [`Decayed`] sum; the sum over the time constant is the share (a
/// destination held 75 % of the time settles at 0.75).
#[derive(Debug, Default)]
pub(super) struct HeldShare {
    held_secs: Decayed,
}

impl HeldShare {
    /// Records a hold extended from `before` to `after` (its ends, if any), at the current instant.
    pub(super) fn extended(&self, before: Option<Instant>, after: Option<Instant>) {
        let now = Instant::now();
        let Some(after) = after else { return };
        let from = before.map_or(now, |b| b.max(now));
        let added = after.saturating_duration_since(from).as_secs_f64();
        if added > 0.0 {
            self.held_secs.add(added, now);
        }
    }

    /// The held share as of `now`, at most [`MAX_HELD_SHARE`]; zero below [`MIN_HELD_SHARE`].
    fn share(&self, now: Instant) -> f64 {
        let share = (self.held_secs.get(now) / HELD_MEMORY.as_secs_f64()).min(MAX_HELD_SHARE);
        if share < MIN_HELD_SHARE { 0.0 } else { share }
    }
}

/// A decayed sum carried forward to `now`.
fn decay(decayed: Option<(Instant, f64)>, now: Instant) -> f64 {
    decayed.map_or(0.0, |(at, sum)| {
        let elapsed = now.saturating_duration_since(at).as_secs_f64();
        sum * (-elapsed / HELD_MEMORY.as_secs_f64()).exp()
    })
}

/// One message counted as ahead of new ones (received and not yet routed, or a delivery in progress at a
/// destination), until dropped. A received message's ticket also counts it as routed when dropped.
#[derive(Debug)]
pub(crate) struct Ticket {
    count: Arc<AtomicUsize>,
    routed: Option<Arc<Decayed>>,
}

impl Ticket {
    fn new(count: &Arc<AtomicUsize>, routed: Option<&Arc<Decayed>>) -> Ticket {
        count.fetch_add(1, Ordering::Relaxed);
        Ticket {
            count: count.clone(),
            routed: routed.cloned(),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
        if let Some(routed) = &self.routed {
            routed.add(1.0, Instant::now());
        }
    }
}

/// What a poller may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Receive at most this many messages (at least one).
    Receive(usize),
    /// No destination can start a new attempt within the horizon: look again at this instant.
    WaitUntil(Instant),
}

/// One destination's queue as admission sees it.
#[derive(Debug, Clone, Copy)]
struct Queue {
    /// The rest of its `Retry-After` hold.
    held: Duration,
    /// One turn: its pacing period stretched by its held share.
    period: Duration,
    /// Deliveries ahead of a new one: those in progress, plus the messages not yet routed that are
    /// expected to go there (all of them until admission has learnt the routing shares).
    ahead: usize,
    /// Its slow-start [`Window`]: at most this many ahead.
    window: usize,
}

impl Queue {
    fn of(target: &Target, now: Instant, unrouted: usize, share: f64) -> Queue {
        Queue {
            held: target
                .hold
                .not_before()
                .map_or(Duration::ZERO, |until| until.saturating_duration_since(now)),
            period: target.period.div_f64(1.0 - target.held.share(now)),
            ahead: target.in_progress.load(Ordering::Relaxed) + expected(unrouted, share),
            window: target.window.get(),
        }
    }

    /// How many new attempts could start within `horizon`, and fit in the window.
    fn room(self, horizon: Duration) -> usize {
        self.paced_room(horizon)
            .min(self.window.saturating_sub(self.ahead))
    }

    /// How many new attempts pacing and the hold let start within `horizon`.
    fn paced_room(self, horizon: Duration) -> usize {
        let Some(open) = horizon.checked_sub(self.held) else {
            return 0;
        };
        let turns = (open.as_secs_f64() / self.period.as_secs_f64()).floor();
        // A destination with no one waiting always admits one: it can start at once.
        let turns = (turns as usize).max(usize::from(self.held.is_zero()));
        turns.saturating_sub(self.ahead)
    }

    /// How long until [`Queue::room`] within `horizon` is at least one, if nothing else changes: until
    /// one more turn fits in the horizon, or until nothing is ahead and the hold is over. A full window
    /// opens only with an answer, so then at once (the caller waits at least [`MIN_RECHECK`]).
    fn opens_in(self, horizon: Duration) -> Duration {
        if self.ahead >= self.window {
            return Duration::ZERO;
        }
        let turns = |n: usize| {
            self.period
                .saturating_mul(u32::try_from(n).unwrap_or(u32::MAX))
        };
        let fits = (self.held + turns(self.ahead + 1)).saturating_sub(horizon);
        fits.min(self.held + turns(self.ahead))
    }
}

impl Deliverer {
    /// Counts one received message as not yet routed, until the ticket is dropped (the consumer drops
    /// it once the message's attempts have their own tickets, or it needs none); then it counts as
    /// routed, for the routing shares.
    pub(crate) fn arrival(&self) -> Ticket {
        Ticket::new(&self.unrouted, Some(&self.routed))
    }

    /// Counts one delivery to destination `index` as in progress, until dropped.
    pub(crate) fn enqueue(&self, index: usize) -> Ticket {
        let target = &self.targets[index];
        target.enqueued.add(1.0, Instant::now());
        Ticket::new(&target.in_progress, None)
    }

    /// Whether a poller may receive now, and how many messages, for attempts to start within `horizon`
    /// (see the module docs for the rule).
    pub(crate) fn admission(&self, horizon: Duration) -> Admission {
        let now = Instant::now();
        let unrouted = self.unrouted.load(Ordering::Relaxed);
        let shares = self.routing_shares(now);
        let queues: Vec<Queue> = self
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| Queue::of(t, now, unrouted, shares.as_ref().map_or(1.0, |s| s[i])))
            .collect();
        let room = match &shares {
            None => queues.iter().map(|q| q.room(horizon)).max().unwrap_or(1),
            Some(shares) => shared_room(&queues, shares, horizon),
        };
        if room > 0 || self.targets.is_empty() {
            return Admission::Receive(room.max(1));
        }
        let opens_in = queues
            .iter()
            .map(|q| q.opens_in(horizon))
            .min()
            .unwrap_or_default();
        Admission::WaitUntil(now + opens_in.max(MIN_RECHECK))
    }

    /// Each destination's recent deliveries per routed message (0 to 1 and more when a route sends an
    /// alert to several destinations, each counted on its own), or `None` while too few messages were
    /// routed to say.
    fn routing_shares(&self, now: Instant) -> Option<Vec<f64>> {
        let routed = self.routed.get(now);
        (routed >= MIN_ROUTED).then(|| {
            self.targets
                .iter()
                .map(|t| (t.enqueued.get(now) / routed).min(1.0))
                .collect()
        })
    }

    /// Holds destination `index` until `until`, as a `Retry-After` would (its held share and window
    /// included).
    #[cfg(test)]
    pub(crate) fn hold_until(&self, index: usize, until: Instant) {
        let target = &self.targets[index];
        let before = target.hold.not_before();
        target.hold.extend_to(until);
        target.hold_extended(before);
    }

    /// Records that destination `index` accepted a post, as an answer would.
    #[cfg(test)]
    pub(crate) fn accepted(&self, index: usize) {
        self.targets[index].window.accepted();
    }
}

/// How many of `unrouted` messages are expected at a destination that gets `share` of them.
fn expected(unrouted: usize, share: f64) -> usize {
    (unrouted as f64 * share).ceil() as usize
}

/// How many messages may be received when the routing shares are known: as many as the destination
/// with the most room for them can start within `horizon`, where `n` messages bring about `n × share`
/// deliveries to a destination. A destination whose share is far below the largest does not decide;
/// when nothing was delivered anywhere lately (every message silent, a duplicate or folded into a
/// digest), messages cost no turn, and a full batch may be received.
fn shared_room(queues: &[Queue], shares: &[f64], horizon: Duration) -> usize {
    let top = shares.iter().copied().fold(0.0, f64::max);
    if top <= 0.0 {
        return crate::sqs::MAX_BATCH;
    }
    queues
        .iter()
        .zip(shares)
        .filter(|&(_, &share)| share >= top * MIN_RELATIVE_SHARE)
        .map(|(q, &share)| (q.room(horizon) as f64 / share).floor() as usize)
        .max()
        .unwrap_or(1)
}

impl Target {
    /// What admission learns from an accepted post: the window widens.
    pub(super) fn accepted(&self) {
        self.window.accepted();
    }

    /// What admission learns from a failure that may have extended the hold, which ended at `before`
    /// (if anything) until then: the held share counts what was added, and an extension restarts the
    /// window.
    pub(super) fn hold_extended(&self, before: Option<Instant>) {
        let after = self.hold.not_before();
        self.held.extended(before, after);
        if after > before {
            self.window.restart();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(held_ms: u64, period_ms: u64, ahead: usize) -> Queue {
        Queue {
            held: Duration::from_millis(held_ms),
            period: Duration::from_millis(period_ms),
            ahead,
            window: MAX_WINDOW,
        }
    }

    #[test]
    fn room_is_what_pacing_serves_within_the_horizon_less_what_is_ahead() {
        let horizon = Duration::from_secs(2);
        // Ten a second, nothing ahead: twenty turns in two seconds.
        assert_eq!(queue(0, 100, 0).room(horizon), 20);
        assert_eq!(queue(0, 100, 15).room(horizon), 5);
        assert_eq!(queue(0, 100, 25).room(horizon), 0);
        // Held for 1.5 s: five turns left in the horizon.
        assert_eq!(queue(1500, 100, 0).room(horizon), 5);
        // Held beyond the horizon: none.
        assert_eq!(queue(3000, 100, 0).room(horizon), 0);
        // One every ten seconds, nobody waiting: one can go now.
        assert_eq!(queue(0, 10_000, 0).room(horizon), 1);
        assert_eq!(queue(0, 10_000, 1).room(horizon), 0);
    }

    #[test]
    fn the_window_caps_what_pacing_would_admit_until_answers_widen_it() {
        let horizon = Duration::from_secs(2);
        let windowed = |ahead, window| Queue {
            window,
            ..queue(0, 100, ahead)
        };
        // Pacing serves twenty within the horizon; a fresh window lets two go.
        assert_eq!(windowed(0, INITIAL_WINDOW).room(horizon), 2);
        assert_eq!(windowed(1, INITIAL_WINDOW).room(horizon), 1);
        assert_eq!(windowed(2, INITIAL_WINDOW).room(horizon), 0);
        // Full, it opens with an answer, not with time: look again at once.
        assert_eq!(
            windowed(2, INITIAL_WINDOW).opens_in(horizon),
            Duration::ZERO
        );
        // Wider than pacing: pacing decides.
        assert_eq!(windowed(15, 40).room(horizon), 5);
        assert_eq!(
            windowed(25, 40).opens_in(horizon),
            Duration::from_millis(600)
        );

        // It starts at the destination's burst, but never below two.
        assert_eq!(Window::new(1).get(), INITIAL_WINDOW);
        assert_eq!(Window::new(u32::MAX).get(), MAX_WINDOW);
        let window = Window::new(5);
        assert_eq!(window.get(), 5);
        for _ in 0..3 {
            window.accepted();
        }
        assert_eq!(window.get(), 8);
        window.restart();
        assert_eq!(window.get(), 5);
        for _ in 0..2 * MAX_WINDOW {
            window.accepted();
        }
        assert_eq!(window.get(), MAX_WINDOW);
    }

    #[tokio::test(start_paused = true)]
    async fn the_held_share_follows_how_much_of_the_time_retry_afters_hold() {
        let held = HeldShare::default();
        assert_eq!(held.share(Instant::now()), 0.0);
        // A 1.5 s Retry-After every 2 s, for two minutes: held 75 % of the time.
        for _ in 0..60 {
            let now = Instant::now();
            held.extended(None, Some(now + Duration::from_millis(1500)));
            tokio::time::advance(Duration::from_secs(2)).await;
        }
        let share = held.share(Instant::now());
        assert!((0.7..0.8).contains(&share), "{share}");
        // An extension counts only what it adds to the hold in force.
        let now = Instant::now();
        held.extended(
            Some(now + Duration::from_secs(1)),
            Some(now + Duration::from_secs(1)),
        );
        assert!((held.share(now) - share).abs() < 1e-9);
        // Quiet for three minutes: forgotten.
        tokio::time::advance(Duration::from_secs(180)).await;
        assert_eq!(held.share(Instant::now()), 0.0);
        // One very long hold is believed only up to the cap.
        held.extended(None, Some(Instant::now() + Duration::from_secs(300)));
        assert_eq!(held.share(Instant::now()), MAX_HELD_SHARE);
    }

    #[test]
    fn a_closed_queue_opens_when_the_hold_and_the_attempts_ahead_are_through() {
        let horizon = Duration::from_secs(2);
        assert_eq!(
            queue(3000, 100, 0).opens_in(horizon),
            Duration::from_millis(1100)
        );
        assert_eq!(
            queue(0, 100, 25).opens_in(horizon),
            Duration::from_millis(600)
        );
        assert_eq!(queue(0, 100, 5).opens_in(horizon), Duration::ZERO);
        // A slow destination opens when the one attempt ahead has had its turn.
        assert_eq!(
            queue(0, 10_000, 1).opens_in(horizon),
            Duration::from_secs(10)
        );
    }
}
