//! The canonical schema: the one shape every input format is mapped to, so that analysis never
//! needs to know whether a row came from a 2007 tracking log, a PowerShell export or an Exchange
//! Online trace. Everything about a column (its name, the header names of every format that map
//! onto it, its type and meaning) is written once, in the tables below; the `Field` enum, the
//! header mapping, the frame builders and the README's schema table all derive from them.

/// Declares the text fields once and derives everything else from that one list.
macro_rules! text_fields {
    ($( $variant:ident = $column:literal, [$($alias:literal),*], repeats: $repeats:literal,
        address: $address:literal, $meaning:literal; )*) => {
        /// Text fields of the canonical events frame, in column order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Field {
            $($variant),*
        }

        impl Field {
            /// Every text field, in column order.
            pub const ALL: [Field; [$($column),*].len()] = [$(Field::$variant),*];

            /// The column's name in the frames (and in Parquet exports).
            pub const fn column(self) -> &'static str {
                match self {
                    $(Field::$variant => $column),*
                }
            }

            /// Whether values repeat from row to row (a message's id, sender and subject on
            /// each of its rows), so that storing each once pays off.
            pub fn repeats(self) -> bool {
                match self {
                    $(Field::$variant => $repeats),*
                }
            }

            /// Addresses are compared case-insensitively by Exchange; we store them lower-cased.
            pub fn is_address(self) -> bool {
                match self {
                    $(Field::$variant => $address),*
                }
            }

            pub fn meaning(self) -> &'static str {
                match self {
                    $(Field::$variant => $meaning),*
                }
            }

            /// The field a format's header names (already reduced by [`header_key`]).
            fn from_key(key: &str) -> Option<Field> {
                match key {
                    $($($alias)|* => Some(Field::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

text_fields! {
    EventId = "event_id", ["eventid"], repeats: true, address: false,
        "RECEIVE, SEND, DELIVER, FAIL, DSN, DEFER, ... (unknown ids kept as they are)";
    Source = "source", ["source"], repeats: true, address: false,
        "SMTP, STOREDRIVER, DSN, MAILBOXRULE, AGENT, ...";
    MessageId = "message_id", ["messageid"], repeats: true, address: false,
        "RFC 5322 Message-ID: follows a message across servers";
    NetworkMessageId = "network_message_id", ["networkmessageid", "messagetraceid"], repeats: true,
        address: false, "GUID shared by all copies of a message (2013+; MessageTraceId online)";
    InternalMessageId = "internal_message_id", ["internalmessageid"], repeats: true, address: false,
        "per-server id: never join it across servers";
    Sender = "sender", ["senderaddress", "sender"], repeats: true, address: true,
        "sender address, lower-cased";
    ReturnPath = "return_path", ["returnpath"], repeats: true, address: true,
        "envelope sender, lower-cased; `<>` marks a notification";
    ClientIp = "client_ip", ["clientip", "fromip"], repeats: true, address: false,
        "connecting client (FromIP online)";
    ClientHostname = "client_hostname", ["clienthostname"], repeats: true, address: false,
        "for SMTP SEND/FAIL rows the server that logged the row";
    ServerIp = "server_ip", ["serverip", "toip"], repeats: true, address: false, "ToIP online";
    ServerHostname = "server_hostname", ["serverhostname"], repeats: true, address: false,
        "for SMTP RECEIVE and most other rows the server that logged the row";
    OriginalClientIp = "original_client_ip", ["originalclientip"], repeats: true, address: false,
        "the sender's own address where a front-end proxied the connection";
    OriginalServerIp = "original_server_ip", ["originalserverip"], repeats: true, address: false, "";
    ConnectorId = "connector_id", ["connectorid"], repeats: true, address: false,
        "receive or send connector";
    SourceContext = "source_context", ["sourcecontext"], repeats: true, address: false,
        "for SMTP RECEIVE: `SESSIONID;time;n`, the join key to protocol logs";
    Reference = "reference", ["reference"], repeats: true, address: false,
        "on DSN and auto-replies: the original message id; on SEND: DSN ids; on THROTTLE: `XLoopHeaderCount:n/m`";
    Subject = "subject", ["messagesubject", "subject"], repeats: true, address: false,
        "message subject (attacker-controlled: always escaped when shown)";
    RelatedRecipient = "related_recipient", ["relatedrecipientaddress"], repeats: true,
        address: true, "lower-cased; on EXPAND the list, on DSN the failed recipient";
    Directionality = "directionality", ["directionality"], repeats: true, address: false,
        "Incoming, Originating, Undefined";
    TenantId = "tenant_id", ["tenantid"], repeats: true, address: false, "";
    MessageInfo = "message_info", ["messageinfo"], repeats: false, address: false,
        "origination time and Exchange's own latency parts (`...;SRV=host:TOTAL-HUB=0.29 ...`)";
    CustomData = "custom_data", ["customdata", "eventdata"], repeats: true, address: false,
        "`S:key=value;...` (EventData in PowerShell exports)";
    TransportTrafficType = "transport_traffic_type", ["transporttraffictype"], repeats: true,
        address: false, "";
    LogId = "log_id", ["logid"], repeats: false, address: false, "";
    SchemaVersion = "schema_version", ["schemaversion"], repeats: true, address: false,
        "the Exchange build that wrote the row (`15.02.0986.041`)";
    MessageLatency = "message_latency", ["messagelatency"], repeats: true, address: false,
        "Exchange 2010 exports: latency as `hh:mm:ss.fffffff`";
    MessageLatencyType = "message_latency_type", ["messagelatencytype"], repeats: true,
        address: false, "Exchange 2010 exports: EndToEnd, LocalServer, ...";
}

/// Number of text fields.
pub const TEXT_FIELDS: usize = Field::ALL.len();

const _: () = assert!(TEXT_FIELDS <= 64, "Reads keeps the text fields in one u64");

/// The parts of a row a sink reads. Readers may leave the other parts unplaced, and the Parquet
/// reader does not read their columns, so a part a sink reads must be named here: one it does
/// not name reads as absent from every kind of input alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads {
    /// Bit `f as usize` for each text field read.
    fields: u64,
    /// The recipients and their statuses.
    pub lists: bool,
    /// The recipient count and the total bytes.
    pub counts: bool,
    /// The columns the schema does not know.
    pub extra: bool,
}

impl Reads {
    /// Every part: what builds the canonical frames.
    pub const ALL: Reads = Reads {
        fields: u64::MAX >> (64 - TEXT_FIELDS),
        lists: true,
        counts: true,
        extra: true,
    };

    /// No part: a sink that only counts rows.
    pub const NOTHING: Reads = Reads {
        fields: 0,
        lists: false,
        counts: false,
        extra: false,
    };

    /// These text fields, and no other part.
    pub const fn fields(fields: &[Field]) -> Reads {
        let mut bits = 0u64;
        let mut i = 0;
        while i < fields.len() {
            bits |= 1 << fields[i] as u32;
            i += 1;
        }
        Reads {
            fields: bits,
            ..Reads::NOTHING
        }
    }

    /// These parts and the recipients with their statuses.
    pub const fn with_lists(self) -> Reads {
        Reads {
            lists: true,
            ..self
        }
    }

    /// These parts and the recipient count and total bytes.
    pub const fn with_counts(self) -> Reads {
        Reads {
            counts: true,
            ..self
        }
    }

    pub fn has(self, f: Field) -> bool {
        self.fields & (1 << f as u32) != 0
    }

    /// The parts either reads.
    pub fn union(self, o: Reads) -> Reads {
        Reads {
            fields: self.fields | o.fields,
            lists: self.lists | o.lists,
            counts: self.counts | o.counts,
            extra: self.extra | o.extra,
        }
    }

    /// The text fields read, in column order.
    pub fn text_fields(self) -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(move |&f| self.has(f))
    }

    /// The events frame's columns that hold the parts read (besides the time, the server and
    /// the provenance, which every reader needs).
    pub fn columns(self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self.text_fields().map(Field::column).collect();
        if self.lists {
            out.extend([col::RECIPIENTS, col::RECIPIENT_STATUS]);
        }
        if self.counts {
            out.extend([col::RECIPIENT_COUNT, col::TOTAL_BYTES]);
        }
        if self.extra {
            out.push(col::EXTRA);
        }
        out
    }
}

/// Columns of the events frame that are not text fields, with the place they take.
pub mod col {
    pub const TIME: &str = "time";
    pub const SERVER: &str = "server";
    pub const LOG_KIND: &str = "log_kind";
    pub const RECIPIENTS: &str = "recipients";
    pub const RECIPIENT_STATUS: &str = "recipient_status";
    pub const STATUS_CODE: &str = "status_code";
    pub const RECIPIENT_COUNT: &str = "recipient_count";
    pub const TOTAL_BYTES: &str = "total_bytes";
    pub const EXTRA: &str = "extra";
    pub const ENTRY: &str = "entry";
    pub const LINE: &str = "line";
}

/// The columns before the text fields: (name, type, meaning).
const HEAD: [(&str, &str, &str); 3] = [
    (col::TIME, "datetime[ms, UTC]", "when the event was logged (PowerShell exports converted with --tz)"),
    (col::SERVER, "str", "server that logged the row: PSComputerName, else the bundle folder, else the row's own host (the local side of the hop)"),
    (col::LOG_KIND, "str", "message_tracking, powershell_csv or exo_trace"),
];

/// The columns after the text fields.
const TAIL: [(&str, &str, &str); 8] = [
    (
        col::RECIPIENTS,
        "list[str]",
        "recipient addresses, lower-cased, in log order",
    ),
    (
        col::RECIPIENT_STATUS,
        "list[str]",
        "status per recipient, aligned with `recipients` where the log aligns them",
    ),
    (
        col::STATUS_CODE,
        "list[str]",
        "enhanced status code (`5.2.2`) parsed from each status; empty where none",
    ),
    (col::RECIPIENT_COUNT, "u32", ""),
    (col::TOTAL_BYTES, "u64", ""),
    (
        col::EXTRA,
        "str",
        "columns the schema does not know, as tab-separated `name=value` (never dropped)",
    ),
    (
        col::ENTRY,
        "str",
        "provenance: path of the file inside the bundle",
    ),
    (
        col::LINE,
        "u32",
        "provenance: 1-based line number in that file",
    ),
];

/// Columns of the canonical events frame with their type and meaning, in order; the README's
/// table is this list.
pub fn events_schema() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut v: Vec<(&str, &str, &str)> = HEAD.to_vec();
    v.extend(Field::ALL.iter().map(|f| (f.column(), "str", f.meaning())));
    v.extend(TAIL);
    v
}

/// Columns of the protocol-log frame (one row per protocol log line).
pub const PROTOCOL_SCHEMA: &[(&str, &str, &str)] = &[
    ("time", "datetime[ms, UTC]", ""),
    (
        "server",
        "str",
        "bundle folder, else the connector's server part; a Send log outside server folders: the server whose receive lines use its local address, or a folder-less bundle's only server, else `unknown`",
    ),
    ("log_kind", "str", "smtp_receive or smtp_send"),
    ("connector_id", "str", ""),
    (
        "session_id",
        "str",
        "16 hex digits; RECEIVE rows' source_context starts with it",
    ),
    (
        "sequence_number",
        "u32",
        "not dense: real logs skip and repeat numbers",
    ),
    ("local_endpoint", "str", "ip:port"),
    ("remote_endpoint", "str", "ip:port"),
    (
        "event",
        "str",
        "`+` connect, `-` disconnect, `>` sent, `<` received, `*` information",
    ),
    ("data", "str", ""),
    ("context", "str", ""),
    ("extra", "str", "unknown columns as `name=value`"),
    ("entry", "str", "provenance"),
    ("line", "u32", "provenance"),
];

/// Columns of the sessions frame (one row per protocol-log session).
pub const SESSIONS_SCHEMA: &[(&str, &str, &str)] = &[
    ("server", "str", ""),
    ("log_kind", "str", "smtp_receive or smtp_send"),
    ("session_id", "str", ""),
    ("connector_id", "str", ""),
    ("local_endpoint", "str", ""),
    ("remote_endpoint", "str", ""),
    ("start", "datetime[ms, UTC]", ""),
    ("end", "datetime[ms, UTC]", ""),
    ("lines", "u32", ""),
    (
        "message_ids",
        "list[str]",
        "ids from `250 2.6.0 <id> ... Queued mail` replies: the link to tracking rows",
    ),
    (
        "entry",
        "str",
        "provenance: first file the session appears in",
    ),
];

/// A header name reduced to lower-case letters and digits, so that `client-ip`, `ClientIp`,
/// `client_ip` and `Client IP` compare equal.
pub fn header_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Where a source column lands in the canonical frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Time,
    Text(Field),
    Recipients,
    RecipientStatus,
    RecipientCount,
    TotalBytes,
    /// PowerShell over remoting names the server that answered; it beats the folder name.
    Server,
    /// Exchange Online's delivery status word (Delivered, Failed, ...), mapped to an event id.
    TraceStatus,
    /// Kept verbatim in the `extra` column as `name=value`.
    Extra,
}

