//! Builders of the canonical Polars frames, and the collector that makes frames from a bundle.
//! The column builders store repeated text once per chunk (a message's id, sender and subject on
//! each of its rows), which is where this module's `unsafe` lives: pushing a view of bytes the
//! array already holds.

use polars::prelude::*;

use super::schema::{col, Field, Row};
use super::{Collector, EntryCtx, LogKind, ProtoLine, Sink};
use crate::error::Result;

/// Builds one chunk of the canonical events frame.
pub struct EventsBuilder {
    log_kind: LogKind,
    entry: String,
    time: Vec<i64>,
    line: Vec<u32>,
    server: DedupStrings,
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
    pub fn new(log_kind: LogKind, entry: &str, capacity: usize) -> Self {
        EventsBuilder {
            log_kind,
            entry: entry.to_string(),
            time: Vec::with_capacity(capacity),
            line: Vec::with_capacity(capacity),
            server: DedupStrings::new(col::SERVER, capacity, false),
            text: Field::ALL
                .iter()
                .map(|f| DedupStrings::new(f.column(), capacity, f.repeats()))
                .collect(),
            recipients: DedupList::new(col::RECIPIENTS, capacity),
            statuses: DedupList::new(col::RECIPIENT_STATUS, capacity),
            codes: DedupList::new(col::STATUS_CODE, capacity),
            recipient_count: Vec::with_capacity(capacity),
            total_bytes: Vec::with_capacity(capacity),
            extra: StringChunkedBuilder::new(col::EXTRA.into(), capacity),
            lower: String::new(),
            split_buf: Vec::new(),
        }
    }

    pub fn finish(self) -> PolarsResult<DataFrame> {
        let n = self.time.len();
        let mut cols: Vec<Column> = Vec::with_capacity(48);
        cols.push(
            Int64Chunked::from_vec(col::TIME.into(), self.time)
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_column(),
        );
        cols.push(self.server.finish());
        cols.push(constant(col::LOG_KIND, self.log_kind.as_str(), n));
        for b in self.text {
            cols.push(b.finish());
        }
        cols.push(self.recipients.finish()?);
        cols.push(self.statuses.finish()?);
        cols.push(self.codes.finish()?);
        cols.push(
            UInt32Chunked::from_iter_options(
                col::RECIPIENT_COUNT.into(),
                self.recipient_count.into_iter(),
            )
            .into_column(),
        );
        cols.push(
            UInt64Chunked::from_iter_options(col::TOTAL_BYTES.into(), self.total_bytes.into_iter())
                .into_column(),
        );
        cols.push(self.extra.finish().into_column());
        cols.push(constant(col::ENTRY, &self.entry, n));
        cols.push(UInt32Chunked::from_vec(col::LINE.into(), self.line).into_column());
        DataFrame::new(n, cols)
    }
}

impl Sink for EventsBuilder {
    fn event(&mut self, row: &Row<'_>) {
        self.time.push(row.time_ms);
        self.line.push(row.line);
        self.server.push(row.server);
        for (i, f) in Field::ALL.iter().enumerate() {
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

/// What one entry adds to the frames.
#[derive(Default)]
pub struct FrameChunk {
    pub events: Option<DataFrame>,
    pub protocol: Option<DataFrame>,
    /// This file's part of the sessions frame (joined across files at the end).
    pub sessions: Option<DataFrame>,
}

/// The sink of one entry for [`FramesCollector`].
pub enum FrameSink {
    Events(Box<EventsBuilder>),
    Protocol(Box<super::protocol::ProtocolBuilder>),
}

impl Sink for FrameSink {
    fn event(&mut self, row: &Row<'_>) {
        if let FrameSink::Events(b) = self {
            b.event(row);
        }
    }

    fn protocol(&mut self, line: &ProtoLine<'_>) {
        if let FrameSink::Protocol(b) = self {
            b.push(line);
        }
    }
}

/// Builds the canonical frames from every entry.
pub struct FramesCollector;

impl Collector for FramesCollector {
    type Sink = FrameSink;
    type Chunk = FrameChunk;

    fn sink(&self, ctx: &EntryCtx<'_>, kind: LogKind, lines: &dyn Fn() -> usize) -> FrameSink {
        let lines = lines();
        match kind {
            LogKind::SmtpReceive | LogKind::SmtpSend => {
                FrameSink::Protocol(Box::new(super::protocol::ProtocolBuilder::new(lines)))
            }
            // One row per line: an exact capacity keeps over-allocated (and, once the
            // allocator recycles memory, resident) tails out of the frame.
            _ => FrameSink::Events(Box::new(EventsBuilder::new(kind, ctx.path, lines))),
        }
    }

    fn finish(&self, sink: FrameSink, ctx: &EntryCtx<'_>, kind: LogKind) -> Result<FrameChunk> {
        Ok(match sink {
            FrameSink::Events(b) => FrameChunk {
                events: Some(b.finish()?),
                ..FrameChunk::default()
            },
            FrameSink::Protocol(b) => {
                let frame = b.finish(kind.as_str(), ctx.path)?;
                FrameChunk {
                    sessions: Some(super::protocol::sessions(&frame)?),
                    protocol: Some(frame),
                    events: None,
                }
            }
        })
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

/// A column holding one value per chunk (log kind, entry path). The value's bytes are stored
/// once and every row points at them; a scalar column would be copied row by row when the
/// chunks of many files are stacked.
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
