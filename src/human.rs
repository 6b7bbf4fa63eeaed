//! Numbers and times as people read them, in one place for the terminal, the summary sentences
//! and the report's Tera filters alike.

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// [`thousands`] for signed values.
pub fn thousands_signed(n: i64) -> String {
    if n < 0 {
        format!("-{}", thousands(n.unsigned_abs()))
    } else {
        thousands(n as u64)
    }
}

/// Milliseconds as seconds: two decimals under ten seconds, whole seconds above; `n/a` for none.
pub fn secs(ms: Option<i64>) -> String {
    match ms {
        None => "n/a".into(),
        Some(ms) if ms < 10_000 => format!("{:.2} s", ms as f64 / 1000.0),
        Some(ms) => format!("{:.0} s", ms as f64 / 1000.0),
    }
}

/// An RFC 3339 time cut to the minute, `2026-11-16T09:12:03.000Z` → `2026-11-16 09:12`.
pub fn minute(t: &str) -> String {
    t.get(..16).unwrap_or(t).replacen('T', " ", 1)
}

/// An RFC 3339 time cut to the second, `2026-11-16 09:12:03`.
pub fn second(t: &str) -> String {
    t.get(..19).unwrap_or(t).replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands_signed(-1234), "-1,234");
        assert_eq!(secs(Some(150)), "0.15 s");
        assert_eq!(secs(Some(1_980_000)), "1980 s");
        assert_eq!(secs(None), "n/a");
        assert_eq!(minute("2026-11-16T09:12:03.000Z"), "2026-11-16 09:12");
        assert_eq!(second("2026-11-16T09:12:03.000Z"), "2026-11-16 09:12:03");
    }
}
