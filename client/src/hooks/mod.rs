//! Custom hooks: the bridge between components and the long-lived parts.

mod use_call_history;
mod use_live;
mod use_paged;
mod use_phone;
mod use_route;
mod use_ticker;

pub use use_call_history::use_call_history;
pub use use_live::{LiveStatus, use_live};
pub use use_paged::use_paged;
pub use use_phone::{PhoneHandle, use_phone};
pub use use_route::{go_to, use_route};
pub use use_ticker::use_ticker;
