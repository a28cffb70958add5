//! What the admin pages share: the form field with its help text and
//! error ([`Field`]), the end of a list ("More", errors) and of a form
//! (buttons, results), the navigation and the page frame, and small
//! inline-SVG charts ([`LineChart`], [`Bars`]).

mod chart;
mod field;
mod layout;
mod list;

pub use chart::{Bars, LineChart, Series};
pub use field::{Field, Kind};
pub use layout::{AdminNav, AdminPage, NotAllowed};
pub use list::{FormButtons, ListFooter};
