//! The Spotify stand-in: a real HTTP server serving a Spotify-like catalog from the songs data set, with fault injection.
