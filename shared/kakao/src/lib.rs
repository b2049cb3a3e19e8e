//! The Kakao i Open Builder skill contract: request and response models, Kakao's limits, and the card rendering of an answer.
