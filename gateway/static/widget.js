// <dialer-phone>: the dialer's phone embedded in another site (a CRM).
//
//   <script src="https://dialer.example.com/widget.js"></script>
//   <dialer-phone gateway="https://dialer.example.com" token="dle_…" click-to-call></dialer-phone>
//
// The phone runs in an iframe from the gateway's origin (its microphone
// permission, storage and CSP stay the gateway's). This element only frames
// it and relays: methods become postMessage commands to the gateway origin,
// messages from that iframe become DOM events on the element (`ready`,
// `registered`, `incoming`, `ringing`, `connected`, `reconnecting`, `ended`,
// `error`).
// Types: /widget.d.ts.
(() => {
  "use strict";
  if (customElements.get("dialer-phone")) return;

  class DialerPhone extends HTMLElement {
    static get observedAttributes() {
      return ["token", "click-to-call"];
    }

    constructor() {
      super();
      this._frame = null;
      this._hello = false;
      this._sentToken = null;
      this._onMessage = (event) => this._message(event);
      this._onClick = (event) => this._telClick(event);
    }

    get gatewayOrigin() {
      const g = this.getAttribute("gateway");
      if (g) {
        try {
          return new URL(g, document.baseURI).origin;
        } catch (_) {
          return null;
        }
      }
      // Default: where this script came from.
      return DialerPhone.scriptOrigin;
    }

    connectedCallback() {
      if (this._frame) return;
      const origin = this.gatewayOrigin;
      if (!origin) {
        this._emit("error", { code: "no_gateway", message: "Set the gateway attribute." });
        return;
      }
      window.addEventListener("message", this._onMessage);
      this._syncClickToCall();
      // Ask first whether this site may embed the phone, for a clear error
      // (the gateway's frame-ancestors CSP enforces it anyway).
      fetch(origin + "/api/v1/embed/config", { credentials: "omit" })
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
        .then((config) => {
          const allowed = (config.allowed_origins || []).includes(window.location.origin);
          if (!allowed) {
            this._emit("error", {
              code: "origin_not_allowed",
              message: "The phone may not be embedded on " + window.location.origin + ".",
            });
            return;
          }
          this._mount(origin);
        })
        .catch((e) => {
          this._emit("error", { code: "unreachable", message: "Cannot reach the phone server: " + e.message });
        });
    }

    disconnectedCallback() {
      window.removeEventListener("message", this._onMessage);
      document.removeEventListener("click", this._onClick, true);
      if (this._frame) this._frame.remove();
      this._frame = null;
      this._hello = false;
      this._sentToken = null;
    }

    attributeChangedCallback(name) {
      if (name === "token") this._sendToken();
      if (name === "click-to-call") this._syncClickToCall();
    }

    // The JavaScript API.
    dial(number, options) {
      this._command("dial", { number: String(number), callerId: options && options.callerId });
    }
    hangup() {
      this._command("hangup", {});
    }
    answer() {
      this._command("answer", {});
    }
    mute(on = true) {
      this._command("mute", { on: !!on });
    }
    hold(on = true) {
      this._command("hold", { on: !!on });
    }
    sendDtmf(digits) {
      this._command("sendDtmf", { digits: String(digits) });
    }

    _mount(origin) {
      const frame = document.createElement("iframe");
      frame.src = origin + "/embed";
      frame.allow = "microphone; autoplay";
      frame.title = "Phone";
      frame.style.cssText = "border:0;width:100%;height:100%;min-height:640px;display:block;";
      if (!this.style.display) this.style.display = "block";
      if (!this.style.width) this.style.width = "360px";
      this._frame = frame;
      this.appendChild(frame);
    }

    _message(event) {
      if (!this._frame || event.source !== this._frame.contentWindow) return;
      if (event.origin !== this.gatewayOrigin) return;
      const data = event.data || {};
      if (data.type === "dialer:hello") {
        if (!this._hello) {
          this._hello = true;
          this._emit("ready", {});
        }
        this._sendToken(true);
      } else if (data.type === "dialer:event" && typeof data.name === "string") {
        this._emit(data.name, data.detail || {});
      }
    }

    _sendToken(force) {
      const token = this.getAttribute("token");
      if (!this._hello || !token || (!force && token === this._sentToken)) return;
      this._sentToken = token;
      this._post({ type: "dialer:init", token });
    }

    _command(name, args) {
      if (!this._hello) {
        this._emit("error", { code: "not_ready", message: "The phone is not ready yet." });
        return;
      }
      this._post({ type: "dialer:command", name, args });
    }

    _post(message) {
      if (this._frame && this._frame.contentWindow) {
        this._frame.contentWindow.postMessage(message, this.gatewayOrigin);
      }
    }

    _emit(name, detail) {
      this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
    }

    _syncClickToCall() {
      document.removeEventListener("click", this._onClick, true);
      if (this.hasAttribute("click-to-call") && this.isConnected) {
        document.addEventListener("click", this._onClick, true);
      }
    }

    _telClick(event) {
      if (event.defaultPrevented || event.button !== 0) return;
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      const link = event.target instanceof Element ? event.target.closest('a[href^="tel:"]') : null;
      if (!link) return;
      event.preventDefault();
      let number = link.getAttribute("href").slice(4);
      try {
        number = decodeURIComponent(number);
      } catch (_) {
        /* keep it as written */
      }
      number = number.split(";")[0];
      this.dial(number, link.dataset.callerId ? { callerId: link.dataset.callerId } : undefined);
    }
  }

  DialerPhone.scriptOrigin = (() => {
    try {
      return document.currentScript ? new URL(document.currentScript.src).origin : null;
    } catch (_) {
      return null;
    }
  })();

  customElements.define("dialer-phone", DialerPhone);
})();
