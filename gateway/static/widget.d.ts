// Types for <dialer-phone>, the embedded phone (served at /widget.js).

export interface DialerErrorDetail {
  /** e.g. `token_expired`, `invalid_token`, `origin_not_allowed`,
   * `registration_failed`, `invalid_number`, `busy`, `not_ready`, `unreachable`. */
  code: string;
  message: string;
}

export interface DialerIncomingDetail {
  /** The caller's number (E.164 when known). */
  caller: string;
  callerName: string | null;
  /** The number that was dialled (the DID), for the screen pop. */
  did: string | null;
  didLabel: string | null;
}

export interface DialerNumberDetail {
  number: string;
}

export interface DialerEndedDetail {
  /** The call record's id (GET /api/v1/calls), null if it could not be found. */
  recordId: string | null;
  /** Connected time in seconds (0 if never answered). */
  duration: number;
  /** Why the call ended, in words. */
  reason: string;
  number: string;
}

export interface DialerReconnectingDetail {
  /** true: the phone lost its connection mid-call and is reconnecting (the
   * customer stays on the line); false: the call is back. */
  reconnecting: boolean;
}

export interface DialerPhoneEventMap {
  ready: CustomEvent<Record<string, never>>;
  registered: CustomEvent<Record<string, never>>;
  incoming: CustomEvent<DialerIncomingDetail>;
  ringing: CustomEvent<DialerNumberDetail>;
  connected: CustomEvent<DialerNumberDetail>;
  reconnecting: CustomEvent<DialerReconnectingDetail>;
  ended: CustomEvent<DialerEndedDetail>;
  error: CustomEvent<DialerErrorDetail>;
}

export interface DialerPhoneElement extends HTMLElement {
  /** Call a number; `callerId` must be one the agent may present. */
  dial(number: string, options?: { callerId?: string }): void;
  /** Hang up, or decline a ringing incoming call. */
  hangup(): void;
  answer(): void;
  mute(on?: boolean): void;
  hold(on?: boolean): void;
  /** Keypad tones: 0-9, *, #, A-D. */
  sendDtmf(digits: string): void;

  addEventListener<K extends keyof DialerPhoneEventMap>(
    type: K,
    listener: (this: DialerPhoneElement, ev: DialerPhoneEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ): void;
}

declare global {
  interface HTMLElementTagNameMap {
    "dialer-phone": DialerPhoneElement;
  }
}
