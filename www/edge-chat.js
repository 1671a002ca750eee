// <edge-chat>: a chat widget for the gateway's Rasa REST channel, embeddable with one script tag:
//
//   <script type="module" src="https://your-gateway.example/edge-chat.js"></script>
//   <edge-chat gateway="https://your-gateway.example" title="Support"></edge-chat>
//
// Attributes: gateway (default: this page's origin), title, storage ("session" | "local" | "none"),
// token (a JWT sent as Authorization: Bearer), sender (the conversation's id, e.g. a signed-in
// user's: default a random id kept in storage). For tokens that expire, set a callback instead:
//   document.querySelector("edge-chat").tokenProvider = async () => fetchMyToken();
//
// On load the widget shows the conversation kept in storage, then asks the gateway for it
// (GET /conversations/{sender}/tracker, with the same credentials): a conversation the gateway
// keeps follows its sender to another browser. A tracker it cannot read (not kept, not allowed,
// unreachable) leaves the widget as it was, with no error. Replies are asked as a stream
// (?stream=true) and each message is shown as it arrives, under a typing indicator; a plain JSON
// answer (a gateway or Rasa server that does not stream) is shown whole.
// Theming: --edge-chat-accent, --edge-chat-bg, --edge-chat-fg, --edge-chat-bot-bg, --edge-chat-user-bg,
// --edge-chat-radius, --edge-chat-font. Bot text is always rendered as text, never as HTML.

const STYLE = `
:host { --accent: var(--edge-chat-accent, #2456d6); --bg: var(--edge-chat-bg, #fff); --fg: var(--edge-chat-fg, #1b1f24);
  --bot-bg: var(--edge-chat-bot-bg, #eef1f6); --user-bg: var(--edge-chat-user-bg, var(--accent)); --radius: var(--edge-chat-radius, 14px);
  display: flex; flex-direction: column; font: 15px/1.4 var(--edge-chat-font, system-ui, sans-serif); color: var(--fg);
  background: var(--bg); border: 1px solid #d5dae1; border-radius: var(--radius); overflow: hidden;
  width: min(100%, 420px); height: min(80vh, 600px); box-sizing: border-box; }
header { display: flex; align-items: center; gap: .5rem; padding: .7rem .9rem; background: var(--accent); color: #fff; }
header h2 { font-size: 1rem; margin: 0; flex: 1; }
header button { background: transparent; color: #fff; border: 1px solid rgba(255,255,255,.6); border-radius: 8px; padding: .25rem .6rem; cursor: pointer; font: inherit; font-size: .85rem; }
[role=log] { flex: 1; overflow-y: auto; padding: .8rem; display: flex; flex-direction: column; gap: .5rem; }
.msg { max-width: 85%; padding: .5rem .75rem; border-radius: var(--radius); white-space: pre-wrap; overflow-wrap: anywhere; }
.bot { align-self: flex-start; background: var(--bot-bg); border-bottom-left-radius: 4px; }
.user { align-self: flex-end; background: var(--user-bg); color: #fff; border-bottom-right-radius: 4px; }
.msg img { max-width: 100%; border-radius: 8px; display: block; }
.buttons { display: flex; flex-wrap: wrap; gap: .4rem; margin-top: .4rem; }
.buttons button { border: 1px solid var(--accent); color: var(--accent); background: var(--bg); border-radius: 999px; padding: .3rem .8rem; cursor: pointer; font: inherit; }
.buttons button:disabled { opacity: .75; cursor: default; }
.buttons button.chosen { background: var(--accent); color: #fff; opacity: 1; }
.typing { align-self: flex-start; color: #59606b; font-style: italic; }
.error { align-self: stretch; background: #fdecec; color: #8a1c1c; border: 1px solid #f2b8b8; display: flex; gap: .5rem; align-items: center; justify-content: space-between; }
.error button { border: 1px solid #8a1c1c; background: #fff; color: #8a1c1c; border-radius: 8px; padding: .2rem .6rem; cursor: pointer; font: inherit; }
form { display: flex; gap: .5rem; padding: .6rem; border-top: 1px solid #e3e7ec; }
label.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
input { flex: 1; min-width: 0; padding: .55rem .7rem; border: 1px solid #c5ccd5; border-radius: 10px; font: inherit; }
form button { background: var(--accent); color: #fff; border: 0; border-radius: 10px; padding: .55rem 1rem; font: inherit; cursor: pointer; }
form button:disabled { opacity: .6; }
:focus-visible { outline: 3px solid #ffb000; outline-offset: 2px; }
@media (max-width: 480px) { :host { width: 100%; height: 100dvh; border-radius: 0; border: 0; } }
`;

function newSenderId() {
  return "web-" + (crypto.randomUUID ? crypto.randomUUID() : Math.random().toString(36).slice(2));
}

