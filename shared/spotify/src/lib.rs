//! A Spotify Web API client: client-credentials token, search, artist, top tracks, audio features; resilient and Development-Mode aware.