impl Slot {
    /// Maps a header name from any supported format (`client-ip`, `ClientIp`, `client_ip`,
    /// `FromIP`, ...) to its slot. Unknown names are kept as extra columns, never dropped.
    pub fn from_header(name: &str) -> Slot {
        let key = header_key(name);
        match key.as_str() {
            "datetime" | "datetimeutc" | "timestamp" | "received" | "date" => Slot::Time,
            "recipientaddress" | "recipients" => Slot::Recipients,
            "recipientstatus" => Slot::RecipientStatus,
            "totalbytes" | "size" => Slot::TotalBytes,
            "recipientcount" => Slot::RecipientCount,
            "pscomputername" => Slot::Server,
            "status" => Slot::TraceStatus,
            k => Field::from_key(k).map_or(Slot::Extra, Slot::Text),
        }
    }
}

/// One row on its way into a sink: borrowed text, already split and unquoted.
pub struct Row<'a> {
    /// Milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    pub line: u32,
    /// The server that logged the row (decided by the reader: PSComputerName, the bundle folder,
    /// or the row's own host).
    pub server: &'a str,
    pub text: [Option<&'a str>; TEXT_FIELDS],
    pub recipients: Option<&'a str>,
    pub recipient_status: Option<&'a str>,
    pub recipient_count: Option<u32>,
    pub total_bytes: Option<u64>,
    /// `name=value` pairs of columns the schema does not know, tab-separated.
    pub extra: Option<&'a str>,
}

