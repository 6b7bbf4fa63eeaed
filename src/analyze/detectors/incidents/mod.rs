//! The incident catalogue: everything else the transport logs can show, beyond loops and storms.
//! Each kind is its own detector (one file here) and adds one object per incident to the
//! findings' `incidents` list, in one shape for all kinds.

use serde::{Deserialize, Serialize};

use crate::analyze::evidence::Evidence;

/// The kinds of incident, with their JSON names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    HopCountLoop,
    ThrottledAutoReply,
    TransportRuleLoop,
    ReceiveLimit,
    DeliveryThrottling,
    BackPressure,
    QueueExpiry,
    PoisonMessage,
    ShadowRedundancyFailure,
    DuplicateDelivery,
    SafetyNetResubmit,
    SubmissionFailure,
    SilentDrop,
    ModerationStall,
    ListAmplification,
    Backscatter,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::HopCountLoop => "hop_count_loop",
            IncidentKind::ThrottledAutoReply => "throttled_auto_reply",
            IncidentKind::TransportRuleLoop => "transport_rule_loop",
            IncidentKind::ReceiveLimit => "receive_limit",
            IncidentKind::DeliveryThrottling => "delivery_throttling",
            IncidentKind::BackPressure => "back_pressure",
            IncidentKind::QueueExpiry => "queue_expiry",
            IncidentKind::PoisonMessage => "poison_message",
            IncidentKind::ShadowRedundancyFailure => "shadow_redundancy_failure",
            IncidentKind::DuplicateDelivery => "duplicate_delivery",
            IncidentKind::SafetyNetResubmit => "safety_net_resubmit",
            IncidentKind::SubmissionFailure => "submission_failure",
            IncidentKind::SilentDrop => "silent_drop",
            IncidentKind::ModerationStall => "moderation_stall",
            IncidentKind::ListAmplification => "list_amplification",
            IncidentKind::Backscatter => "backscatter",
        }
    }
}

/// One incident found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incident {
    pub kind: IncidentKind,
    pub first_seen: String,
    pub last_seen: String,
    /// What the incident is made of: messages (loops, limits, expiry, drops...), sessions
    /// turned away (back pressure), or recipients the list expanded to (list amplification).
    pub count: u64,
    /// The servers that logged it.
    pub servers: Vec<String>,
    /// The mailboxes, lists or domains involved (for a routing loop, the recipient domain).
    pub addresses: Vec<String>,
    /// The enhanced status codes seen.
    pub codes: Vec<String>,
    /// One sentence saying what happened.
    pub summary: String,
    pub evidence: Vec<Evidence>,
}
