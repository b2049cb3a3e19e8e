//! The similarity service: the daily job from the lake to the related-artists datamart.