/** The tracker's `user` and `bot` events as the widget's entries. A bot message's buttons are
 *  spent once the user said something after it; a user line that is one of their payloads shows
 *  the button's title, as it did when it was clicked. */
function entriesOfTracker(events) {
  const entries = [];
  for (const event of events) {
    if (event.event === "bot") {
      const data = event.data || {};
      entries.push({ from: "bot", text: event.text || "", image: data.image, buttons: Array.isArray(data.buttons) ? data.buttons : undefined });
    } else if (event.event === "user") {
      const text = event.text == null ? "" : String(event.text);
      let shown = text;
      for (let i = entries.length - 1; i >= 0 && entries[i].from === "bot"; i--) {
        const entry = entries[i];
        if (!entry.buttons) continue;
        entry.used = true;
        const button = entry.buttons.find((b) => b.payload === text);
        if (button) {
          entry.chosen = button.payload;
          shown = button.title;
        }
      }
      entries.push({ from: "user", text: shown });
    }
  }
  return entries;
}

/** Reads a streamed reply's lines (one JSON message each), calling `onLine` as each arrives. */
async function readLines(response, onLine) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { done, value } = await reader.read();
    buffered += done ? decoder.decode() : decoder.decode(value, { stream: true });
    let end;
    while ((end = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, end).trim();
      buffered = buffered.slice(end + 1);
      if (line) onLine(JSON.parse(line));
    }
    if (done) break;
  }
  if (buffered.trim()) onLine(JSON.parse(buffered));
}

export class EdgeChat extends HTMLElement {
  static observedAttributes = ["title", "sender"];

