//! Exchange Online message traces: the reporting-service download (`Received, SenderAddress,
//! RecipientAddress, Status, ...`) and the extended historical search with the tracking columns
//! in snake case (`date_time_utc, client_ip, ..., event_id, ...`). Both are UTC; historical
//! search files arrive as UTF-16 with a byte-order mark, which the bundle stage decodes.

use super::export::{header, read_export, Dialect};
use super::schema::header_key;
use super::{EntryCtx, LogKind, LogReader, Parsed};
use crate::error::Result;

pub struct ExoReader;

impl LogReader for ExoReader {
    fn sniff(&self, _name: &str, head: &str) -> Option<LogKind> {
        let h: Vec<String> = header(head).iter().map(|s| header_key(s)).collect();
        let has = |c: &str| h.iter().any(|x| x == c);
        let reporting = has("received") && has("senderaddress") && has("recipientaddress");
        let extended = has("datetimeutc") && has("eventid");
        (reporting || extended).then_some(LogKind::ExoTrace)
    }

    fn read(&self, kind: LogKind, text: &str, ctx: &EntryCtx<'_>) -> Result<Parsed> {
        read_export(
            text,
            ctx,
            &Dialect {
                kind,
                local_time: false,
            },
        )
    }
}
