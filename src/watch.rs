//! When an invalidation is checked on, and what each check decides: announce it, or check
//! again later. Pure: the caller supplies the time.
//!
//! The first check waits `COMPLETION_CHECK_DELAY_SECONDS`, and so do the next
//! [`STEADY_CHECKS`] - 1; each further one waits twice as long as the one before (at least
//! 1 s, at most SQS's 900 s). With the default 8 s the checks fall at 8, 16, 24, 40, 72 s...:
//! CloudFront completes in 5 to 25 s now, so most invalidations are announced within 8 s of
//! completing, in two or three checks, while one that takes the legacy minutes is checked a
//! few times more. An invalidation still in progress at [`OVERDUE_AFTER`] is announced overdue
//! and no longer watched.

use std::time::Duration;

use crate::config::MAX_QUEUE_DELAY_SECONDS;
use crate::event::work::{MAX_CHECKS, Timestamp, Watch};
use crate::plan::Invalidation;
use crate::publish::{CompletionEvent, Kind};
use crate::send::{Facts, Progress, Receipt};

/// How long an invalidation may stay in progress before it is announced overdue. AWS's own
/// `invalidation-completed` waiter gives up after 10 minutes (30 checks, 20 s apart); users
/// have reported 5 to 30 minutes when many invalidations run at once. Thirty minutes leaves
/// that room, and past it the site has been stale long enough for someone to look.
pub const OVERDUE_AFTER: Duration = Duration::from_secs(30 * 60);

/// Checks that wait the first delay, before the delays start doubling: together they span
/// CloudFront's completion times (three checks 8 s apart reach 24 s, its P95 of 25 s).
pub const STEADY_CHECKS: u32 = 3;

/// The first watch of an invalidation CloudFront just created, or returned for a reused
/// reference; `None` when CloudFront named no invalidation, as it does when it refuses a
/// reused reference: there is nothing to check.
pub fn first(
    invalidation: &Invalidation,
    receipt: &Receipt,
    first_delay_seconds: u64,
    now: Timestamp,
) -> Option<Watch> {
    let completed = receipt
        .status
        .as_deref()
        .is_some_and(|status| status.eq_ignore_ascii_case("Completed"));
    Some(Watch {
        distribution_id: invalidation.distribution_id.clone(),
        tenant_id: invalidation.tenant_id.clone(),
        invalidation_id: receipt.id.clone()?,
        caller_reference: invalidation.caller_reference.clone(),
        billed_paths: invalidation.paths.len(),
        created_at: receipt.created_at.map_or(now, Timestamp::from),
        in_progress_at: (!completed).then_some(now),
        checks: 0,
        delay_seconds: first_delay_seconds.min(MAX_QUEUE_DELAY_SECONDS),
    })
}

/// `watch` with what CloudFront recorded of the invalidation in place of what the message
/// claims: a message may name an invalidation to check, but what it holds, its reference and
/// when it was made are CloudFront's to say. The message's own times are kept within what
/// can be true (not after `now`, not before the creation).
pub fn confirmed(watch: &Watch, facts: &Facts, now: Timestamp) -> Watch {
    let created_at = facts
        .created_at
        .map_or(watch.created_at.min(now), Timestamp::from);
    Watch {
        caller_reference: facts.caller_reference.clone(),
        billed_paths: facts.paths,
        created_at,
        in_progress_at: watch
            .in_progress_at
            .map(|seen| seen.clamp(created_at, now.max(created_at))),
        ..watch.clone()
    }
}

/// What a check leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Publish this; the watch ends.
    Announce(CompletionEvent),
    /// Check again: send this watch, due after its `delay_seconds`.
    CheckAgain(Watch),
}

