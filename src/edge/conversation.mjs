// A conversation: one Durable Object per sender (CONTRACT section 8, Cloudflare's recommended
// shape: no global object, so different senders never wait for each other). It keeps the
// conversation's record (the core's JSON, opaque here) in its SQLite-backed storage and
// serialises the sender's turns; the turn itself runs in the Worker that received the message
// (src/chat/mod.rs), so this object never waits for an origin.
//
// A turn calls begin(), which waits until the turn before it has ended and answers a token and the
// record; it ends with commit(token, record, retention), which stores the successor, or abort().
// Turns begin in the order their begin() calls arrive: each waits for the one before it (a chain
// of promises). While begin() waits on that chain the object's input gate stays open, so the
// turn in progress can still commit.
//
// A turn holds the conversation for at most TURN_HOLD_MS: a Worker that fails mid-turn cannot
// block its sender for longer, and a turn that takes longer cannot commit (its reply is refused,
// nothing stored). An alarm forgets the conversation `retention` seconds after its last commit.
import { DurableObject } from "cloudflare:workers";

const TURN_HOLD_MS = 60_000;

export class Conversation extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.last = Promise.resolve(); // settles when the latest turn to begin has ended
    this.turn = null; // the turn in progress: { token, end, timer }
  }

  // Answers [token, record or null].
  async begin() {
    let end;
    const ended = new Promise((resolve) => (end = resolve));
    const previous = this.last;
    this.last = previous.then(() => ended);
    await previous;
    const token = crypto.randomUUID();
    this.turn = { token, end, timer: setTimeout(() => this.end(token), TURN_HOLD_MS) };
    try {
      return [token, (await this.ctx.storage.get("record")) ?? null];
    } catch (error) {
      this.end(token);
      throw error;
    }
  }

  // Answers whether the record was stored (false when the turn no longer holds the conversation).
  async commit(token, record, retentionSeconds) {
    if (this.turn?.token !== token) return false;
    try {
      await this.ctx.storage.put("record", record);
      await this.ctx.storage.setAlarm(Date.now() + retentionSeconds * 1000);
      return true;
    } finally {
      this.end(token);
    }
  }

  abort(token) {
    this.end(token);
  }

  // The record, without waiting for a turn in progress (the tracker).
  async read() {
    return (await this.ctx.storage.get("record")) ?? null;
  }

  end(token) {
    if (this.turn?.token !== token) return;
    clearTimeout(this.turn.timer);
    this.turn.end();
    this.turn = null;
  }

  async alarm() {
    // A turn in progress touches the conversation: its commit sets the next alarm.
    if (this.turn) await this.ctx.storage.setAlarm(Date.now() + TURN_HOLD_MS);
    else await this.ctx.storage.deleteAll();
  }
}
