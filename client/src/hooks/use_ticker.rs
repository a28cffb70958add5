use std::time::Duration;

use gloo_timers::callback::Interval;
use yew::prelude::*;

/// Re-renders the component every `period` while it is `Some` (a countdown
/// on screen), and not at all otherwise.
#[hook]
pub fn use_ticker(period: Option<Duration>) {
    let update = use_force_update();
    use_effect_with(period, move |period| {
        let interval = period.map(|p| {
            let millis = u32::try_from(p.as_millis()).unwrap_or(u32::MAX).max(1);
            Interval::new(millis, move || update.force_update())
        });
        move || drop(interval)
    });
}
