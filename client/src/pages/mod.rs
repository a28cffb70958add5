//! Whole screens. The app shows exactly one, chosen by `AppState`.

pub mod admin;
mod loading;
mod phone;
mod sign_in;

pub use loading::LoadingPage;
pub use phone::PhonePage;
pub use sign_in::SignInPage;