impl<'a> Row<'a> {
    pub fn new(time_ms: i64, line: u32) -> Row<'a> {
        Row {
            time_ms,
            line,
            server: "",
            text: [None; TEXT_FIELDS],
            recipients: None,
            recipient_status: None,
            recipient_count: None,
            total_bytes: None,
            extra: None,
        }
    }

    pub fn set(&mut self, f: Field, v: &'a str) {
        self.text[f as usize] = Some(v);
    }

    /// A field's value; empty values read as absent.
    pub fn get(&self, f: Field) -> Option<&'a str> {
        #[cfg(test)]
        FIELDS_ASKED.with(|a| a.set(a.get() | 1 << f as u32));
        self.text[f as usize].filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
thread_local! {
    /// The text fields [`Row::get`] was asked for on this thread (bit `f as usize`), so that a
    /// test can hold a sink to the parts it says it reads ([`Reads`]).
    pub static FIELDS_ASKED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
impl Reads {
    /// The text fields asked for on this thread since the last call.
    pub fn asked() -> Reads {
        Reads {
            fields: FIELDS_ASKED.with(|a| a.replace(0)),
            ..Reads::NOTHING
        }
    }

    /// Whether every text field of `self` is one of `other`'s.
    pub fn within(self, other: Reads) -> bool {
        self.fields & !other.fields == 0
    }
}

/// A file's columns resolved to slots once, so each row is placed without name look-ups.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub names: Vec<String>,
    pub slots: Vec<Slot>,
    pub time_col: Option<usize>,
    /// The PowerShell `PSComputerName` column, read before the row is placed.
    pub server_col: Option<usize>,
    /// The column each text field is read from (the last one naming it, as in [`Mapping::fill`]).
    text_col: [Option<usize>; TEXT_FIELDS],
    /// The columns the schema does not know, in order: most files have none, and their rows
    /// need no walk over every column for them.
    extra_cols: Vec<usize>,
    /// The recipient, status, count and bytes columns, in order, for [`Mapping::fill_reads`].
    part_cols: Vec<usize>,
    /// Whether a column holds Exchange Online's status word ([`Slot::TraceStatus`]).
    trace_status: bool,
}

