//! The chat service: answers Kakao skill requests from the caches and requests unknown artists.
