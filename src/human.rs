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

/// Epoch milliseconds as RFC 3339 UTC with milliseconds, as every output of the tool shows time.
pub fn rfc3339(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

/// `n` and the noun, singular or plural: `1 message`, `2 messages`, `1,234 replies`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `a`, `a and b`, `a, b and c`.
pub fn join_and(v: &[String]) -> String {
    match v.len() {
        0 => String::new(),
        1 => v[0].clone(),
        _ => format!("{} and {}", v[..v.len() - 1].join(", "), v[v.len() - 1]),
    }
}

/// A duration in words: `45 s`, `12 min`, `3.5 h`, `2.0 days`.
pub fn span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s < 120 {
        format!("{s} s")
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else if s < 3 * 86400 {
        format!("{:.1} h", s as f64 / 3600.0)
    } else {
        format!("{:.1} days", s as f64 / 86400.0)
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
        assert_eq!(rfc3339(1663599749339), "2022-09-19T15:02:29.339Z");
        assert_eq!(count(1, "message", "messages"), "1 message");
        assert_eq!(count(1200, "reply", "replies"), "1,200 replies");
        assert_eq!(
            join_and(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
        assert_eq!(span(90_000), "90 s");
        assert_eq!(span(3 * 3_600_000 + 1_800_000), "3.5 h");
    }
}