impl Mapping {
    pub fn new<'n>(names: impl IntoIterator<Item = &'n str>) -> Mapping {
        let names: Vec<String> = names.into_iter().map(|n| n.trim().to_string()).collect();
        let slots: Vec<Slot> = names.iter().map(|n| Slot::from_header(n)).collect();
        let time_col = slots.iter().position(|s| *s == Slot::Time);
        let server_col = slots.iter().position(|s| *s == Slot::Server);
        let mut text_col = [None; TEXT_FIELDS];
        for (i, s) in slots.iter().enumerate() {
            if let Slot::Text(f) = *s {
                text_col[f as usize] = Some(i);
            }
        }
        let extra_cols = (0..slots.len())
            .filter(|&i| slots[i] == Slot::Extra)
            .collect();
        let part_cols = (0..slots.len())
            .filter(|&i| {
                matches!(
                    slots[i],
                    Slot::Recipients
                        | Slot::RecipientStatus
                        | Slot::RecipientCount
                        | Slot::TotalBytes
                )
            })
            .collect();
        let trace_status = slots.contains(&Slot::TraceStatus);
        Mapping {
            names,
            slots,
            time_col,
            server_col,
            text_col,
            extra_cols,
            part_cols,
            trace_status,
        }
    }

    /// Names of columns the schema does not know (kept in `extra`).
    pub fn unknown(&self) -> Vec<&str> {
        self.extra_cols
            .iter()
            .map(|&i| self.names[i].as_str())
            .collect()
    }

    pub fn has(&self, f: Field) -> bool {
        self.slots.contains(&Slot::Text(f))
    }

    /// The value of text field `f` in a row's values, whatever the run places.
    pub fn text_of<'a>(
        &self,
        values: &'a [std::borrow::Cow<'a, str>],
        f: Field,
    ) -> Option<&'a str> {
        self.text_col[f as usize]
            .and_then(|i| values.get(i))
            .map(|v| v.as_ref())
    }

    /// Writes the unknown columns of a row as `name=value` pairs; empty values are left out.
    pub fn extra_into(&self, values: &[std::borrow::Cow<'_, str>], buf: &mut String) {
        buf.clear();
        for &i in &self.extra_cols {
            let (Some(name), Some(v)) = (self.names.get(i), values.get(i)) else {
                continue;
            };
            if !v.is_empty() {
                if !buf.is_empty() {
                    buf.push('\t');
                }
                buf.push_str(name);
                buf.push('=');
                buf.push_str(v);
            }
        }
    }

    /// Places the parts `reads` names into `row` as [`Mapping::fill`] would (it may place
    /// more); the unknown columns are not placed (see [`Mapping::extra_into`]).
    pub fn fill_reads<'a>(
        &self,
        values: &'a [std::borrow::Cow<'a, str>],
        row: &mut Row<'a>,
        reads: Reads,
    ) {
        // A status word stands in for a missing event id, depending on column order; a row
        // shorter than its header takes a field named twice from the first column that has a
        // value: those rare rows take the full placement.
        if reads.fields == Reads::ALL.fields || values.len() < self.slots.len() || self.trace_status
        {
            return self.fill(values, row);
        }
        let mut bits = reads.fields;
        while bits != 0 {
            let f = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if let Some(v) = self.text_col[f].and_then(|i| values.get(i)) {
                row.text[f] = Some(v.as_ref());
            }
        }
        if !(reads.lists || reads.counts) {
            return;
        }
        for &i in &self.part_cols {
            let (Some(v), slot) = (values.get(i), self.slots[i]) else {
                break;
            };
            let wanted = match slot {
                Slot::Recipients | Slot::RecipientStatus => reads.lists,
                _ => reads.counts,
            };
            if wanted {
                place(slot, v.as_ref(), row);
            }
        }
    }

    /// Places a row's values (all but the time and the server) into `row`.
    pub fn fill<'a>(&self, values: &'a [std::borrow::Cow<'a, str>], row: &mut Row<'a>) {
        for (slot, v) in self.slots.iter().zip(values) {
            place(*slot, v.as_ref(), row);
        }
    }
}

