pub use web_time::Instant;
