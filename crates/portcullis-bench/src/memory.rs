//! This process's resident memory, from /proc (Linux).

/// A field of /proc/self/status in KiB (`VmRSS:`, `VmHWM:`).
pub(crate) fn kib(field: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets the peak (VmHWM) to the current RSS, so a later peak belongs to what ran after.
pub(crate) fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
