//! The canonical schema: the one shape every input format is mapped to, so that analysis never
//! needs to know whether a row came from a 2007 tracking log, a PowerShell export or an Exchange
//! Online trace. The README's schema table is written from the doc comments here.

use polars::prelude::*;

/// Text fields of the canonical events frame, in column order. Every format's own column names
/// map onto these through [`Field::from_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Field {
    EventId,
    Source,
    MessageId,
    NetworkMessageId,
    InternalMessageId,
    Sender,
    ReturnPath,
    ClientIp,
    ClientHostname,
    ServerIp,
    ServerHostname,
    OriginalClientIp,
    OriginalServerIp,
    ConnectorId,
    SourceContext,
    Reference,
    Subject,
    RelatedRecipient,
    Directionality,
    TenantId,
    MessageInfo,
    CustomData,
    TransportTrafficType,
    LogId,
    SchemaVersion,
}

pub const TEXT_FIELDS: [Field; 25] = [
    Field::EventId,
    Field::Source,
    Field::MessageId,
    Field::NetworkMessageId,
    Field::InternalMessageId,
    Field::Sender,
    Field::ReturnPath,
    Field::ClientIp,
    Field::ClientHostname,
    Field::ServerIp,
    Field::ServerHostname,
    Field::OriginalClientIp,
    Field::OriginalServerIp,
    Field::ConnectorId,
    Field::SourceContext,
    Field::Reference,
    Field::Subject,
    Field::RelatedRecipient,
    Field::Directionality,
    Field::TenantId,
    Field::MessageInfo,
    Field::CustomData,
    Field::TransportTrafficType,
    Field::LogId,
    Field::SchemaVersion,
];

impl Field {
    pub fn column(self) -> &'static str {
        match self {
            Field::EventId => "event_id",
            Field::Source => "source",
            Field::MessageId => "message_id",
            Field::NetworkMessageId => "network_message_id",
            Field::InternalMessageId => "internal_message_id",
            Field::Sender => "sender",
            Field::ReturnPath => "return_path",
            Field::ClientIp => "client_ip",
            Field::ClientHostname => "client_hostname",
            Field::ServerIp => "server_ip",
            Field::ServerHostname => "server_hostname",
            Field::OriginalClientIp => "original_client_ip",
            Field::OriginalServerIp => "original_server_ip",
            Field::ConnectorId => "connector_id",
            Field::SourceContext => "source_context",
            Field::Reference => "reference",
            Field::Subject => "subject",
            Field::RelatedRecipient => "related_recipient",
            Field::Directionality => "directionality",
            Field::TenantId => "tenant_id",
            Field::MessageInfo => "message_info",
            Field::CustomData => "custom_data",
            Field::TransportTrafficType => "transport_traffic_type",
            Field::LogId => "log_id",
            Field::SchemaVersion => "schema_version",
        }
    }

    /// Whether values repeat from row to row (a message's id, sender and subject on each of its
    /// rows; a handful of connectors and custom-data strings), so storing each once pays off.
    pub fn repeats(self) -> bool {
        !matches!(self, Field::MessageInfo | Field::LogId)
    }

    /// Addresses are compared case-insensitively by Exchange; we store them lower-cased.
    pub fn is_address(self) -> bool {
        matches!(
            self,
            Field::Sender | Field::ReturnPath | Field::RelatedRecipient
        )
    }
}

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
        use crate::ingest::schema::Field::*;
        match key.as_str() {
            "datetime" | "datetimeutc" | "timestamp" | "received" | "date" => Slot::Time,
            "clientip" | "fromip" => Slot::Text(ClientIp),
            "clienthostname" => Slot::Text(ClientHostname),
            "serverip" | "toip" => Slot::Text(ServerIp),
            "serverhostname" => Slot::Text(ServerHostname),
            "sourcecontext" => Slot::Text(SourceContext),
            "connectorid" => Slot::Text(ConnectorId),
            "source" => Slot::Text(Source),
            "eventid" => Slot::Text(EventId),
            "internalmessageid" => Slot::Text(InternalMessageId),
            "messageid" => Slot::Text(MessageId),
            "networkmessageid" | "messagetraceid" => Slot::Text(NetworkMessageId),
            "recipientaddress" | "recipients" => Slot::Recipients,
            "recipientstatus" => Slot::RecipientStatus,
            "totalbytes" | "size" => Slot::TotalBytes,
            "recipientcount" => Slot::RecipientCount,
            "relatedrecipientaddress" => Slot::Text(RelatedRecipient),
            "reference" => Slot::Text(Reference),
            "messagesubject" | "subject" => Slot::Text(Subject),
            "senderaddress" | "sender" => Slot::Text(Sender),
            "returnpath" => Slot::Text(ReturnPath),
            "messageinfo" => Slot::Text(MessageInfo),
            "directionality" => Slot::Text(Directionality),
            "tenantid" => Slot::Text(TenantId),
            "originalclientip" => Slot::Text(OriginalClientIp),
            "originalserverip" => Slot::Text(OriginalServerIp),
            "customdata" | "eventdata" => Slot::Text(CustomData),
            "transporttraffictype" => Slot::Text(TransportTrafficType),
            "logid" => Slot::Text(LogId),
            "schemaversion" => Slot::Text(SchemaVersion),
            "pscomputername" => Slot::Server,
            "status" => Slot::TraceStatus,
            _ => Slot::Extra,
        }
    }
}