/// Places one value by its slot: the one rule [`Mapping::fill`] and [`Mapping::fill_reads`]
/// share.
fn place<'a>(slot: Slot, v: &'a str, row: &mut Row<'a>) {
    match slot {
        Slot::Text(f) => row.set(f, v),
        Slot::Recipients => row.recipients = Some(v),
        Slot::RecipientStatus => row.recipient_status = Some(v),
        Slot::RecipientCount => row.recipient_count = super::fields::trim(v).parse().ok(),
        Slot::TotalBytes => row.total_bytes = super::fields::trim(v).parse().ok(),
        Slot::TraceStatus => {
            row.recipient_status = Some(v);
            if row.get(Field::EventId).is_none() {
                row.set(Field::EventId, trace_status_event(v));
            }
        }
        Slot::Time | Slot::Server | Slot::Extra => {}
    }
}

/// Exchange Online's per-message status words mapped onto tracking event ids, so online traces
/// and on-premises logs count alike.
pub fn trace_status_event(status: &str) -> &'static str {
    match status.trim().to_ascii_lowercase().as_str() {
        "delivered" => "DELIVER",
        "failed" => "FAIL",
        "pending" | "gettingstatus" => "DEFER",
        "expanded" => "EXPAND",
        "quarantined" => "QUARANTINE",
        "filteredasspam" => "FILTEREDASSPAM",
        "received" => "RECEIVE",
        "resolved" => "RESOLVE",
        "none" | "" => "UNKNOWN",
        _ => "OTHER",
    }
}

