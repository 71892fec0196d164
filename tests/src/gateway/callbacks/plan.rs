//! What the mock will send about one accepted message, decided once when it is accepted: a
//! `delivered` (or a late `failed`), maybe a `read` (maybe before the `delivered`), maybe a
//! reply (maybe `STOP`), and for each callback the faults: dropped, duplicated, preceded by a
//! forged copy. Pure but for the random source it is given.

use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;

use crate::gateway::callbacks::config::CallbackConfig;
use crate::gateway::callbacks::payload::Event;

/// One callback to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// What it reports.
    pub event: Event,
    /// How long after the message's send it is due.
    pub after: Duration,
    /// Never sent (only counted).
    pub dropped: bool,
    /// Sent twice.
    pub duplicated: bool,
    /// Preceded by a copy with a wrong signature.
    pub forged: bool,
}

fn roll(rng: &mut StdRng, fraction: f64) -> bool {
    fraction > 0.0 && (fraction >= 1.0 || rng.random_bool(fraction))
}

/// `delay` jittered uniformly by ±50%.
fn jittered(rng: &mut StdRng, delay: Duration) -> Duration {
    if delay.is_zero() {
        return delay;
    }
    delay.mul_f64(rng.random_range(0.5..=1.5))
}

/// The callbacks of one accepted message, in the order they are due.
pub fn plan(config: &CallbackConfig, rng: &mut StdRng) -> Vec<Planned> {
    let shares = &config.shares;
    let mut events = Vec::with_capacity(3);
    let first = jittered(rng, config.delay);
    if roll(rng, shares.late_failure) {
        let code = &config.late_failure_codes[rng.random_range(0..config.late_failure_codes.len())];
        events.push((Event::Failed(code.clone()), first));
    } else {
        let mut last = first;
        if roll(rng, shares.read) {
            let read = first + jittered(rng, config.delay);
            last = read;
            if roll(rng, shares.reorder) {
                // The read overtakes the delivery: due first, the delivery when the read was.
                events.push((Event::Read, first));
                events.push((Event::Delivered, read));
            } else {
                events.push((Event::Delivered, first));
                events.push((Event::Read, read));
            }
        } else {
            events.push((Event::Delivered, first));
        }
        if roll(rng, shares.reply) {
            let stop = roll(rng, shares.stop);
            events.push((Event::Reply { stop }, last + jittered(rng, config.delay)));
        }
    }
    events
        .into_iter()
        .map(|(event, after)| Planned {
            event,
            after,
            dropped: roll(rng, shares.drop),
            duplicated: roll(rng, shares.duplicate),
            forged: roll(rng, shares.bad_signature),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::gateway::callbacks::config::Shares;

    fn config(shares: Shares) -> CallbackConfig {
        CallbackConfig {
            url: "http://127.0.0.1:1".to_owned(),
            seven_key: None,
            bird_key: None,
            delay: Duration::from_millis(100),
            shares,
            late_failure_codes: vec!["131026".to_owned()],
            retry_for: Duration::from_secs(1),
            concurrency: 1,
            price: None,
        }
    }

    const NONE: Shares = Shares {
        read: 0.0,
        reply: 0.0,
        stop: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        drop: 0.0,
        late_failure: 0.0,
        bad_signature: 0.0,
    };

    #[test]
    fn every_message_is_delivered_and_the_shares_add_the_rest() {
        let mut rng = StdRng::seed_from_u64(1);
        let only = plan(&config(NONE), &mut rng);
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].event, Event::Delivered);
        assert!((50..=150).contains(&only[0].after.as_millis()));

        let all = Shares {
            read: 1.0,
            reply: 1.0,
            stop: 1.0,
            reorder: 1.0,
            ..NONE
        };
        let planned = plan(&config(all), &mut rng);
        let events: Vec<_> = planned.iter().map(|p| p.event.clone()).collect();
        assert_eq!(
            events,
            [Event::Read, Event::Delivered, Event::Reply { stop: true }]
        );
        assert!(planned[0].after < planned[1].after && planned[1].after < planned[2].after);

        let failing = Shares {
            late_failure: 1.0,
            read: 1.0,
            ..NONE
        };
        let planned = plan(&config(failing), &mut rng);
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].event, Event::Failed("131026".to_owned()));
    }
}
