//! Exchange build numbers in words. A row's `schema-version` (`15.02.0986.041`) or a file's
//! `#Version` names the build that wrote it; admins know their servers by product and cumulative
//! update ("Exchange 2019 CU11"), so the inventory says both.

/// Cumulative updates by build: (major.minor, build, name). From Microsoft's published build
/// number tables; builds between two entries are security updates of the lower one.
const CUS: &[(&str, u32, &str)] = &[
    ("15.00", 620, "2013 CU1"),
    ("15.00", 712, "2013 CU2"),
    ("15.00", 775, "2013 CU3"),
    ("15.00", 847, "2013 SP1"),
    ("15.00", 913, "2013 CU5"),
    ("15.00", 995, "2013 CU6"),
    ("15.00", 1044, "2013 CU7"),
    ("15.00", 1076, "2013 CU8"),
    ("15.00", 1104, "2013 CU9"),
    ("15.00", 1130, "2013 CU10"),
    ("15.00", 1156, "2013 CU11"),
    ("15.00", 1178, "2013 CU12"),
    ("15.00", 1210, "2013 CU13"),
    ("15.00", 1236, "2013 CU14"),
    ("15.00", 1263, "2013 CU15"),
    ("15.00", 1293, "2013 CU16"),
    ("15.00", 1320, "2013 CU17"),
    ("15.00", 1347, "2013 CU18"),
    ("15.00", 1365, "2013 CU19"),
    ("15.00", 1367, "2013 CU20"),
    ("15.00", 1395, "2013 CU21"),
    ("15.00", 1473, "2013 CU22"),
    ("15.00", 1497, "2013 CU23"),
    ("15.01", 225, "2016 RTM"),
    ("15.01", 396, "2016 CU1"),
    ("15.01", 466, "2016 CU2"),
    ("15.01", 544, "2016 CU3"),
    ("15.01", 669, "2016 CU4"),
    ("15.01", 845, "2016 CU5"),
    ("15.01", 1034, "2016 CU6"),
    ("15.01", 1261, "2016 CU7"),
    ("15.01", 1415, "2016 CU8"),
    ("15.01", 1466, "2016 CU9"),
    ("15.01", 1531, "2016 CU10"),
    ("15.01", 1591, "2016 CU11"),
    ("15.01", 1713, "2016 CU12"),
    ("15.01", 1779, "2016 CU13"),
    ("15.01", 1847, "2016 CU14"),
    ("15.01", 1913, "2016 CU15"),
    ("15.01", 1979, "2016 CU16"),
    ("15.01", 2044, "2016 CU17"),
    ("15.01", 2106, "2016 CU18"),
    ("15.01", 2176, "2016 CU19"),
    ("15.01", 2242, "2016 CU20"),
    ("15.01", 2308, "2016 CU21"),
    ("15.01", 2375, "2016 CU22"),
    ("15.01", 2507, "2016 CU23"),
    ("15.02", 221, "2019 RTM"),
    ("15.02", 330, "2019 CU1"),
    ("15.02", 397, "2019 CU2"),
    ("15.02", 464, "2019 CU3"),
    ("15.02", 529, "2019 CU4"),
    ("15.02", 595, "2019 CU5"),
    ("15.02", 659, "2019 CU6"),
    ("15.02", 721, "2019 CU7"),
    ("15.02", 792, "2019 CU8"),
    ("15.02", 858, "2019 CU9"),
    ("15.02", 922, "2019 CU10"),
    ("15.02", 986, "2019 CU11"),
    ("15.02", 1118, "2019 CU12"),
    ("15.02", 1258, "2019 CU13"),
    ("15.02", 1544, "2019 CU14"),
    ("15.02", 1748, "2019 CU15"),
];

/// `15.02.0986.041` → `Exchange 2019 CU11`; `14.03.0123.004` → `Exchange 2010`; `None` when the
/// text is not an Exchange build.
pub fn product(build: &str) -> Option<String> {
    let mut parts = build.trim().split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    let b: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    match major {
        8 => Some("Exchange 2007".into()),
        14 => Some("Exchange 2010".into()),
        15 if minor <= 2 => {
            let key = format!("15.{minor:02}");
            let cu = CUS
                .iter()
                .filter(|(k, first, _)| *k == key && *first <= b)
                .map(|(_, _, n)| *n)
                .next_back();
            let year = ["2013", "2016", "2019"][minor as usize];
            Some(match cu {
                Some(n) => format!("Exchange {n}"),
                None => format!("Exchange {year}"),
            })
        }
        15 => Some("Exchange Server SE or later".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::product;

    #[test]
    fn builds_in_words() {
        assert_eq!(
            product("15.02.0986.041").as_deref(),
            Some("Exchange 2019 CU11")
        );
        assert_eq!(
            product("15.01.2507.023").as_deref(),
            Some("Exchange 2016 CU23")
        );
        assert_eq!(
            product("15.01.2375.007").as_deref(),
            Some("Exchange 2016 CU22")
        );
        assert_eq!(
            product("15.00.1104.000").as_deref(),
            Some("Exchange 2013 CU9")
        );
        assert_eq!(product("14.03.0123.004").as_deref(), Some("Exchange 2010"));
        assert_eq!(product("15.0.0.0").as_deref(), Some("Exchange 2013"));
        assert_eq!(product("Export-Csv"), None);
    }
}
