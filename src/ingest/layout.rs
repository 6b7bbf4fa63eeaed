//! Where a file sits in the bundle says which server wrote it: admins copy each server's
//! `TransportRoles\Logs` folder under that server's name. This module reads that layout.

/// Folder names that are part of Exchange's own log layout, so never a server name.
const LAYOUT_DIRS: &[&str] = &[
    "transportroles",
    "logs",
    "messagetracking",
    "hub",
    "frontend",
    "mailbox",
    "protocollog",
    "smtpreceive",
    "smtpsend",
    "delivery",
    "submission",
    "program files",
    "microsoft",
    "exchange server",
    "exchange",
    "v14",
    "v15",
    "edge",
    "messagetrace",
    "powershell",
];

/// The server a file belongs to, from the bundle layout (`EX01/TransportRoles/Logs/...`): the
/// nearest enclosing folder that is not part of Exchange's own layout. A folder named after the
/// server's DNS name (`ex01.corp.example`, as a collection script may name it) stands for the
/// server by its short name, which is how Exchange names it in tracking rows, connector ids and
/// latency sections (`EX01`).
pub fn server_from_path(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split(['/', '!']).filter(|p| !p.is_empty()).collect();
    let dirs = &parts[..parts.len().saturating_sub(1)];
    dirs.iter().rev().find_map(|d| {
        let lower = d.to_ascii_lowercase();
        if LAYOUT_DIRS.contains(&lower.as_str()) || drive(d) {
            return None;
        }
        let name = d
            .strip_suffix(".zip")
            .or_else(|| d.strip_suffix(".ZIP"))
            .unwrap_or(d);
        let name = short_name(name);
        (!name.is_empty()).then(|| name.to_string())
    })
}

/// A drive or its administrative share (`C`, `D$`), as a copy from `\\EX01\C$\Program Files\...`
/// keeps it: part of the path to the logs, not a server.
fn drive(d: &str) -> bool {
    let b = d.as_bytes();
    matches!(b, [l] | [l, b'$'] if l.is_ascii_alphabetic())
}

/// `ex01.corp.example` → `ex01`: the first label of a name made of DNS labels (letters, digits,
/// hyphens); anything else (an IP address, `EX01 logs 16.11`) as it is.
fn short_name(name: &str) -> &str {
    let dns = name.contains('.')
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && name.parse::<std::net::IpAddr>().is_err();
    match name.split_once('.') {
        Some((first, _)) if dns => first,
        _ => name,
    }
}

/// The file name of a bundle path (`EX01/Logs/MSGTRK1.LOG` → `MSGTRK1.LOG`).
pub fn file_name(path: &str) -> &str {
    path.rsplit(['/', '!']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_from_layout() {
        assert_eq!(
            server_from_path("EX01/TransportRoles/Logs/MessageTracking/MSGTRK1.LOG").as_deref(),
            Some("EX01")
        );
        assert_eq!(
            server_from_path(
                "export/EX02/V15/TransportRoles/Logs/Hub/ProtocolLog/SmtpSend/SEND1.LOG"
            )
            .as_deref(),
            Some("EX02")
        );
        assert_eq!(
            server_from_path("EX03.zip!/Logs/MSGTRK1.LOG").as_deref(),
            Some("EX03")
        );
        // Named after the server's DNS name, by a script: the short name the rows use.
        assert_eq!(
            server_from_path("ex01.corp.example/TransportRoles/Logs/MSGTRK1.LOG").as_deref(),
            Some("ex01")
        );
        assert_eq!(
            server_from_path("EX03.corp.example.zip!/Logs/MSGTRK1.LOG").as_deref(),
            Some("EX03")
        );
        assert_eq!(
            server_from_path("EX01.2026-11-16/Logs/MSGTRK1.LOG").as_deref(),
            Some("EX01")
        );
        // A drive or an administrative share copied with the path: the folder above it.
        assert_eq!(
            server_from_path(
                "EX01/C$/Program Files/Microsoft/Exchange Server/V15/TransportRoles/Logs/MessageTracking/MSGTRK1.LOG"
            )
            .as_deref(),
            Some("EX01")
        );
        assert_eq!(
            server_from_path("EX02/D/Exchange/Logs/MSGTRK1.LOG").as_deref(),
            Some("EX02")
        );
        assert_eq!(server_from_path("C$/Program Files/Logs/MSGTRK1.LOG"), None);
        // Not DNS names: kept whole.
        for name in ["10.0.1.11", "EX01 logs 16.11", "EX01..old", "fe80::1"] {
            let path = format!("{name}/Logs/MSGTRK1.LOG");
            assert_eq!(server_from_path(&path).as_deref(), Some(name), "{name}");
        }
        assert_eq!(server_from_path("MSGTRK1.LOG"), None);
        assert_eq!(server_from_path("TransportRoles/Logs/MSGTRK1.LOG"), None);
        assert_eq!(file_name("a/b.zip!/c/MSGTRK1.LOG"), "MSGTRK1.LOG");
    }
}
