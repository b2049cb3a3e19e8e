//! Artist similarity: standardized audio profiles and an exact k-nearest-neighbour engine using every core.
