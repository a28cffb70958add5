//! Microphones and speakers: listing them (`enumerateDevices`), routing the
//! call's audio to a chosen speaker (`setSinkId`, where the browser has it),
//! remembering the choice, and watching the microphone permission.

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AudioContext, MediaDeviceInfo, MediaDeviceKind, PermissionState, PermissionStatus};

use crate::state::call::{Device, Devices};

const MIC_KEY: &str = "dialer.mic";
const SPEAKER_KEY: &str = "dialer.speaker";

/// The devices the browser lists now, with the remembered choices. Labels
/// are empty until the page has had microphone access once; such devices
/// are numbered instead.
pub async fn list() -> Devices {
    let mut devices = Devices {
        can_choose_speaker: can_choose_speaker(),
        mic: remembered(MIC_KEY),
        speaker: remembered(SPEAKER_KEY),
        ..Devices::default()
    };
    let Some(media) = web_sys::window().and_then(|w| w.navigator().media_devices().ok()) else {
        return devices;
    };
    let Ok(promise) = media.enumerate_devices() else {
        return devices;
    };
    let Ok(list) = JsFuture::from(promise).await else {
        return devices;
    };
    let list: js_sys::Array = list.unchecked_into();
    for item in list.iter() {
        let Ok(info) = item.dyn_into::<MediaDeviceInfo>() else {
            continue;
        };
        let id = info.device_id();
        let (bucket, kind) = match info.kind() {
            MediaDeviceKind::Audioinput => (&mut devices.mics, "Microphone"),
            MediaDeviceKind::Audiooutput => (&mut devices.speakers, "Speaker"),
            _ => continue,
        };
        // "default" is the system default, which "" already stands for.
        if id.is_empty() || id == "default" {
            continue;
        }
        let label = match info.label() {
            label if label.trim().is_empty() => format!("{kind} {}", bucket.len() + 1),
            label => label,
        };
        bucket.push(Device { id, label });
    }
    // A remembered device that is gone falls back to the default.
    if !devices.mics.iter().any(|d| d.id == devices.mic) {
        devices.mic.clear();
    }
    if !devices.speakers.iter().any(|d| d.id == devices.speaker) {
        devices.speaker.clear();
    }
    devices
}

/// Calls `f` whenever a device is plugged in or out; keep the closure.
pub fn watch(f: impl FnMut() + 'static) -> Option<Closure<dyn FnMut()>> {
    let media = web_sys::window()?.navigator().media_devices().ok()?;
    let closure = Closure::<dyn FnMut()>::new(f);
    media.set_ondevicechange(Some(closure.as_ref().unchecked_ref()));
    Some(closure)
}

pub fn unwatch() {
    if let Some(media) = web_sys::window().and_then(|w| w.navigator().media_devices().ok()) {
        media.set_ondevicechange(None);
    }
}

/// Whether `HTMLMediaElement.setSinkId` exists (Chromium, recent Firefox
/// and Safari).
pub fn can_choose_speaker() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    Reflect::get(&window, &"HTMLMediaElement".into())
        .and_then(|class| Reflect::get(&class, &"prototype".into()))
        .and_then(|proto| Reflect::has(&proto, &"setSinkId".into()))
        .unwrap_or(false)
}

/// Routes `audio#remote-audio` to speaker `id` (`""`: the default).
pub async fn set_speaker(id: &str) -> Result<(), String> {
    let audio = super::media::remote_audio().ok_or("the audio element is missing")?;
    call_set_sink(&audio, id).await
}

/// The same for the ringback's `AudioContext`, where supported; failures
/// only mean the tone plays on the default output.
pub fn set_context_sink(context: &AudioContext, id: &str) {
    if let Ok(function) = Reflect::get(context, &"setSinkId".into())
        && let Ok(function) = function.dyn_into::<Function>()
    {
        let _ = function.call1(context, &id.into());
    }
}

async fn call_set_sink(target: &JsValue, id: &str) -> Result<(), String> {
    let function: Function = Reflect::get(target, &"setSinkId".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or("this browser cannot choose the speaker")?;
    let promise = function
        .call1(target, &id.into())
        .map_err(|e| super::media::js_error(&e))?;
    JsFuture::from(js_sys::Promise::resolve(&promise))
        .await
        .map(|_| ())
        .map_err(|e| super::media::js_error(&e))
}

pub fn remember_mic(id: &str) {
    remember(MIC_KEY, id);
}

pub fn remember_speaker(id: &str) {
    remember(SPEAKER_KEY, id);
}

/// The remembered microphone, `None` for the default.
pub fn chosen_mic() -> Option<String> {
    Some(remembered(MIC_KEY)).filter(|id| !id.is_empty())
}

pub fn chosen_speaker() -> String {
    remembered(SPEAKER_KEY)
}

fn remembered(key: &str) -> String {
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(key).ok().flatten())
        // Device ids are opaque tokens; anything odd is dropped.
        .filter(|id| id.len() <= 256 && !id.chars().any(char::is_control))
        .unwrap_or_default()
}

fn remember(key: &str, id: &str) {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = if id.is_empty() {
            storage.remove_item(key)
        } else {
            storage.set_item(key, id)
        };
    }
}

/// The microphone permission, watched: `on_change(denied)` now (once known)
/// and at every change. Browsers without the Permissions API for the
/// microphone report nothing. Keep the returned closure alive.
pub async fn watch_permission(
    on_change: impl Fn(bool) + 'static,
) -> Option<(PermissionStatus, Closure<dyn FnMut()>)> {
    let permissions = web_sys::window()?.navigator().permissions().ok()?;
    let descriptor = Object::new();
    Reflect::set(&descriptor, &"name".into(), &"microphone".into()).ok()?;
    let status: PermissionStatus = JsFuture::from(permissions.query(&descriptor).ok()?)
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    on_change(status.state() == PermissionState::Denied);
    let watched = status.clone();
    let closure = Closure::<dyn FnMut()>::new(move || {
        on_change(watched.state() == PermissionState::Denied);
    });
    status.set_onchange(Some(closure.as_ref().unchecked_ref()));
    Some((status, closure))
}