/// The server that logged a row of a file that does not say so itself (no server folder, no
/// PSComputerName): the local side of the hop. SMTP RECEIVE rows are logged by the receiving
/// server (server-hostname), SMTP SEND and FAIL rows by the sending one (client-hostname); other
/// rows carry the logging server as server-hostname, or as client-hostname where that is all
/// they have. Host names are cut to their first label.
pub fn row_host<'a>(row: &Row<'a>) -> Option<&'a str> {
    let get = |f| row.get(f);
    let (own, other) = hop_sides(get);
    get(own)
        .or(get(other))
        .map(short_host)
        .filter(|h| !h.is_empty())
}

/// The host fields of a row's hop: (the side that logged it, the other side). SMTP SEND,
/// SENDEXTERNAL and FAIL rows are logged by the sending server (client-hostname); every other
/// row by the server-hostname. `get` reads a field of the row.
pub fn hop_sides<'a>(get: impl Fn(Field) -> Option<&'a str>) -> (Field, Field) {
    let smtp = get(Field::Source).is_some_and(|s| s.eq_ignore_ascii_case("SMTP"));
    let sent = matches!(
        get(Field::EventId).unwrap_or(""),
        "SEND" | "SENDEXTERNAL" | "FAIL"
    );
    if smtp && sent {
        (Field::ClientHostname, Field::ServerHostname)
    } else {
        (Field::ServerHostname, Field::ClientHostname)
    }
}

