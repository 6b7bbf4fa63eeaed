//! Parquet, both ways. `write` puts the canonical frames into Hive-partitioned datasets for the
//! engines that take over where one machine stops; `read` takes such datasets back (ours, or
//! what an engine wrote after narrowing them down) as the input of `report`, `inspect` and
//! `trace`.

pub mod read;
mod write;

pub use write::{partition_value, write_dataset, Exported, Exporter, Written};

/// Hive's name for a partition whose value is missing.
const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// The inventory of the bundle an export was made from (what `inspect --json` prints).
pub const INVENTORY_FILE: &str = "inventory.json";
/// What the readers noted per entry beyond the inventory ([`crate::ingest::EntryNote`]).
pub const NOTES_FILE: &str = "entries.json";
/// The datasets of an export, one folder each.
pub const EVENTS: &str = "events";
pub const PROTOCOL: &str = "protocol";
pub const SESSIONS: &str = "sessions";
