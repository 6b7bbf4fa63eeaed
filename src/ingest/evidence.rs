//! Reading one record back. The analysis keeps only the narrow columns it needs; the few rows
//! that become evidence in the report are read again from their entry, by line number, with the
//! same readers' rules (the `#Fields` in force at that line, or the CSV header), so the report
//! shows the line as the server wrote it.

use std::borrow::Cow;

use super::decode::{decode, Decoded};
use super::fields::split_line;
use super::schema::{Field, Mapping, Row};
use super::tracking::fields_for_count;
use super::w3c::{Item, Records};
use super::LogKind;

/// The text fields of one record that evidence shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub event_id: String,
    pub source: String,
    pub message_id: String,
    pub sender: String,
    pub recipients: String,
    pub status: String,
    pub subject: String,
    pub source_context: String,
}

/// One entry's text, decoded once, with where each line starts.
pub struct EntryText {
    text: String,
    starts: Vec<usize>,
    kind: LogKind,
    /// A W3C log's `#Fields` directives by line, found by the reader's own rules: a `#Fields:`
    /// inside a value (a subject can say anything) is not one.
    fields: Vec<(u64, Mapping)>,
}

impl EntryText {
    /// Decodes an entry's bytes; `None` if they are not text.
    pub fn new(path: &str, bytes: &[u8], kind: LogKind) -> Option<EntryText> {
        let text = match decode(path, bytes).ok()? {
            Decoded::Text(t) => t.into_owned(),
            Decoded::Binary(_) => return None,
        };
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        let mut fields = Vec::new();
        if kind == LogKind::MessageTracking {
            let mut records = Records::new(&text);
            while let Some((line, item)) = records.next_item() {
                if let Item::Directive(d) = item {
                    if let Some(f) = d.strip_prefix("#Fields:") {
                        fields.push((line, Mapping::new(f.split(','))));
                    }
                }
            }
        }
        Some(EntryText {
            text,
            starts,
            kind,
            fields,
        })
    }

    /// The record that starts on 1-based `line`.
    pub fn record(&self, line: u64) -> Option<Record> {
        let at = *self.starts.get(line.checked_sub(1)? as usize)?;
        match self.kind {
            LogKind::MessageTracking => self.w3c(at, line),
            LogKind::PowershellCsv | LogKind::ExoTrace => self.csv(line),
            _ => None,
        }
    }

    fn w3c(&self, at: usize, line: u64) -> Option<Record> {
        let mut records = Records::at(&self.text, at, line - 1);
        let (_, item) = records.next_item()?;
        let Item::Data(data, _) = item else {
            return None;
        };
        let mut vals: Vec<Cow<'_, str>> = Vec::new();
        split_line(&data, &mut vals).ok()?;
        let in_force = self.fields.partition_point(|(l, _)| *l < line);
        let headerless;
        let mapping = match in_force.checked_sub(1).and_then(|i| self.fields.get(i)) {
            Some((_, m)) => m,
            None => {
                headerless = Mapping::new(fields_for_count(vals.len())?.0);
                &headerless
            }
        };
        (vals.len() == mapping.names.len()).then(|| fill(mapping, &vals))
    }

    fn csv(&self, line: u64) -> Option<Record> {
        let (body, skipped) = super::csv_export::body(&self.text);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body.as_bytes());
        let mut records = reader.records();
        let head = records.next()?.ok()?;
        let mapping = Mapping::new(head.iter());
        let mut lines = super::csv_export::LineOf::new(body);
        for rec in records {
            let rec = rec.ok()?;
            let at = rec.position().map_or(0, |p| lines.line(p.byte())) + skipped;
            if at < line {
                continue;
            }
            if at > line {
                return None;
            }
            let vals: Vec<Cow<'_, str>> = rec.iter().map(Cow::Borrowed).collect();
            return (vals.len() == mapping.names.len()).then(|| fill(&mapping, &vals));
        }
        None
    }
}

