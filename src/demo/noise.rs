//! Smooth, repeatable jitter. Every value is a pure function of (key, time), so the same
//! demo second always shows the same numbers and snapshot tests stay stable, while the
//! screen still looks alive.

use std::cell::Cell;

/// Changing this reshuffles every wiggle in the demo (and every snapshot with it).
const SEED: u64 = 0x6d61_7374_6f70_2121;

thread_local! {
    static SAMPLES: Cell<u64> = const { Cell::new(0) };
}

/// How many noise samples this thread has drawn. Tests use it to prove a poll costs the
/// same at minute one as at hour ten, by counting work rather than timing it.
pub fn samples_drawn() -> u64 {
    SAMPLES.with(Cell::get)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A repeatable value in [-1, 1] for lattice point `i` of `key`.
fn lattice(key: u64, i: i64) -> f64 {
    let bits = splitmix(key ^ splitmix(i as u64));
    // 53 bits is exactly what an f64 mantissa holds, so the mapping is uniform.
    (bits >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// Value noise in [-1, 1] that drifts smoothly over `period` seconds.
pub fn smooth(key: &str, t: f64, period: f64) -> f64 {
    smooth_hashed(fnv1a(key), t, period)
}

fn smooth_hashed(key: u64, t: f64, period: f64) -> f64 {
    SAMPLES.with(|s| s.set(s.get() + 1));
    let key = splitmix(SEED ^ key);
    let x = t / period;
    let i = x.floor();
    let f = x - i;
    let i = i as i64;
    let (a, b) = (lattice(key, i), lattice(key, i + 1));
    a + (b - a) * (f * f * (3.0 - 2.0 * f))
}

/// Slow drift plus a faster flutter: what a real gauge looks like between polls.
pub fn wobble(key: &str, t: f64) -> f64 {
    let key = fnv1a(key);
    // A different lattice for the flutter, so it is not the drift sped up.
    0.7 * smooth_hashed(key, t, 40.0) + 0.3 * smooth_hashed(splitmix(key), t, 7.0)
}

/// `base` varied by up to ±`spread` (a fraction of it), never below zero.
pub fn around(key: &str, t: f64, base: f64, spread: f64) -> f64 {
    (base * (1.0 + spread * wobble(key, t))).max(0.0)
}

/// Rounds to `decimals` places so JSON and screens show what an operator would read.
pub fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_repeatable_bounded_and_smooth() {
        for i in 0..2000 {
            let t = f64::from(i) * 0.37;
            let v = smooth("edge/tokyo-1:rtt", t, 10.0);
            assert_eq!(v, smooth("edge/tokyo-1:rtt", t, 10.0));
            assert!((-1.0..=1.0).contains(&v));
            // smoothstep's slope is at most 1.5 per period across a gap of at most 2
            let step = (smooth("edge/tokyo-1:rtt", t + 0.1, 10.0) - v).abs();
            assert!(step <= 3.0 * 0.1 / 10.0 + 1e-12, "jump of {step} at {t}");
        }
        assert_ne!(smooth("a", 3.3, 10.0), smooth("b", 3.3, 10.0));
    }
}
