//! The embedded event bus: EventBridge's routing in-process. Each event is wrapped in the
//! envelope EventBridge delivers to an SQS target and sent to every queue whose rule
//! matches its detail type (and, for a rule with a [`DetailMatch`], one field of its
//! detail); an event no rule matches is dropped, as on EventBridge.

use std::sync::Arc;

use crate::BusEnvelope;
use async_trait::async_trait;
use chrono::{SubsecRound, Utc};
use uuid::Uuid;

use crate::ports::check_entry_size;
use crate::{BackendError, EventPublisher, OutgoingEvent, Queue};

/// A condition on one top-level text field of an event's detail, as in an EventBridge
/// pattern: `{"detail": {"field": ["value"]}}` or `[{"anything-but": "value"}]` (which,
/// as on EventBridge, also matches events without the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailMatch {
    /// Every event of the detail type.
    Any,
    /// The field is present with this value.
    Equals(&'static str, &'static str),
    /// The field is absent or has another value.
    AnythingBut(&'static str, &'static str),
}

impl DetailMatch {
    fn matches(self, detail: &serde_json::Value) -> bool {
        match self {
            Self::Any => true,
            Self::Equals(field, value) => detail.get(field).and_then(|v| v.as_str()) == Some(value),
            Self::AnythingBut(field, value) => {
                detail.get(field).and_then(|v| v.as_str()) != Some(value)
            }
        }
    }
}

/// One rule: detail type and condition → queue.
#[derive(Clone)]
struct Route {
    detail_type: String,
    condition: DetailMatch,
    queue: Arc<dyn Queue>,
}

/// A bus with rules of the form "detail type (and detail field) → queue".
#[derive(Clone, Default)]
pub struct EmbeddedBus {
    routes: Vec<Route>,
}

impl EmbeddedBus {
    /// A bus without rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule delivering every `detail_type` event to `queue`.
    pub fn route(self, detail_type: &str, queue: Arc<dyn Queue>) -> Self {
        self.route_matching(detail_type, DetailMatch::Any, queue)
    }

    /// Adds a rule delivering the `detail_type` events whose detail meets `condition`
    /// to `queue`.
    pub fn route_matching(
        mut self,
        detail_type: &str,
        condition: DetailMatch,
        queue: Arc<dyn Queue>,
    ) -> Self {
        self.routes.push(Route {
            detail_type: detail_type.to_owned(),
            condition,
            queue,
        });
        self
    }
}

impl std::fmt::Debug for EmbeddedBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let routes: Vec<(&str, DetailMatch, &str)> = self
            .routes
            .iter()
            .map(|r| (r.detail_type.as_str(), r.condition, r.queue.name()))
            .collect();
        f.debug_struct("EmbeddedBus")
            .field("routes", &routes)
            .finish()
    }
}

/// The message body EventBridge would deliver for `event` (it sets `time` to the second),
/// and the event's detail.
fn envelope(event: &OutgoingEvent) -> Result<(String, serde_json::Value), BackendError> {
    let detail: serde_json::Value = serde_json::from_str(&event.detail).map_err(|e| {
        BackendError::rejected(format!(
            "{} event from {}: detail is not JSON: {e}",
            event.detail_type, event.source
        ))
    })?;
    let envelope = BusEnvelope {
        version: Some("0".into()),
        id: Some(Uuid::new_v4().to_string()),
        detail_type: event.detail_type.clone(),
        source: event.source.clone(),
        account: None,
        time: Some(Utc::now().trunc_subsecs(0)),
        region: None,
        resources: Vec::new(),
        detail,
    };
    let body = serde_json::to_string(&envelope)
        .map_err(|e| BackendError::rejected(format!("envelope of {}: {e}", event.detail_type)))?;
    Ok((body, envelope.detail))
}

#[async_trait]
impl EventPublisher for EmbeddedBus {
    async fn publish(&self, events: &[OutgoingEvent]) -> Result<(), BackendError> {
        let mut bodies = Vec::with_capacity(events.len());
        for event in events {
            check_entry_size(event)?;
            bodies.push(envelope(event)?);
        }
        for (event, (body, detail)) in events.iter().zip(&bodies) {
            for queue in self
                .routes
                .iter()
                .filter(|r| r.detail_type == event.detail_type && r.condition.matches(detail))
                .map(|r| &r.queue)
            {
                queue.send(body).await.map_err(|err| {
                    err.context(&format!(
                        "{} event to queue {}",
                        event.detail_type,
                        queue.name()
                    ))
                })?;
            }
        }
        Ok(())
    }
}
