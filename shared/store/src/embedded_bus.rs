//! The embedded event bus: EventBridge's routing in-process. Each event is wrapped in the
//! envelope EventBridge delivers to an SQS target and sent to every queue whose rule
//! matches its detail type; an event no rule matches is dropped, as on EventBridge.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{SubsecRound, Utc};
use encore_domain::events::BusEnvelope;
use uuid::Uuid;

use crate::context::with_context;
use crate::eventbridge::check_entry_size;
use crate::{EventPublisher, OutgoingEvent, Queue, StoreError};

/// A bus with rules of the form "detail type → queue".
#[derive(Clone, Default)]
pub struct EmbeddedBus {
    routes: Vec<(String, Arc<dyn Queue>)>,
}

impl EmbeddedBus {
    /// A bus without rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule delivering every `detail_type` event to `queue`.
    pub fn route(mut self, detail_type: &str, queue: Arc<dyn Queue>) -> Self {
        self.routes.push((detail_type.to_owned(), queue));
        self
    }
}

impl std::fmt::Debug for EmbeddedBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let routes: Vec<(&str, &str)> = self
            .routes
            .iter()
            .map(|(t, q)| (t.as_str(), q.name()))
            .collect();
        f.debug_struct("EmbeddedBus")
            .field("routes", &routes)
            .finish()
    }
}

/// The message body EventBridge would deliver for `event` (it sets `time` to the second).
fn envelope(event: &OutgoingEvent) -> Result<String, StoreError> {
    let detail = serde_json::from_str(&event.detail).map_err(|e| {
        StoreError::Rejected(format!(
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
    serde_json::to_string(&envelope)
        .map_err(|e| StoreError::Rejected(format!("envelope of {}: {e}", event.detail_type)))
}

#[async_trait]
impl EventPublisher for EmbeddedBus {
    async fn publish(&self, events: &[OutgoingEvent]) -> Result<(), StoreError> {
        let mut bodies = Vec::with_capacity(events.len());
        for event in events {
            check_entry_size(event)?;
            bodies.push(envelope(event)?);
        }
        for (event, body) in events.iter().zip(&bodies) {
            for (_, queue) in self
                .routes
                .iter()
                .filter(|(detail_type, _)| *detail_type == event.detail_type)
            {
                queue.send(body).await.map_err(|err| {
                    with_context(
                        err,
                        &format!("{} event to queue {}", event.detail_type, queue.name()),
                    )
                })?;
            }
        }
        Ok(())
    }
}
