//! An RFC 6238 TOTP written apart from the server's, for tests to compute codes with.

use hmac::{Hmac, Mac};

/// RFC 4648 base32 (no padding), decoded.
pub fn base32(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut acc, mut out) = (0u32, 0u32, Vec::new());
    for c in s.trim_end_matches('=').bytes() {
        let v = alphabet
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .expect("base32") as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// RFC 6238 TOTP with HMAC-SHA1, written here apart from the server's implementation.
pub fn totp(secret: &[u8], unix: i64, digits: u32) -> String {
    let counter = (unix / 30) as u64;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 0x0f) as usize;
    let bin = (u32::from(h[o] & 0x7f) << 24)
        | (u32::from(h[o + 1]) << 16)
        | (u32::from(h[o + 2]) << 8)
        | u32::from(h[o + 3]);
    format!(
        "{:0width$}",
        bin % 10u32.pow(digits),
        width = digits as usize
    )
}