/// One row on its way into the frame: borrowed text, already split and unquoted.
pub struct Row<'a> {
    /// Milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    pub line: u32,
    pub server: Option<&'a str>,
    pub text: [Option<&'a str>; TEXT_FIELDS.len()],
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
            server: None,
            text: [None; TEXT_FIELDS.len()],
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

    pub fn get(&self, f: Field) -> Option<&'a str> {
        self.text[f as usize]
    }
}

/// Where parsed rows go. Inventory-only runs count; full runs build the frame. Both see exactly
/// the same rows, so `inspect` and `report` never disagree on counts.
pub trait RowSink {
    fn push(&mut self, row: &Row<'_>);
}

/// Counts rows and keeps the time range.
#[derive(Default)]
pub struct CountSink {
    pub rows: u64,
}

impl RowSink for CountSink {
    fn push(&mut self, _row: &Row<'_>) {
        self.rows += 1;
    }
}

/// Builds one chunk of the canonical events frame.
pub struct EventsBuilder {
    server: String,
    log_kind: &'static str,
    entry: String,
    time: Vec<i64>,
    line: Vec<u32>,
    /// Per-row server where the row names one (PowerShell over remoting); index into `names`.
    row_servers: Vec<Option<u32>>,
    server_names: Vec<String>,
    text: Vec<DedupStrings>,
    recipients: DedupList,
    statuses: DedupList,
    codes: DedupList,
    recipient_count: Vec<Option<u32>>,
    total_bytes: Vec<Option<u64>>,
    extra: StringChunkedBuilder,
    lower: String,
    split_buf: Vec<(usize, usize)>,
}

impl EventsBuilder {
    pub fn new(server: &str, log_kind: &'static str, entry: &str, capacity: usize) -> Self {
        EventsBuilder {
            server: server.to_string(),
            log_kind,
            entry: entry.to_string(),
            time: Vec::with_capacity(capacity),
            line: Vec::with_capacity(capacity),
            row_servers: Vec::new(),
            server_names: Vec::new(),
            text: TEXT_FIELDS
                .iter()
                .map(|f| DedupStrings::new(f.column(), capacity, f.repeats()))
                .collect(),
            recipients: DedupList::new("recipients", capacity),
            statuses: DedupList::new("recipient_status", capacity),
            codes: DedupList::new("status_code", capacity),
            recipient_count: Vec::with_capacity(capacity),
            total_bytes: Vec::with_capacity(capacity),
            extra: StringChunkedBuilder::new("extra".into(), capacity),
            lower: String::new(),
            split_buf: Vec::new(),
        }
    }

    /// The server for rows that do not name one, when it is only known after reading.
    pub fn set_default_server(&mut self, server: &str) {
        self.server = server.to_string();
    }