/// `EX01.corp.example` → `EX01`; IP addresses are kept whole.
pub fn short_host(h: &str) -> &str {
    let h = super::fields::trim(h);
    // Only hex digits, dots and colons can make an address: names are told apart without
    // running the address parser on every row.
    let may_be_ip = h
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':');
    if may_be_ip && h.parse::<std::net::IpAddr>().is_ok() {
        return h;
    }
    super::fields::split_ascii(h, b'.').next().unwrap_or(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn placing_some_fields_agrees_with_placing_all() {
        let layouts: [&[&str]; 5] = [
            &[
                "date-time",
                "event-id",
                "source",
                "client-hostname",
                "server-hostname",
                "schema-version",
            ],
            // The same field twice: the last column wins in both.
            &[
                "event-id",
                "server-hostname",
                "x-other",
                "server-hostname",
                "source",
            ],
            // A status word stands in for an empty event id, depending on the column order.
            &["event-id", "status", "client-hostname"],
            &["status", "event-id", "client-hostname"],
            // Lists and counts, one of them twice, and a row shorter than its header.
            &[
                "recipient-address",
                "event-id",
                "recipient-count",
                "recipient-status",
                "total-bytes",
                "recipient-address",
            ],
        ];
        let rows: [&[&str]; 5] = [
            &["", "Delivered", "", "", "", ""],
            &[
                "2026-11-16T11:08:57.415Z",
                "SEND",
                "SMTP",
                "ex01.corp",
                "ex02.corp",
                "15.2.1118.7",
            ],
            &["", "", "", "", "", ""],
            &["x", "Delivered", "Failed", "h", "", "y"],
            &["a@x", "DELIVER", " 2 ", "250 2.1.5 OK", "1234", "b@x;c@x"],
        ];
        let wanted = [
            Field::EventId,
            Field::Source,
            Field::ClientHostname,
            Field::ServerHostname,
            Field::SchemaVersion,
        ];
        let some = Reads::fields(&wanted);
        let reads = [
            some,
            Reads {
                lists: true,
                ..some
            },
            Reads {
                counts: true,
                ..some
            },
            Reads::fields(&[Field::Subject]),
        ];
        for names in layouts {
            let m = Mapping::new(names.iter().copied());
            for vals in rows {
                for n in [names.len(), names.len() - 2] {
                    let vals: Vec<Cow<'_, str>> =
                        vals[..n].iter().map(|v| Cow::Borrowed(*v)).collect();
                    let mut all = Row::new(0, 1);
                    m.fill(&vals, &mut all);
                    for r in reads {
                        let mut got = Row::new(0, 1);
                        m.fill_reads(&vals, &mut got, r);
                        let at = format!("{r:?} of {vals:?} under {names:?}");
                        for f in r.text_fields() {
                            assert_eq!(got.get(f), all.get(f), "{f:?}: {at}");
                        }
                        if r.lists {
                            assert_eq!(got.recipients, all.recipients, "{at}");
                            assert_eq!(got.recipient_status, all.recipient_status, "{at}");
                        }
                        if r.counts {
                            assert_eq!(got.recipient_count, all.recipient_count, "{at}");
                            assert_eq!(got.total_bytes, all.total_bytes, "{at}");
                        }
                    }
                }
            }
        }
        // What the sample checks above can see: the last recipient column, the count parsed.
        let m = Mapping::new(layouts[4].iter().copied());
        let vals: Vec<Cow<'_, str>> = rows[4].iter().map(|v| Cow::Borrowed(*v)).collect();
        let mut got = Row::new(0, 1);
        m.fill_reads(
            &vals,
            &mut got,
            Reads {
                lists: true,
                counts: true,
                ..some
            },
        );
        assert_eq!(got.recipients, Some("b@x;c@x"));
        assert_eq!(got.recipient_count, Some(2));
        assert_eq!(got.total_bytes, Some(1234));
        assert_eq!(got.get(Field::EventId), Some("DELIVER"));
        assert_eq!(got.get(Field::Subject), None);
    }

    #[test]
    fn reads_name_their_columns() {
        assert_eq!(Reads::ALL.text_fields().count(), TEXT_FIELDS);
        assert_eq!(Reads::NOTHING.columns(), Vec::<&str>::new());
        let r = Reads::fields(&[Field::Subject, Field::EventId]).union(Reads {
            lists: true,
            ..Reads::NOTHING
        });
        assert_eq!(
            r.columns(),
            [
                "event_id",
                "subject",
                col::RECIPIENTS,
                col::RECIPIENT_STATUS
            ]
        );
        assert!(r.has(Field::Subject) && !r.has(Field::Sender));
    }

    #[test]
    fn one_table_drives_fields_slots_and_schema() {
        assert_eq!(Field::ALL.len(), TEXT_FIELDS);
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i, "enum order is column order");
        }
        assert_eq!(Slot::from_header("client-ip"), Slot::Text(Field::ClientIp));
        assert_eq!(Slot::from_header("ClientIp"), Slot::Text(Field::ClientIp));
        assert_eq!(Slot::from_header("FromIP"), Slot::Text(Field::ClientIp));
        assert_eq!(Slot::from_header("client_ip"), Slot::Text(Field::ClientIp));
        assert_eq!(
            Slot::from_header("EventData"),
            Slot::Text(Field::CustomData)
        );
        assert_eq!(
            Slot::from_header("MessageLatency"),
            Slot::Text(Field::MessageLatency)
        );
        assert_eq!(Slot::from_header("date_time_utc"), Slot::Time);
        assert_eq!(Slot::from_header("x-new-column"), Slot::Extra);
        let schema = events_schema();
        assert_eq!(schema.len(), 3 + TEXT_FIELDS + 8);
        assert_eq!(schema[3].0, "event_id");
        let mut names: Vec<&str> = schema.iter().map(|c| c.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), schema.len(), "column names are unique");
    }

    #[test]
    fn the_local_side_of_the_hop_logged_the_row() {
        let mut r = Row::new(0, 1);
        r.set(Field::EventId, "RECEIVE");
        r.set(Field::Source, "SMTP");
        r.set(Field::ClientHostname, "1mail-exch01.test.com");
        r.set(Field::ServerHostname, "1mail-edge01");
        assert_eq!(row_host(&r), Some("1mail-edge01"));
        r.set(Field::EventId, "SEND");
        r.set(Field::ClientHostname, "1mail-exch01");
        r.set(Field::ServerHostname, "1mail-edge01.test.com");
        assert_eq!(row_host(&r), Some("1mail-exch01"));
        let mut a = Row::new(0, 1);
        a.set(Field::EventId, "AGENTINFO");
        a.set(Field::ClientHostname, "1mail-exch01");
        assert_eq!(row_host(&a), Some("1mail-exch01"));
        assert_eq!(short_host("10.0.0.1"), "10.0.0.1");
        assert_eq!(short_host(" fe80::1:abcd "), "fe80::1:abcd");
        assert_eq!(short_host("::ffff:10.0.0.1"), "::ffff:10.0.0.1");
        assert_eq!(short_host("cafe.bad.example"), "cafe");
        assert_eq!(
            short_host("10.0.0"),
            "10",
            "not an address: a name cut at its dot"
        );
        assert_eq!(short_host("EX01.corp.example"), "EX01");
    }
}