fn fill(mapping: &Mapping, vals: &[Cow<'_, str>]) -> Record {
    let mut row = Row::new(0, 0);
    mapping.fill(vals, &mut row);
    let get = |f: Field| row.get(f).unwrap_or("").to_string();
    Record {
        event_id: get(Field::EventId),
        source: get(Field::Source),
        message_id: get(Field::MessageId),
        sender: get(Field::Sender),
        recipients: row.recipients.unwrap_or("").to_string(),
        status: row.recipient_status.unwrap_or("").to_string(),
        subject: get(Field::Subject),
        source_context: get(Field::SourceContext),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_the_record_on_a_line() {
        let text = "#Software: Microsoft Exchange Server\r\n#Fields: date-time,event-id,source,message-id,recipient-address,recipient-status,message-subject,sender-address\r\n2026-11-16T08:00:00.000Z,FAIL,STOREDRIVER,<a@b>,x@corp,\"554 5.2.2 mailbox full; STOREDRV.Deliver\",\"Hi, there\",y@corp\r\n2026-11-16T08:00:01.000Z,DELIVER,STOREDRIVER,<c@d>,x@corp,250 2.1.5 OK,\"two\r\nlines\",y@corp\r\n";
        let e =
            EntryText::new("MSGTRK1.LOG", text.as_bytes(), LogKind::MessageTracking).expect("text");
        let r = e.record(3).expect("line 3");
        assert_eq!(r.event_id, "FAIL");
        assert_eq!(r.status, "554 5.2.2 mailbox full; STOREDRV.Deliver");
        assert_eq!(r.subject, "Hi, there");
        assert_eq!(r.message_id, "<a@b>");
        let r = e.record(4).expect("line 4");
        assert_eq!(r.subject, "two\nlines");
        assert!(
            e.record(5).is_none(),
            "a continuation line starts no record"
        );
        assert!(e.record(99).is_none());
        // A `#Fields:` inside a value is text, and a later real directive takes over.
        let text = "#Fields: date-time,event-id,message-subject,sender-address\r\n2026-11-16T08:00:00.000Z,FAIL,\"x\r\n#Fields: sender-address,message-subject,event-id,date-time\",y@corp\r\n2026-11-16T08:00:01.000Z,DELIVER,\"#Fields: sender-address,message-subject,event-id,date-time\",z@corp\r\n#Fields: date-time,sender-address,event-id\r\n2026-11-16T08:00:02.000Z,w@corp,SEND\r\n";
        let e =
            EntryText::new("MSGTRK2.LOG", text.as_bytes(), LogKind::MessageTracking).expect("text");
        let r = e.record(2).expect("line 2");
        assert_eq!((r.event_id.as_str(), r.sender.as_str()), ("FAIL", "y@corp"));
        assert_eq!(
            r.subject,
            "x\n#Fields: sender-address,message-subject,event-id,date-time"
        );
        let r = e.record(4).expect("line 4");
        assert_eq!(
            (r.event_id.as_str(), r.sender.as_str()),
            ("DELIVER", "z@corp")
        );
        let r = e.record(6).expect("line 6");
        assert_eq!((r.event_id.as_str(), r.sender.as_str()), ("SEND", "w@corp"));
        let csv = "\u{feff}\"Timestamp\",\"EventId\",\"Source\",\"Sender\",\"Recipients\",\"RecipientStatus\",\"MessageSubject\"\r\n\"7/18/2016 11:57:15 AM\",\"FAIL\",\"SMTP\",\"a@x\",\"b@y\",\"550 5.1.1 not found\",\"hello\"\r\n";
        let e = EntryText::new("x.csv", csv.as_bytes(), LogKind::PowershellCsv).expect("text");
        let r = e.record(2).expect("line 2");
        assert_eq!(
            (r.event_id.as_str(), r.status.as_str()),
            ("FAIL", "550 5.1.1 not found")
        );
    }
}
