//! Presentational components: they render props and report through
//! `Callback`s; none of them holds the phone. The admin pages' shared
//! pieces are in [`admin`].

pub mod admin;
mod agent;
mod audio_settings;
mod brand;
mod call_history;
mod call_status;
mod connection_quality;
mod dialer;
mod incoming;
mod registration_status;
mod topbar;

pub use agent::AgentBadge;
pub use audio_settings::{AudioSettings, MicError};
pub use brand::Brand;
pub use call_history::CallHistory;
pub use call_status::CallStatus;
pub use connection_quality::ConnectionQuality;
pub use dialer::Dialer;
pub use incoming::IncomingCall;
pub use registration_status::RegistrationStatus;
pub use topbar::TopBar;