    pub fn finish(self) -> PolarsResult<DataFrame> {
        let n = self.time.len();
        let mut cols: Vec<Column> = Vec::with_capacity(40);
        cols.push(
            Int64Chunked::from_vec("time".into(), self.time)
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_column(),
        );
        if self.row_servers.iter().all(Option::is_none) {
            cols.push(constant("server", &self.server, n));
        } else {
            let names = &self.server_names;
            let default = self.server.as_str();
            let mut b = StringChunkedBuilder::new("server".into(), n);
            for i in 0..n {
                match self.row_servers.get(i).copied().flatten() {
                    Some(k) => b.append_value(&names[k as usize]),
                    None => b.append_value(default),
                }
            }
            cols.push(b.finish().into_column());
        }
        cols.push(constant("log_kind", self.log_kind, n));
        for b in self.text {
            cols.push(b.finish());
        }
        cols.push(self.recipients.finish()?);
        cols.push(self.statuses.finish()?);
        cols.push(self.codes.finish()?);
        cols.push(
            UInt32Chunked::from_iter_options(
                "recipient_count".into(),
                self.recipient_count.into_iter(),
            )
            .into_column(),
        );
        cols.push(
            UInt64Chunked::from_iter_options("total_bytes".into(), self.total_bytes.into_iter())
                .into_column(),
        );
        cols.push(self.extra.finish().into_column());
        cols.push(constant("entry", &self.entry, n));
        cols.push(UInt32Chunked::from_vec("line".into(), self.line).into_column());
        DataFrame::new(n, cols)
    }
}

impl RowSink for EventsBuilder {
    fn push(&mut self, row: &Row<'_>) {
        self.time.push(row.time_ms);
        self.line.push(row.line);
        if let Some(s) = row.server {
            let k = match self.server_names.iter().position(|n| n == s) {
                Some(k) => k,
                None => {
                    self.server_names.push(s.to_string());
                    self.server_names.len() - 1
                }
            };
            self.row_servers.resize(self.time.len() - 1, None);
            self.row_servers.push(Some(k as u32));
        }
        for (i, f) in TEXT_FIELDS.iter().enumerate() {
            match row.text[i].filter(|v| !v.is_empty()) {
                Some(v) if f.is_address() => self.text[i].push(lower(v, &mut self.lower)),
                Some(v) => self.text[i].push(v),
                None => self.text[i].push_null(),
            }
        }
        let rcpts = lower(row.recipients.unwrap_or(""), &mut self.lower);
        let parts = rcpts.split(';').map(str::trim).filter(|s| !s.is_empty());
        let n_rcpt = parts.clone().count();
        self.recipients.push_list(parts);
        let status = row.recipient_status.unwrap_or("");
        super::fields::split_statuses(status, n_rcpt, &mut self.split_buf);
        let parts = self.split_buf.iter().map(|&(a, b)| status[a..b].trim());
        self.statuses.push_list(parts.clone());
        // An empty code keeps the list aligned with the recipients; it means "no x.y.z in it".
        self.codes
            .push_list(parts.map(|s| super::fields::enhanced_code(s).unwrap_or("")));
        self.recipient_count.push(row.recipient_count);
        self.total_bytes.push(row.total_bytes);
        self.extra.append_option(row.extra);
    }
}

/// A text column builder that stores each distinct value of more than 12 bytes once per chunk
/// and points later rows at it (the view layout allows any number of views on the same bytes).
/// A message's id, sender, subject and custom data repeat on each of its rows; storing them once
/// cut the frame of the benchmark bundle by a fifth.
pub struct DedupStrings {
    name: &'static str,
    arr: polars_arrow::array::MutableBinaryViewArray<str>,
    /// Hash of a value → the view of its first occurrence (checked byte for byte on a hit).
    seen: Option<PlHashMap<u64, polars_arrow::array::View>>,
    hasher: PlRandomState,
}

/// Distinct values remembered per column and chunk before the cache starts over.
const DEDUP_CAPACITY: usize = 1 << 16;

impl DedupStrings {
    pub fn new(name: &'static str, capacity: usize, dedupe: bool) -> Self {
        DedupStrings {
            name,
            arr: polars_arrow::array::MutableBinaryViewArray::with_capacity(capacity),
            seen: dedupe.then(PlHashMap::default),
            hasher: PlRandomState::default(),
        }
    }

    pub fn push_null(&mut self) {
        self.arr.push_null();
    }

    pub fn push(&mut self, v: &str) {
        let Some(seen) = self.seen.as_mut().filter(|_| v.len() > 12) else {
            self.arr.push_value(v);
            return;
        };
        let h = std::hash::BuildHasher::hash_one(&self.hasher, v);
        if let Some(&view) = seen.get(&h) {
            // SAFETY: `view` was made by this array, so it points into the array's buffers.
            if unsafe { self.arr.value_from_view_unchecked(&view) } == v {
                let total = self.arr.total_bytes_len() + v.len();
                // SAFETY: pushing a view of bytes the array already holds keeps views and buffers
                // consistent, and the byte total is kept equal to the sum of the view lengths.
                unsafe {
                    self.arr.views_mut().push(view);
                    self.arr.set_total_bytes_len(total);
                }
                if let Some(validity) = self.arr.validity() {
                    validity.push(true);
                }
                return;
            }
        }
        self.arr.push_value(v);
        if seen.len() >= DEDUP_CAPACITY {
            seen.clear();
        }
        if let Some(&view) = self.arr.views().last() {
            seen.entry(h).or_insert(view);
        }
    }

