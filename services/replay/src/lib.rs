//! The replay service: moves dead-lettered messages back to their source queue.
