#![allow(clippy::unwrap_used)]

use super::*;

const S: i64 = 1_000_000_000;

fn limits() -> TenantLimits {
    TenantLimits {
        lines_per_sec: Some(1_000),
        burst_lines: Some(2_000),
        bytes_per_sec: Some(100_000),
        burst_bytes: Some(100_000),
        ..TenantLimits::default()
    }
}

fn key(lines: u64, bytes: u64, checksum: u32) -> RequestKey {
    RequestKey {
        lines,
        bytes,
        checksum,
    }
}

#[test]
fn both_or_neither_and_unclaimed_bookings_are_refunded() {
    let mut r = WriteRate::new(&limits(), 1);
    r.take(key(0, 100_000, 1), 0).expect("fits");
    assert_eq!(r.available(0), (Some(2_000), Some(0)));
    // Lines fit, bytes do not: nothing is taken for good.
    let e = r.take(key(10, 50_000, 2), 0).unwrap_err();
    assert_eq!(
        e,
        RateRefusal::Wait {
            unit: Unit::Bytes,
            per_sec: 100_000,
            replicas: 1,
            retry_after: 1
        }
    );
    // The booking holds its 50 000 bytes (due at 0.5 s): without it, 0.5 s would give 50 000.
    assert_eq!(r.available(S / 2), (Some(2_000), Some(0)));
    r.expire(i128::from(S / 2) + CLAIM_GRACE_NS);
    assert_eq!(r.bookings.len(), 1, "kept until due + grace");
    // Unclaimed after the grace: refunded, as if the refused request had never come.
    r.expire(i128::from(S / 2) + CLAIM_GRACE_NS + 1);
    assert!(r.bookings.is_empty());
    assert_eq!(r.available(S / 2), (Some(2_000), Some(50_000)));
}

#[test]
fn retry_after_is_the_larger_wait_and_honouring_it_is_admitted() {
    let mut r = WriteRate::new(&limits(), 1);
    r.take(key(2_000, 100_000, 1), 0).expect("fits");
    assert!(matches!(
        r.take(key(3_000, 1, 9), 0),
        Err(RateRefusal::TooLarge {
            unit: Unit::Lines,
            n: 3_000,
            burst: 2_000
        })
    ));
    // 1 500 lines → 1.5 s → 2; 10 000 bytes → 0.1 s. The answer is 2.
    let k = key(1_500, 10_000, 2);
    match r.take(k, 0) {
        Err(RateRefusal::Wait {
            unit, retry_after, ..
        }) => assert_eq!((unit, retry_after), (Unit::Lines, 2)),
        other => panic!("{other:?}"),
    }
    // Coming back early: refused with the rest of the wait, still booked once.
    match r.take(k, S) {
        Err(RateRefusal::Wait { retry_after, .. }) => assert_eq!(retry_after, 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.bookings.len(), 1);
    r.take(k, 2 * S).expect("admitted after Retry-After");
    assert!(r.bookings.is_empty());
    // It was taken once: 0.5 s of refill is all that is left at 2 s.
    assert_eq!(r.available(2 * S).0, Some(500));
}

#[test]
fn competing_clients_queue_behind_a_booking() {
    let mut r = WriteRate::new(&limits(), 1);
    r.take(key(2_000, 1, 0), 0).expect("burst");
    // A is refused at 0 (due at 1 s); B, a first try at 0.5 s, queues behind A (due at 2 s).
    let a = key(1_000, 1, 1);
    let b = key(1_000, 1, 2);
    let ra = |res: Result<(), RateRefusal>| match res {
        Err(RateRefusal::Wait { retry_after, .. }) => retry_after,
        other => panic!("{other:?}"),
    };
    assert_eq!(ra(r.take(a, 0)), 1);
    assert_eq!(ra(r.take(b, S / 2)), 2);
    // A third request at 1 s cannot jump the queue either.
    assert_eq!(ra(r.take(key(500, 1, 3), S)), 2);
    r.take(a, S).expect("A honoured its Retry-After");
    r.take(b, S / 2 + 2 * S)
        .expect("B honoured its Retry-After");
}

#[test]
fn peek_takes_nothing_and_lets_a_booked_request_through() {
    let mut r = WriteRate::new(&limits(), 1);
    for _ in 0..5 {
        r.peek_bytes(100_000, 0).expect("fits");
    }
    assert!(matches!(
        r.peek_bytes(100_001, 0),
        Err(RateRefusal::TooLarge { .. })
    ));
    r.take(key(1, 100_000, 0), 0).expect("fits");
    assert!(r.peek_bytes(50_000, 0).is_err());
    let _ = r.take(key(1, 50_000, 7), 0);
    // Its booking has that size: the peek leaves the decision to `take`.
    r.peek_bytes(50_000, 0)
        .expect("booked size passes the peek");
}

#[test]
fn unlimited_always_fits() {
    let mut r = WriteRate::new(&TenantLimits::default(), 1);
    assert!(r.is_unlimited());
    for _ in 0..1000 {
        r.take(key(u64::MAX, u64::MAX, 0), 0).expect("unlimited");
    }
}