/// What follows a check of `watch` that found `progress` at `now`.
pub fn after_check(watch: &Watch, progress: Progress, now: Timestamp) -> Next {
    let checks = watch.checks + 1;
    let elapsed = now.since(watch.created_at);
    if progress == Progress::Completed {
        return Next::Announce(CompletionEvent::new(Kind::Completed, watch, now, checks));
    }
    if elapsed >= OVERDUE_AFTER || checks >= MAX_CHECKS {
        return Next::Announce(CompletionEvent::new(Kind::Overdue, watch, now, checks));
    }
    let growth = if checks < STEADY_CHECKS { 1 } else { 2 };
    let next_delay = watch
        .delay_seconds
        .saturating_mul(growth)
        .clamp(1, MAX_QUEUE_DELAY_SECONDS);
    // The last check falls on the bound rather than up to 15 minutes past it.
    let until_overdue = (OVERDUE_AFTER - elapsed).as_secs_f64().ceil() as u64;
    Next::CheckAgain(Watch {
        in_progress_at: Some(now),
        checks,
        delay_seconds: next_delay.min(until_overdue.max(1)),
        ..watch.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::SystemTime;

    /// When the invalidation was created: 2026-11-30T05:00:00Z.
    fn creation() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_014_800)
    }

    fn created() -> Timestamp {
        Timestamp::from(creation())
    }

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from(creation() + Duration::from_secs(seconds))
    }

    fn receipt(status: &str) -> Receipt {
        Receipt {
            id: Some("I2J0I21PCUYOIK".into()),
            status: Some(status.into()),
            reused: false,
            created_at: Some(creation()),
        }
    }

    fn invalidation() -> Invalidation {
        Invalidation {
            distribution_id: "EDFDVBD6EXAMPLE".into(),
            tenant_id: None,
            role: None,
            caller_reference: "s3cfi-ref".into(),
            paths: vec!["/a".into(), "/b/*".into()],
            covers: vec![Default::default(); 2],
        }
    }

    #[test]
    fn a_new_invalidation_is_watched_from_cloudfronts_create_time() {
        let watch = first(&invalidation(), &receipt("InProgress"), 60, at(1)).unwrap();
        assert_eq!(
            (watch.created_at, watch.in_progress_at, watch.billed_paths),
            (created(), Some(at(1)), 2)
        );
        assert_eq!((watch.checks, watch.delay_seconds), (0, 60));
        let found_done = first(&invalidation(), &receipt("Completed"), 60, at(90)).unwrap();
        assert_eq!(found_done.in_progress_at, None);
        let unnamed = Receipt::already_exists();
        assert_eq!(first(&invalidation(), &unnamed, 60, at(1)), None);
    }

    #[test]
    fn checks_fall_at_1_2_3_5_9_17_and_30_minutes_then_overdue() {
        let mut watch = first(&invalidation(), &receipt("InProgress"), 60, at(0)).unwrap();
        let mut now = 0;
        let mut schedule = Vec::new();
        loop {
            now += watch.delay_seconds;
            schedule.push(now);
            match after_check(&watch, Progress::InProgress, at(now)) {
                Next::CheckAgain(next) => {
                    assert!(
                        next.delay_seconds > watch.delay_seconds
                            || (next.checks < STEADY_CHECKS
                                && next.delay_seconds == watch.delay_seconds)
                            || now + next.delay_seconds == 1800
                    );
                    watch = next;
                }
                Next::Announce(event) => {
                    assert_eq!(event.kind, Kind::Overdue);
                    assert_eq!(event.detail.seconds_in_progress, Some(1800));
                    assert_eq!(event.detail.checks, 7);
                    break;
                }
            }
        }
        assert_eq!(schedule, [60, 120, 180, 300, 540, 1020, 1800]);
    }

    #[test]
    fn a_completed_check_announces_with_the_time_it_took() {
        let watch = first(&invalidation(), &receipt("InProgress"), 60, at(0)).unwrap();
        let Next::CheckAgain(watch) = after_check(&watch, Progress::InProgress, at(60)) else {
            panic!("still in progress")
        };
        assert_eq!(
            (watch.in_progress_at, watch.checks, watch.delay_seconds),
            (Some(at(60)), 1, 60)
        );
        let Next::Announce(event) = after_check(&watch, Progress::Completed, at(121)) else {
            panic!("completed")
        };
        assert_eq!(event.kind, Kind::Completed);
        assert_eq!(event.detail.seconds_to_complete, Some(121));
        assert_eq!(event.detail.in_progress_at, Some(at(60)));
        assert_eq!(event.detail.checks, 2);
    }

    #[test]
    fn a_zero_first_delay_still_grows_and_ends() {
        let mut watch = first(&invalidation(), &receipt("InProgress"), 0, at(0)).unwrap();
        let (mut now, mut delays) = (0, vec![0]);
        while let Next::CheckAgain(next) = after_check(&watch, Progress::InProgress, at(now)) {
            now += next.delay_seconds;
            delays.push(next.delay_seconds);
            watch = next;
        }
        assert_eq!(delays[..5], [0, 1, 1, 2, 4]);
        assert!(
            watch.checks + 1 < MAX_CHECKS,
            "the time bound ends it: {delays:?}"
        );
        assert_eq!(now, 1800);
    }
}
