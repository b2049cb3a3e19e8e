//! The ingest service: turns ArtistRequested events into stored artists, top tracks and ArtistIngested events.
