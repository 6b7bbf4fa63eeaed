//! Every detector, one file each, and the registry the analysis runs. Adding a detector is its
//! file here, its template partial in `templates/sections/`, one line in [`REGISTRY`], and its
//! test.

pub mod blast;
pub mod coverage;
pub mod flow;
pub mod incidents;
pub mod latency;
pub mod loops;
pub mod messages;
pub mod noise;
pub mod queues;
pub mod quota;
pub mod sli;
pub mod sources;
pub mod storms;
pub mod tables;
pub mod timeline;

use super::Detector;

/// Every detector, in the order their sections appear within their place in the report.
pub static REGISTRY: &[&dyn Detector] = &[
    &loops::Loops,
    &storms::Storms,
    &quota::Quota,
    &incidents::hop_count_loop::HopCountLoop,
    &incidents::throttled_auto_reply::ThrottledAutoReply,
    &incidents::transport_rule_loop::TransportRuleLoop,
    &incidents::list_amplification::ListAmplification,
    &incidents::backscatter::Backscatter,
    &incidents::receive_limit::ReceiveLimit,
    &incidents::back_pressure::BackPressure,
    &incidents::delivery_throttling::DeliveryThrottling,
    &incidents::queue_expiry::QueueExpiry,
    &incidents::poison_message::PoisonMessage,
    &incidents::submission_failure::SubmissionFailure,
    &incidents::silent_drop::SilentDrop,
    &incidents::moderation_stall::ModerationStall,
    &incidents::safety_net_resubmit::SafetyNetResubmit,
    &incidents::shadow_redundancy_failure::ShadowRedundancyFailure,
    &incidents::duplicate_delivery::DuplicateDelivery,
    &blast::Blast,
    &timeline::TimelineDetector,
    &messages::Messages,
    &flow::Flow,
    &sli::Slis,
    &queues::Queues,
    &latency::Latency,
    &noise::NoiseDetector,
    &tables::Tables,
    &sources::Sources(sources::By::ClientIp),
    &sources::Sources(sources::By::Connector),
    &coverage::CoverageDetector,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique() {
        let mut keys: Vec<&str> = REGISTRY.iter().map(|d| d.key()).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n);
        for fixed in ["bundle", "params", "summary", "sections", "incidents"] {
            assert!(
                !keys.contains(&fixed),
                "{fixed} is a fixed key of the findings"
            );
        }
    }

    /// `IncidentKind::as_str` names the catalogue detectors' sections and the template filters
    /// incidents by it, while the JSON names come from serde: the two must be one spelling, for
    /// every kind, each kind with its detector.
    #[test]
    fn incident_kinds_are_spelt_one_way() {
        use incidents::IncidentKind;
        let mut kinds = Vec::new();
        for d in REGISTRY {
            let Ok(kind) = serde_json::from_value::<IncidentKind>(serde_json::json!(d.key()))
            else {
                continue;
            };
            assert_eq!(kind.as_str(), d.key());
            assert_eq!(serde_json::json!(kind), serde_json::json!(d.key()));
            assert_eq!(d.place(), crate::analyze::Place::Incident, "{}", d.key());
            kinds.push(kind);
        }
        kinds.sort();
        kinds.dedup();
        assert_eq!(
            kinds.len(),
            16,
            "every incident kind has its detector: {kinds:?}"
        );
    }
}
