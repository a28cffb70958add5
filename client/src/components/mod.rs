//! Presentational components: they render props and report through
//! `Callback`s; none of them holds the phone or calls the API.

mod agent;
mod brand;
mod registration_status;

pub use agent::AgentBadge;
pub use brand::Brand;
pub use registration_status::RegistrationStatus;