    pub fn finish(self) -> Column {
        StringChunked::with_chunk(self.name.into(), self.arr.freeze()).into_column()
    }
}

/// A `list[str]` column whose values go through [`DedupStrings`] (statuses and addresses repeat
/// from row to row like the other text).
pub struct DedupList {
    name: &'static str,
    offsets: Vec<i64>,
    values: DedupStrings,
}

impl DedupList {
    pub fn new(name: &'static str, capacity: usize) -> Self {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        DedupList {
            name,
            offsets,
            values: DedupStrings::new(name, capacity, true),
        }
    }

    pub fn push_list<'a>(&mut self, items: impl Iterator<Item = &'a str>) {
        let mut n = 0;
        for v in items {
            self.values.push(v);
            n += 1;
        }
        let last = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(last + n);
    }

    pub fn finish(self) -> PolarsResult<Column> {
        use polars_arrow::array::{Array, ListArray};
        type LargeListArray = ListArray<i64>;
        let values = self.values.arr.freeze();
        let dtype = LargeListArray::default_datatype(values.dtype().clone());
        let offsets = polars_arrow::offset::OffsetsBuffer::try_from(self.offsets)?;
        let arr = LargeListArray::try_new(dtype, offsets, values.boxed(), None)?;
        Ok(ListChunked::with_chunk(self.name.into(), arr).into_column())
    }
}

/// A column holding one value per chunk (server, log kind, entry path). The value's bytes are
/// stored once and every row points at them; a scalar column would be copied row by row when
/// the chunks of many files are stacked.
pub fn constant(name: &str, value: &str, n: usize) -> Column {
    let mut arr = polars_arrow::array::MutableBinaryViewArray::<str>::with_capacity(n);
    arr.extend_constant(n, Some(value));
    StringChunked::with_chunk(name.into(), arr.freeze()).into_column()
}

/// `s` lower-cased, copied into `buf` only when it has capitals (most logged addresses do not).
fn lower<'a>(s: &'a str, buf: &'a mut String) -> &'a str {
    if !s.bytes().any(|b| b.is_ascii_uppercase()) {
        return s;
    }
    buf.clear();
    buf.push_str(s);
    buf.make_ascii_lowercase();
    buf
}

/// Columns of the canonical events frame with their meaning, in order; the README's table is
/// this list.
pub const EVENTS_SCHEMA: &[(&str, &str, &str)] = &[
    ("time", "datetime[ms, UTC]", "when the event was logged (PowerShell exports converted with --tz)"),
    ("server", "str", "server that logged the row: PSComputerName, else the bundle folder, else the log's own host"),
    ("log_kind", "str", "message_tracking, powershell_csv or exo_trace"),
    ("event_id", "str", "RECEIVE, SEND, DELIVER, FAIL, DSN, DEFER, ... (unknown ids kept as they are)"),
    ("source", "str", "SMTP, STOREDRIVER, DSN, MAILBOXRULE, AGENT, ..."),
    ("message_id", "str", "RFC 5322 Message-ID: follows a message across servers"),
    ("network_message_id", "str", "GUID shared by all copies of a message (2013+; MessageTraceId online)"),
    ("internal_message_id", "str", "per-server id: never join it across servers"),
    ("sender", "str", "sender address, lower-cased"),
    ("return_path", "str", "envelope sender, lower-cased; `<>` marks a notification"),
    ("client_ip", "str", "connecting client (FromIP online)"),
    ("client_hostname", "str", ""),
    ("server_ip", "str", "ToIP online"),
    ("server_hostname", "str", ""),
    ("original_client_ip", "str", ""),
    ("original_server_ip", "str", ""),
    ("connector_id", "str", "receive or send connector"),
    ("source_context", "str", "for SMTP RECEIVE: `SESSIONID;time;n`, the join key to protocol logs"),
    ("reference", "str", "on DSN: the original message id; on SEND: DSN ids"),
    ("subject", "str", "message subject (attacker-controlled: always escaped when shown)"),
    ("related_recipient", "str", "lower-cased"),
    ("directionality", "str", "Incoming, Originating, Undefined"),
    ("tenant_id", "str", ""),
    ("message_info", "str", "origination time and latency parts"),
    ("custom_data", "str", "`S:key=value;...` (EventData in PowerShell exports)"),
    ("transport_traffic_type", "str", ""),
    ("log_id", "str", ""),
    ("schema_version", "str", ""),
    ("recipients", "list[str]", "recipient addresses, lower-cased, in log order"),
    ("recipient_status", "list[str]", "status per recipient, aligned with `recipients` where the log aligns them"),
    ("status_code", "list[str]", "enhanced status code (`5.2.2`) parsed from each status; empty where none"),
    ("recipient_count", "u32", ""),
    ("total_bytes", "u64", ""),
    ("extra", "str", "columns the schema does not know, as tab-separated `name=value` (never dropped)"),
    ("entry", "str", "provenance: path of the file inside the bundle"),
    ("line", "u32", "provenance: 1-based line number in that file"),
];