  constructor() {
    super();
    this.tokenProvider = null;
    this.pending = null;
    this.sent = 0; // messages sent since the page loaded
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${STYLE}</style>
      <header><h2 id="title"></h2><button type="button" id="reset">New conversation</button></header>
      <div role="log" aria-live="polite" aria-label="Conversation" id="log" tabindex="0"></div>
      <form id="form">
        <label class="visually-hidden" for="input">Message</label>
        <input id="input" name="message" autocomplete="off" placeholder="Type a message…" aria-label="Message">
        <button type="submit" id="send">Send</button>
      </form>`;
    this.log = root.getElementById("log");
    this.input = root.getElementById("input");
    this.sendButton = root.getElementById("send");
    root.getElementById("form").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      if (text) this.send(text, text);
    });
    root.getElementById("reset").addEventListener("click", () => this.reset());
  }

  connectedCallback() {
    this.shadowRoot.getElementById("title").textContent = this.getAttribute("title") || "Chat";
    this.restore();
  }

  attributeChangedCallback(name, before, after) {
    this.shadowRoot.getElementById("title").textContent = this.getAttribute("title") || "Chat";
    if (name === "sender" && before !== after && this.state) this.restore();
  }

  get gateway() {
    return (this.getAttribute("gateway") || location.origin).replace(/\/$/, "");
  }

  get storage() {
    const kind = this.getAttribute("storage") || "session";
    try {
      return kind === "local" ? localStorage : kind === "none" ? null : sessionStorage;
    } catch {
      return null;
    }
  }

  get storageKey() {
    return "edge-chat:" + this.gateway + ":" + (this.id || "default");
  }

  /** Loads the sender id and history, or starts a conversation; then asks the gateway for it. */
  restore() {
    let state = null;
    try {
      state = JSON.parse(this.storage?.getItem(this.storageKey) || "null");
    } catch {
      state = null;
    }
    const sender = this.getAttribute("sender");
    if (sender && state?.sender !== sender) state = { sender, history: [] };
    this.state = state && state.sender ? state : { sender: newSenderId(), history: [] };
    // A sender chosen by the page belongs to its user: only the page starts another.
    this.shadowRoot.getElementById("reset").hidden = Boolean(sender);
    this.show(this.state.history);
    this.save();
    this.restoreFromTracker();
  }

  /** Shows the conversation as the gateway keeps it, unless it cannot be read or a message was
   *  sent meanwhile (the local history then stays). */
  async restoreFromTracker() {
    const state = this.state;
    const sent = this.sent;
    try {
      const headers = await this.headers();
      delete headers["content-type"];
      const url = this.gateway + "/conversations/" + encodeURIComponent(state.sender) + "/tracker";
      const response = await fetch(url, { headers });
      if (!response.ok) return;
      const tracker = await response.json();
      const entries = Array.isArray(tracker?.events) ? entriesOfTracker(tracker.events) : [];
      if (!entries.length || this.state !== state || this.sent !== sent) return;
      state.history = entries.slice(-200);
      this.show(state.history);
      this.save();
    } catch {
      // Kept by no gateway, or not reachable now: the local history stands, and sending still works.
    }
  }

  show(entries) {
    this.log.replaceChildren();
    for (const entry of entries) this.render(entry, false);
    this.scroll();
  }

  save() {
    try {
      this.storage?.setItem(this.storageKey, JSON.stringify(this.state));
    } catch {
      // A full or disabled storage only costs the history.
    }
  }

  reset() {
    this.state = { sender: newSenderId(), history: [] };
    this.log.replaceChildren();
    this.save();
    this.input.focus();
  }

  remember(entry) {
    this.state.history.push(entry);
    this.state.history = this.state.history.slice(-200);
    this.save();
  }

  async headers() {
    const headers = { "content-type": "application/json" };
    const token = this.tokenProvider ? await this.tokenProvider() : this.getAttribute("token");
    if (token) headers.authorization = "Bearer " + token;
    return headers;
  }

  /** Sends `payload` (a button's payload or the typed text), showing `shown` as the user's line. */
  async send(payload, shown) {
    if (this.pending) return;
    this.sent++;
    this.input.value = "";
    this.clearError();
    const entry = { from: "user", text: shown };
    this.render(entry, true);
    this.remember(entry);
    await this.deliver(payload);
  }

  async deliver(payload) {
    this.pending = payload;
    this.sendButton.disabled = true;
    // Announced politely while the reply is in progress; it stays below the messages as they come.
    const typing = document.createElement("div");
    typing.className = "msg typing";
    typing.setAttribute("role", "status");
    typing.textContent = "Bot is typing…";
    this.log.append(typing);
    this.scroll();
    const show = (message) => {
      const entry = { from: "bot", text: message.text, image: message.image, buttons: message.buttons };
      this.render(entry, true);
      this.remember(entry);
      this.log.append(typing);
      this.scroll();
    };
    try {
      const response = await fetch(this.gateway + "/webhooks/rest/webhook?stream=true", {
        method: "POST", headers: await this.headers(), body: JSON.stringify({ sender: this.state.sender, message: payload }),
      });
      const streamed = response.ok && response.body && (response.headers.get("content-type") || "").startsWith("text/event-stream");
      if (streamed) {
        // The last line is the error shape when the turn failed after its first messages.
        let failure = null;
        await readLines(response, (line) => {
          if (line && line.status === "failure") failure = line;
          else if (line && typeof line === "object") show(line);
        });
        if (failure) throw new Error(failure.message || "The reply failed.");
      } else {
        const body = await response.json().catch(() => null);
        if (!response.ok) throw new Error(body && body.message ? body.message : `The gateway answered ${response.status}.`);
        for (const message of Array.isArray(body) ? body : []) show(message);
      }
      this.pending = null;
    } catch (error) {
      const offline = error instanceof TypeError;
      this.showError(offline ? "The chat service cannot be reached." : error.message);
    } finally {
      typing.remove();
      this.sendButton.disabled = false;
    }
  }

  showError(text) {
    this.clearError();
    const box = document.createElement("div");
    box.className = "msg error";
    box.setAttribute("role", "alert");
    const message = document.createElement("span");
    message.textContent = text;
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => {
      const payload = this.pending;
      this.pending = null;
      this.clearError();
      if (payload !== null) this.deliver(payload);
    });
    box.append(message, retry);
    this.log.append(box);
    this.scroll();
  }

  clearError() {
    this.log.querySelectorAll(".error").forEach((node) => node.remove());
  }

  /** Appends one message. Text goes in through textContent only, so markup in replies stays text. */
  render(entry, live) {
    const node = document.createElement("div");
    node.className = "msg " + (entry.from === "user" ? "user" : "bot");
    if (entry.text) {
      const text = document.createElement("span");
      text.textContent = entry.text;
      node.append(text);
    }
    if (entry.image) {
      const image = document.createElement("img");
      image.src = entry.image;
      image.alt = "Image from the bot";
      image.loading = "lazy";
      node.append(image);
    }
    if (entry.buttons && entry.buttons.length) {
      const group = document.createElement("div");
      group.className = "buttons";
      group.setAttribute("role", "group");
      for (const button of entry.buttons) {
        const element = document.createElement("button");
        element.type = "button";
        element.textContent = button.title;
        element.disabled = Boolean(entry.chosen || entry.used);
        if (entry.chosen === button.payload) element.classList.add("chosen");
        element.addEventListener("click", () => {
          entry.chosen = button.payload;
          group.querySelectorAll("button").forEach((b) => (b.disabled = true));
          element.classList.add("chosen");
          this.save();
          this.send(button.payload, button.title);
        });
        group.append(element);
      }
      node.append(group);
    }
    this.log.append(node);
    if (live) this.scroll();
  }

  scroll() {
    this.log.scrollTop = this.log.scrollHeight;
  }
}

if (!customElements.get("edge-chat")) customElements.define("edge-chat", EdgeChat);