/// Columns of the protocol-log frame (one row per protocol log line).
pub const PROTOCOL_SCHEMA: &[(&str, &str, &str)] = &[
    ("time", "datetime[ms, UTC]", ""),
    (
        "server",
        "str",
        "bundle folder, else the connector's server part",
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

/// A file's columns resolved to slots once, so each row is placed without name look-ups.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub names: Vec<String>,
    pub slots: Vec<Slot>,
    pub time_col: Option<usize>,
}

impl Mapping {
    pub fn new<'n>(names: impl IntoIterator<Item = &'n str>) -> Mapping {
        let names: Vec<String> = names.into_iter().map(|n| n.trim().to_string()).collect();
        let slots: Vec<Slot> = names.iter().map(|n| Slot::from_header(n)).collect();
        let time_col = slots.iter().position(|s| *s == Slot::Time);
        Mapping {
            names,
            slots,
            time_col,
        }
    }

    /// Names of columns the schema does not know (kept in `extra`).
    pub fn unknown(&self) -> Vec<&str> {
        self.names
            .iter()
            .zip(&self.slots)
            .filter(|(_, s)| **s == Slot::Extra)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Writes the unknown columns of a row as `name=value` pairs; empty values are left out.
    pub fn extra_into(&self, values: &[std::borrow::Cow<'_, str>], buf: &mut String) {
        buf.clear();
        for ((name, slot), v) in self.names.iter().zip(&self.slots).zip(values) {
            if *slot == Slot::Extra && !v.is_empty() {
                if !buf.is_empty() {
                    buf.push('\t');
                }
                buf.push_str(name);
                buf.push('=');
                buf.push_str(v);
            }
        }
    }

    /// Places a row's values (all but the time) into `row`.
    pub fn fill<'a>(&self, values: &'a [std::borrow::Cow<'a, str>], row: &mut Row<'a>) {
        for (slot, v) in self.slots.iter().zip(values) {
            let v: &'a str = v.as_ref();
            match *slot {
                Slot::Text(f) => row.set(f, v),
                Slot::Recipients => row.recipients = Some(v),
                Slot::RecipientStatus => row.recipient_status = Some(v),
                Slot::RecipientCount => row.recipient_count = v.trim().parse().ok(),
                Slot::TotalBytes => row.total_bytes = v.trim().parse().ok(),
                Slot::Server => row.server = Some(v).filter(|s| !s.is_empty()),
                Slot::TraceStatus => {
                    row.recipient_status = Some(v);
                    if row.get(Field::EventId).is_none() {
                        row.set(Field::EventId, trace_status_event(v));
                    }
                }
                Slot::Time | Slot::Extra => {}
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_strings_keep_every_value_and_store_repeats_once() {
        let long = "<a-message-id-that-is-long@corp.example>";
        let other = "S:DeliveryPriority=Normal;S:AccountForest=corp.example";
        let input = [
            Some(long),
            None,
            Some("short"),
            Some(long),
            Some(other),
            Some(long),
            Some(other),
            None,
        ];
        let mut b = DedupStrings::new("c", 4, true);
        for v in input {
            match v {
                Some(v) => b.push(v),
                None => b.push_null(),
            }
        }
        let col = b.finish();
        let ca = col.str().expect("str");
        let got: Vec<Option<&str>> = ca.iter().collect();
        assert_eq!(got, input);
        assert_eq!(ca.null_count(), 2);
        let stored: usize = ca.downcast_iter().map(|a| a.total_buffer_len()).sum();
        assert_eq!(
            stored,
            long.len() + other.len(),
            "each long value stored once"
        );
    }
}
